"""The CUDA kernels' analytical model, run on the host (no GPU): its picks on the committed H200 autotune logs stay
within the documented gap of the measured best, and every config it picks for real model shapes can launch."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# fit_model.FIT_LOGS / FIT_MERGE: the H200 logs the committed constants were fitted on (sessions 2, 3, 5 and 6).
sys.path.insert(0, str(ROOT / "tools"))
import fit_model  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not found: the model is built with it")


# model_eval: the session fixture in conftest.py (one build per test run).


def test_model_picks_stay_near_the_tuned_best(model_eval):
    exe = model_eval
    shapes = fit_model.load(fit_model.FIT_LOGS, fit_model.FIT_MERGE)
    assert len(shapes) >= 32
    mean, gaps = fit_model.score(exe, fit_model.defaults(), shapes)
    # Documented: 10.8% (session 9, with the K split's timings: 7.7% before they added faster configs to rank).
    assert mean <= 0.12, f"model picks {100 * mean:.1f}% slower than the tuned best on average (documented: 10.8%)"
    # A model that ignores the problem would pick one config everywhere; the fitted one switches kernels.
    picks = []
    out = subprocess.run([str(exe)], input=" ".join(map(str, fit_model.defaults())) + "\n" + "\n".join(
        " ".join(map(str, prob + cfg)) for prob, cands in shapes for cfg, _ in cands) + "\n",
        capture_output=True, text=True, check=True).stdout.split()
    it = iter(map(float, out))
    for prob, cands in shapes:
        pred = [next(it) for _ in cands]
        picks.append(cands[min(range(len(cands)), key=pred.__getitem__)][0][0])
    assert {5, 6} <= set(picks), picks  # the grid kernel at batch 1 and small maps, the staged kernel at batch 32 and
    # large maps (session 8: it replaced the tiled kernel's picks there)


def test_model_picks_a_launchable_config_for_every_shape_family(model_eval):
    """Strides 1/2, kernels 1/3/5/7, dilation, odd maps, batch 1 and 64, tiny and wide ranks: the pick fits the
    H100/H200 shared memory and is a config the kernels accept (the CUDA tests run such picks on a GPU)."""
    exe = model_eval
    probs = []
    for b, c, h, r1, r2, n, k, s, d in [(1, 64, 56, 32, 32, 64, 3, 1, 1), (64, 64, 56, 32, 32, 64, 3, 1, 1),
                                         (1, 128, 28, 64, 64, 128, 3, 2, 1), (8, 512, 7, 192, 160, 512, 3, 1, 1),
                                         (1, 16, 13, 4, 4, 16, 5, 2, 1), (1, 16, 13, 8, 8, 16, 7, 1, 1),
                                         (2, 32, 17, 8, 8, 32, 3, 1, 2), (1, 2048, 7, 512, 512, 2048, 3, 1, 1),
                                         (1, 8, 9, 3, 5, 10, 1, 1, 1), (4, 256, 112, 96, 96, 256, 3, 2, 1)]:
        pad = d * (k - 1) // 2
        ho = (h + 2 * pad - d * (k - 1) - 1) // s + 1
        probs.append([b, c, h, h, r1, r2, k, k, n, ho, ho, s, s, pad, pad, d, d, 0])
    out = subprocess.run([str(exe), "choose"], input="\n".join(" ".join(map(str, p)) for p in probs) + "\n",
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(out) == len(probs)
    for p, line in zip(probs, out):
        variant, th, tw, threads, nsplit, kchunk, smem = map(int, line.split())
        assert threads in (128, 256, 512) and nsplit >= 1 and kchunk % 32 == 0, (p, line)
        if variant == 5:  # the grid kernel: rows per task, warps per task (dividing the block), blocks per SM
            assert th in (1, 2, 4) and (threads // 32) % tw == 0 and nsplit <= 4 and smem == 0, (p, line)
            continue
        if variant == 6:  # the staged kernel: largest row tile, column tile; FFMA families or the fp32 channels-last
            # form (nsplit 5: ranks multiples of 8; only its 128 x 128 tile opts into more than 48 KB of shared memory)
            assert th in (32, 64, 128) and tw in (64, 128) and threads == 256 and nsplit in (1, 2, 5), (p, line)
            if nsplit == 5:
                assert p[4] % 8 == 0 and p[5] % 8 == 0 and (smem > 0) == (th == tw == 128), (p, line)
            else:
                assert smem == 0 and (nsplit == 1 or tw == 64), (p, line)
            continue
        if variant == 4:  # the WMMA kernel's fp32 form (these are fp32 picks): staged weights, 3xTF32, multiples of 16;
            # kchunk 64: its cluster split over 2 blocks (priced since session 34, where no plain tile fits)
            assert nsplit == 3 and kchunk in (32, 64) and threads == 256, (p, line)
            assert (th, tw) in (((2, 4), (4, 4), (4, 8), (8, 8)) if kchunk == 32 else ((2, 4), (4, 4), (4, 8))), (p, line)
            assert all(v % 16 == 0 for v in (p[1], p[4], p[5], p[8])) and 0 < smem <= 232448, (p, line)
            continue
        assert variant in (0, 1, 2, 3) and 1 <= th <= max(p[9], 1) and 1 <= tw <= max(p[10], 1), (p, line)
        assert variant != 3 or nsplit <= 16, (p, line)  # cluster size (non-portable limit on Hopper)
        assert 0 < smem <= 232448, (p, line)


def test_quick_tuner_shortlist(model_eval):
    """The quick tuner's shortlist (TUCKER_ONNX_TUNE=top<K>) starts with the model's pick, holds K distinct configs
    in predicted order, and on the committed logs its best measured config is near the tuned best."""
    exe = model_eval
    shapes = fit_model.load(fit_model.FIT_LOGS, fit_model.FIT_MERGE)
    probs = "\n".join(" ".join(map(str, prob)) for prob, _ in shapes) + "\n"
    def run(*args):
        return subprocess.run([str(exe), *args], input=probs, capture_output=True, text=True, check=True).stdout
    picks, lists = run("choose").splitlines(), run("shortlist", "16").splitlines()
    assert len(picks) == len(lists) == len(shapes)
    params = " ".join(map(str, fit_model.defaults()))
    for (prob, _), pick, line in zip(shapes, picks, lists):
        cfgs = [c.split() for c in line.split(" | ")]
        assert len(cfgs) == 16 and len({tuple(c) for c in cfgs}) == 16 and cfgs[0] == pick.split(), (prob, line)
        pred = subprocess.run([str(exe)], input=params + "\n" + "\n".join(
            " ".join(map(str, prob + list(map(int, c[:6])))) for c in cfgs) + "\n",
            capture_output=True, text=True, check=True).stdout.split()
        assert list(map(float, pred)) == sorted(map(float, pred)), (prob, pred)  # cheapest first
    one, _ = fit_model.score(exe, fit_model.defaults(), shapes, top=1)
    sixteen, _ = fit_model.score(exe, fit_model.defaults(), shapes, top=16)
    assert sixteen <= 0.03 and sixteen < one, (one, sixteen)  # documented: 0.0% vs 10.8% in sample


def _fp16_picks(exe, log) -> tuple[float, list]:
    """The model's mean pick gap on an fp16 staged-config log (36 shapes), and its batch-32 picks."""
    shapes = fit_model.load([log])
    assert len(shapes) == 36
    mean, _ = fit_model.score(exe, fit_model.defaults(), shapes)
    preds = fit_model.predict(exe, fit_model.defaults(), shapes)
    picks = [cands[min(range(len(cands)), key=list(p).__getitem__)][0] for (prob, cands), p in zip(shapes, preds)]
    return mean, [c for (prob, _), c in zip(shapes, picks) if prob[0] == 32]


def test_tensor_core_family_model_on_fp16_timings(model_eval):
    """The staged kernel's tensor-core family (fp16 only): on its H200 timings the model's pick stays near the
    measured best, and it is the pick on the batch-32 shapes (where it ran 1.1-2x faster than the FFMA configs)."""
    mean, batch32 = _fp16_picks(model_eval, fit_model.TC_LOG)
    assert mean <= 0.12, f"fp16 picks {100 * mean:.1f}% slower than the tuned best (documented: 7.9%)"
    assert sum(c[0] == 6 and c[4] == 3 for c in batch32) >= 16, batch32


def test_channels_last_family_model_on_fp16_timings(model_eval):
    """The channels-last tensor-core family (nsplit 4; its session-11 form): on its H200 fp16 timings (every staged
    config of both tensor-core families, 36 shapes) the model's pick stays near the measured best, and at batch 32 it
    picks the channels-last family (the fastest family on those 18 shapes). At 224x224, batch 1, it picks BM 64 x
    BN 128 (55.0 us there), not BM 128 x BN 128 (63.3 us): stage 3's epilogue writes a warp's fragments one after
    another (kNhwcEpiFragLat, session 19), and BM 128's warps hold twice as many."""
    mean, batch32 = _fp16_picks(model_eval, fit_model.NHWC_LOG)
    # 6%: the stage cost's max + a quarter of the smaller term (session 11) took this from 7.0% to 4.3%; a pure max
    # again would fail here.
    assert mean <= 0.06, f"fp16 picks {100 * mean:.1f}% slower than the tuned best (documented: 0.1%; 4.3% before session 18)"
    assert sum(c[0] == 6 and c[4] == 4 for c in batch32) >= 14, batch32
    exe = model_eval
    shapes = [s for s in fit_model.load([fit_model.NHWC_LOG]) if s[0][0] == 1 and s[0][2] == 224]
    (_, cands), = shapes
    pred = list(fit_model.predict(exe, fit_model.defaults(), shapes)[0])
    assert cands[min(range(len(cands)), key=pred.__getitem__)][0] == [6, 64, 128, 256, 4, 32]


def test_wmma_staged_weights_model_on_fp16_timings(model_eval):
    """The WMMA kernel with its weights in shared memory (session 13, one launch per layer): with its H200 timings
    (session 16: its final im2col chunks, programmatic dependent launch on, the op's default) merged into the K-split
    log, the model's pick stays near the measured best (1.9%; at batch 32 2.1%), and at batch 1 it picks that kernel on
    every shape where it ran fastest (11; session 15's constants missed 96->64@7, picking the grid kernel, 36% slower),
    and nowhere it loses by more than 10%."""
    exe = model_eval
    shapes = fit_model.load([fit_model.SPLIT_LOG], [fit_model.WMMA_LOG])
    assert len(shapes) == 36
    mean, gaps = fit_model.score(exe, fit_model.defaults(), shapes)
    assert mean <= 0.05, f"fp16 picks {100 * mean:.1f}% slower than the tuned best (documented: 1.2%)"
    # Session 17: a staged stage's blocks run in even rounds (StagedCycles); priced as full rounds, the model picked
    # BM 128 x BN 64 at batch 32 where BM 64 x BN 128 ran 8-24% faster: 4.6% here then.
    b32 = [g for (prob, _), g in zip(shapes, gaps) if prob[0] == 32]
    assert sum(b32) / len(b32) <= 0.035, f"batch-32 picks {100 * sum(b32) / len(b32):.1f}% slower (documented: 1.1%)"
    preds = fit_model.predict(exe, fit_model.defaults(), shapes)
    wmma_best = wmma_picked = wmma_wrong = 0
    for (prob, cands), p in zip(shapes, preds):
        pick, pick_ms = cands[min(range(len(cands)), key=list(p).__getitem__)]
        best, best_ms = min(cands, key=lambda ct: ct[1])
        if prob[0] == 1 and best[0] == 4:
            wmma_best += 1
            wmma_picked += pick[0] == 4
        wmma_wrong += pick[0] == 4 and pick_ms > 1.1 * best_ms
    # On session 14's log, without the PDL credit (wmma_pdl 0), it picked 8 of the 11 (checked then).
    assert wmma_best >= 10 and wmma_picked == wmma_best, (wmma_best, wmma_picked)
    # and it is not picked where it loses (a fixed chain of 1000 instead of 7000 picks it on such shapes)
    assert wmma_wrong == 0, wmma_wrong


def test_channels_last_k_split_model_on_fp16_timings(model_eval):
    """The channels-last family's cluster K split (session 12): on its H200 log (every staged config, batch 1 and 32)
    the model's pick stays near the measured best, and it picks a split config on the batch-1 shapes whose long
    reductions meet few column tiles (the split ran them up to 1.9x faster)."""
    mean, _ = _fp16_picks(model_eval, fit_model.SPLIT_LOG)
    # 7%: documented 4.6%; with the split's reduction priced at 2400 cycles instead of 300 it reads 11.6% (checked).
    assert mean <= 0.07, f"fp16 picks {100 * mean:.1f}% slower than the tuned best (documented: 1.3%)"
    exe = model_eval
    shapes = [s for s in fit_model.load([fit_model.SPLIT_LOG]) if s[0][0] == 1 and s[0][1] >= 256]  # C >= 256
    preds = fit_model.predict(exe, fit_model.defaults(), shapes)
    picks = [cands[min(range(len(cands)), key=list(p).__getitem__)][0] for (_, cands), p in zip(shapes, preds)]
    assert len(picks) == 5 and sum(c[0] == 6 and c[4] == 4 and c[5] > 32 for c in picks) >= 4, picks


def test_channels_last_batch32_model_on_session18_timings(model_eval):
    """Session 18's batch-32 log (every staged config on the 18 TDC shapes, the channels-last family with its per-stage
    split cap): the model's pick stays within 3.5% of the measured best on average, and on the 14x14 shapes it picks
    BM 128 x BN 64. Before the family's mma was priced at 8 issue slots and stage 1's single-value gathers at 8 loads
    per group, it read 5.6% here, picking BM 64 x BN 128 at 14x14 (19% slower) and BN 64 at 28x28 (8-15%)."""
    exe = model_eval
    shapes = fit_model.load([fit_model.B32_LOG])
    assert len(shapes) == 18 and all(prob[0] == 32 for prob, _ in shapes)
    mean, gaps = fit_model.score(exe, fit_model.defaults(), shapes)
    assert mean <= 0.035, f"batch-32 picks {100 * mean:.1f}% slower than the tuned best (documented: 1.0%)"
    preds = fit_model.predict(exe, fit_model.defaults(), shapes)
    for (prob, cands), p in zip(shapes, preds):
        if prob[2] == 14 and prob[4] >= 128:  # 256:128->96:256@14 and 384:192->96:384@14
            pick = cands[min(range(len(cands)), key=list(p).__getitem__)][0]
            assert pick[:3] == [6, 128, 64] and pick[4] == 4, (prob, pick)


def test_fp32_channels_last_model_on_session20_timings(model_eval):
    """The channels-last family's fp32 form (3xTF32, nsplit 5; session 20): on its H200 log (every variant-6 config at
    fp32, the 18 TDC shapes, batch 1 and 32) the model's pick stays within 3% of the measured best on average, and at
    batch 32 it never picks an FFMA staged config where this form ran 10% or more faster than every one of them.
    Priced from instruction counts (6x fp16's product issue) the model read 4.1% here and picked the FFMA families at
    28x28 and 56x56 maps with 32 ranks, where this form ran 1.3x faster."""
    exe = model_eval
    shapes = fit_model.load([fit_model.FP32_TC_LOG])
    assert len(shapes) == 36
    mean, _ = fit_model.score(exe, fit_model.defaults(), shapes)
    assert mean <= 0.03, f"fp32 picks {100 * mean:.1f}% slower than the tuned best (documented: 1.9%)"
    preds = fit_model.predict(exe, fit_model.defaults(), shapes)
    wins = 0
    for (prob, cands), p in zip(shapes, preds):
        tc = min(t for c, t in cands if c[0] == 6 and c[4] == 5)
        ffma = min(t for c, t in cands if c[0] == 6 and c[4] != 5)
        if prob[0] == 32 and tc * 1.1 <= ffma:
            wins += 1
            pick = cands[min(range(len(cands)), key=list(p).__getitem__)][0]
            assert not (pick[0] == 6 and pick[4] != 5), (prob, pick)  # (the grid kernel is picked at 7x7)
    assert wins >= 16, wins  # 18 of 18 in this log (1.17-1.56x faster than the best FFMA config)


def test_fp32_wmma_model_on_current_timings(model_eval):
    """The WMMA kernel's fp32 form (3xTF32, nsplit 3; session 21): on H200 timings of every variant-4 config at fp32
    on the 18 TDC shapes, batch 1 and 32, merged into session 20's fp32 log, then session 28's timings of the current
    kernels (both variants) merged over them, the model's pick stays within 3% of the measured best on average, and at
    batch 1 it picks this form wherever it ran 10% or more faster than everything else timed (32:32->32:64 at
    7x7-56x56, 64:64->32:128 at 28x28). wmma_tf32x3 was scanned 1-8 on session 21's log: 1-3.5 is a plateau (1.2%).
    (That log alone now reads 3.4%: its staged timings are of kernels sessions 23-27 replaced.)"""
    exe = model_eval
    shapes = fit_model.load([fit_model.FP32_TC_LOG], [fit_model.FP32_WMMA_LOG] + fit_model.FP32_S28_LOGS)
    assert len(shapes) == 36 and sum(any(c[0] == 4 for c, _ in cands) for _, cands in shapes) >= 16
    mean, _ = fit_model.score(exe, fit_model.defaults(), shapes)
    assert mean <= 0.03, f"fp32 picks {100 * mean:.1f}% slower than the tuned best (documented: 2.2%)"
    preds = fit_model.predict(exe, fit_model.defaults(), shapes)
    wins = 0
    for (prob, cands), p in zip(shapes, preds):
        wmma = [t for c, t in cands if c[0] == 4]
        rest = [t for c, t in cands if c[0] != 4]
        if prob[0] == 1 and wmma and min(wmma) * 1.1 <= min(rest):
            wins += 1
            pick = cands[min(range(len(cands)), key=list(p).__getitem__)][0]
            assert pick[0] == 4 and pick[4] == 3, (prob, pick)
    assert wins >= 3, wins


def test_fp32_model_takes_the_k_split_where_it_pays(model_eval):
    """The fp32 channels-last form at batch 32 with the pre-split core (session 27), timed on every variant-6 and
    variant-4 config (session 28): with its chain floor per warp and the pre-split priced, the model's pick stays
    within 3% of the measured best on average at batch 32 (documented: 1.9%; 4.8% before, which picked unsplit
    configs at 14x14 and 7x7 maps where a K split ran 1.12-1.75x faster: 128:128->96:256@14 took 81 us, not 66), and
    wherever a split staged config ran 10% or more faster than every unsplit one, the pick is a split one or another
    variant that ran within 5% of the best."""
    exe = model_eval
    shapes = [s for s in fit_model.load([fit_model.FP32_TC_LOG], [fit_model.FP32_WMMA_LOG] + fit_model.FP32_S28_LOGS)
              if s[0][0] == 32]
    assert len(shapes) == 18
    mean, _ = fit_model.score(exe, fit_model.defaults(), shapes)
    assert mean <= 0.03, f"fp32 batch-32 picks {100 * mean:.1f}% slower than the tuned best (documented: 1.9%)"
    splits = 0
    for (prob, cands), p in zip(shapes, fit_model.predict(exe, fit_model.defaults(), shapes)):
        split = [t for c, t in cands if c[0] == 6 and c[4] == 5 and c[5] > 32]
        unsplit = [t for c, t in cands if c[0] == 6 and c[4] == 5 and c[5] == 32]
        if split and min(split) * 1.1 <= min(unsplit):
            splits += 1
            pick, t = cands[min(range(len(cands)), key=list(p).__getitem__)]
            assert (pick[0] == 6 and pick[5] > 32) or t <= 1.05 * min(tt for _, tt in cands), (prob, pick)
    assert splits >= 5, splits  # 7 in session 28's log


def test_fp32_model_on_the_swapped_rank32_core(model_eval):
    """fp32 with the rank-32 core swapped (session 30: the WG kernel at BM 32, pixels on wgmma's M): every variant-6
    config timed on the 18 TDC shapes at batch 32 (session 30) and batch 1 (session 31), merged over session 28's
    logs. The model's pick stays within 1.5% of the measured best on average at batch 32 (documented: 0.6%; 2.2%
    before kFp32Cpi and kSwap32Bn128) and no pick there is more than 8% off (16% before, at 96:96->64:192@7), within 3%
    at batch 1 (documented: 2.2%; 3.3% before); where a rank-32 core's BN 128 config ran 5% or more faster than every
    BN 64 one at batch 32 (64:64->32:128 at 28x28: 66.7 vs 71.7 us) it picks BN 128; and at 128:64->32:128@112, batch
    1, it does not move stage 1 to the WMMA body at BM 32 (45.5 us against 41.5: kFp32Cpi on every stage did)."""
    exe = model_eval
    shapes = fit_model.load([fit_model.FP32_TC_LOG], [fit_model.FP32_WMMA_LOG] + fit_model.FP32_S28_LOGS +
                            [fit_model.FP32_S30_LOG, fit_model.FP32_S31_B1_LOG])
    b32, b1 = ([s for s in shapes if s[0][0] == b] for b in (32, 1))
    assert len(b32) == len(b1) == 18
    mean, gaps = fit_model.score(exe, fit_model.defaults(), b32)
    assert mean <= 0.015, f"fp32 batch-32 picks {100 * mean:.1f}% slower than the tuned best (documented: 0.6%)"
    assert max(gaps) <= 0.08, f"worst fp32 batch-32 pick {100 * max(gaps):.1f}% slower (documented: 5%)"
    mean, gaps = fit_model.score(exe, fit_model.defaults(), b1)
    assert mean <= 0.03, f"fp32 batch-1 picks {100 * mean:.1f}% slower than the tuned best (documented: 2.2%)"
    wide = 0
    for (prob, cands), p in zip(b32, fit_model.predict(exe, fit_model.defaults(), b32)):
        bn = {w: min((t for c, t in cands if c[0] == 6 and c[4] == 5 and c[2] == w), default=None) for w in (64, 128)}
        if prob[5] <= 32 and bn[64] and bn[128] and bn[128] * 1.05 <= bn[64]:
            wide += 1
            pick = cands[min(range(len(cands)), key=list(p).__getitem__)][0]
            assert pick[0] == 6 and pick[2] == 128, (prob, pick)
    assert wide >= 1, wide
    (pick,) = [cands[min(range(len(cands)), key=list(p).__getitem__)][0]
               for (prob, cands), p in zip(b1, fit_model.predict(exe, fit_model.defaults(), b1)) if prob[2] == 112]
    assert pick[0] == 6 and pick[1] >= 64, pick


def test_fp16_model_on_current_kernels(model_eval):
    """fp16 on the kernels as they run since session 29 (wgmma; the rank-32 stages widened to the WG kernel at BM 64):
    every variant-6 config timed beside the model's pick, 18 TDC shapes x batch 1 and 32. The model was fitted on
    logs from before both changes (sessions 11-18), yet its pick stays within 2% of the measured best on average
    (documented: 0.8%; batch 32 1.0%, batch 1 0.7%; the worst, 384:192->96:384@28 at batch 1, 11%), and at batch 32
    on the 28x28-224x224 maps, where the widened stages run, it picks the channels-last family (nsplit 4)."""
    exe = model_eval
    shapes = fit_model.load([fit_model.FP16_S29_LOG])
    assert len(shapes) == 36
    mean, gaps = fit_model.score(exe, fit_model.defaults(), shapes)
    assert mean <= 0.02, f"fp16 picks {100 * mean:.1f}% slower than the tuned best (documented: 0.8%)"
    assert max(gaps) <= 0.15, f"worst fp16 pick {100 * max(gaps):.1f}% slower (documented: 11.5%)"
    large = 0
    for (prob, cands), p in zip(shapes, fit_model.predict(exe, fit_model.defaults(), shapes)):
        if prob[0] == 32 and prob[2] >= 28:
            large += 1
            pick = cands[min(range(len(cands)), key=list(p).__getitem__)][0]
            assert pick[0] == 6 and pick[4] == 4, (prob, pick)
    assert large == 10, large


def test_tf32_model_on_session22_timings(model_eval):
    """The fp32 forms' TF32 mode (TUCKER_ONNX_TF32=1, session 22): its logs' shapes carry the mode (the op keys them
    " tf32"), the model prices a TF32 step below a 3xTF32 one, and on those logs (every staged and WMMA config beside
    the model's TF32 pick, the 18 TDC shapes, batch 1 and 32) its pick stays within 4% of the measured best on average
    (documented: 2.9%; staged_tf32 scanned 0.15-1.0, wmma_tf32 1-2.5)."""
    exe = model_eval
    shapes = fit_model.load(fit_model.TF32_LOGS[:1], fit_model.TF32_LOGS[1:])
    assert len(shapes) == 36 and all(prob[17] == 1 for prob, _ in shapes)
    mean, _ = fit_model.score(exe, fit_model.defaults(), shapes)
    assert mean <= 0.04, f"TF32 picks {100 * mean:.1f}% slower than the tuned best (documented: 2.9%)"
    plain = [(prob[:17] + [0], list(cands)) for prob, cands in shapes]  # (a new list: predict caches by list)
    cheaper = 0
    for (prob, cands), t, f in zip(shapes, fit_model.predict(exe, fit_model.defaults(), shapes),
                                   fit_model.predict(exe, fit_model.defaults(), plain)):
        for (c, _), a, b in zip(cands, t, f):
            if c[0] == 4 and c[4] == 3 or c[0] == 6 and c[4] == 5:  # the two fp32 tensor-core forms
                assert a <= b, (prob, c, a, b)  # (equal where a latency floor, not the issue, bounds a stage)
                cheaper += a < b
            elif c[0] in (4, 5, 6):
                assert a == b, (prob, c, a, b)  # the mode changes nothing else
    assert cheaper >= 400, cheaper  # 576 of 770


def test_fp32_model_on_resnet18_layers(model_eval):
    """ResNet-18's own 8 Tucker layer shapes (fp32, batch 1, the TDC ranks; session 33 timed every config of every
    variant in the model itself). The model's picks stay within 3% of the measured best on average (documented:
    0.9%; 1.7% before session 34 priced the WMMA cluster split, layer2.0's best) and 10% on any layer; the one it
    misses is layer4.0 (stride 2: the grid kernel, 7%)."""
    shapes = fit_model.load([fit_model.RESNET18_S33_LOG])
    assert len(shapes) == 8 and sum(s[0][11] == 2 for s in shapes) == 3
    mean, gaps = fit_model.score(model_eval, fit_model.defaults(), shapes)
    assert mean <= 0.03, f"ResNet-18 picks {100 * mean:.1f}% slower than the tuned best (documented: 0.9%)"
    assert max(gaps) <= 0.10, f"worst ResNet-18 pick {100 * max(gaps):.1f}% slower (documented: 7%)"
    stride1 = [g for (prob, _), g in zip(shapes, gaps) if prob[11] == 1]
    assert max(stride1) <= 0.01, stride1  # every stride-1 layer gets the measured best


def test_model_prices_the_wmma_cluster_split(model_eval):
    """Session 34's exhaustive logs of ResNet-50 (fp32) and ResNet-18 (fp16) at batch 1: the WMMA kernel's cluster
    split over 2 blocks was the fastest config on their 28x28 and 14x14 layers with ranks 32-128, where no plain WMMA
    tile fits, 6-32% ahead of everything the model priced before. Now priced, the model picks it there (ResNet-50:
    every pick the measured best; ResNet-18 fp16: 3.5% on average, its misses the plain tile shape at 28x28), and
    never prices a split where a plain tile fits (slower there in every log) nor a cluster of more than 2 blocks."""
    r50 = fit_model.load([fit_model.RESNET50_S34_LOG])
    r18 = fit_model.load([fit_model.RESNET18_FP16_S34_LOG])
    assert len(r50) == 8 and len(r18) == 8
    mean, gaps = fit_model.score(model_eval, fit_model.defaults(), r50)
    assert mean <= 0.01, f"ResNet-50 picks {100 * mean:.1f}% slower than the tuned best (documented: 0.0%; 4.0% unpriced)"
    mean16, _ = fit_model.score(model_eval, fit_model.defaults(), r18)
    assert mean16 <= 0.05, f"ResNet-18 fp16 picks {100 * mean16:.1f}% slower (documented: 3.5%; 8.9% unpriced)"
    split_picks = 0
    for shapes in (r50, r18):
        for (prob, cands), pred in zip(shapes, fit_model.predict(model_eval, fit_model.defaults(), shapes)):
            plain_fits = any(c[0] == 4 and c[5] == 32 and c[4] >= 2 and p < float("inf") for (c, _), p in zip(cands, pred))
            for (c, _), p in zip(cands, pred):
                if c[0] == 4 and c[5] > 32:
                    assert p == float("inf") or (c[5] == 64 and not plain_fits), (prob, c, p)
            pick = cands[min(range(len(cands)), key=pred.__getitem__)][0]
            split_picks += pick[0] == 4 and pick[5] == 64
    assert split_picks >= 4, split_picks  # ResNet-50: 2 layers; ResNet-18 fp16: 2 layers
