#!/usr/bin/env python3
"""Fits the analytical model's constants (ModelParams in custom_ops/src/cuda/tucker_conv_impl.cuh) to
exhaustive-autotune logs (TUCKER_ONNX_TUNE=exhaustive + TUCKER_ONNX_CONFIG_LOG), on the CPU: the model is host
code, built here into tools/model_eval with nvcc. The score is what matters to users: per shape, how much slower
the model's pick runs than the measured best, averaged over shapes (TDC's model: ~25%).
Usage: python tools/fit_model.py LOG.jsonl [LOG2.jsonl ...] [--merge VARIANT_LOG ...] [--rounds 3] [--cv] [--top 1,16]
       [--from-committed] [--only PREFIX]
The committed constants (ModelParams): session 4 fitted them from the hand-set values on the session-2/3 logs;
session 5 refitted them from there on FIT_LOGS below (--from-committed --rounds 2 --merge FIT_MERGE), and session 6
again after the grid kernel's 3x3 core began issuing 4 R1 steps of loads at once (its configs timed again, merged);
session 7 refitted cluster_cpi alone on the pick gap (--only cluster_ --objective gap --rounds 1); session 8 fitted
the staged kernel's three constants alone (--only staged_ --objective gap --rounds 2) with its timings merged;
session 9 refitted them the same way after the model began costing the core stage's K split (timed in call 1).
Session 28 set two terms of StagedCycles by hand-scanning them on FP32_S28_LOGS (the pre-split core's pricing and
fp32's chain floor, kFp32Chain), not with this fit: they are constexpr in the model, not ModelParams.
Session 31 set two more the same way (kFp32Cpi, kSwap32Bn128: fp32's WG-kernel issue and the swapped rank-32 core)
on FP32_S28_LOGS with FP32_S30_LOG and FP32_S31_B1_LOG merged over them.
--cv: leave-one-shape-out cross-validation (fit on the others, score the held-out shape): the out-of-sample gap.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NAMES = ["tiled_mem1", "tiled_mem", "tiled_sync", "tiled_fill", "tiled_launch", "splitk_step1", "splitk_step2", "splitk_step3",
         "splitk_atomic", "splitk_instr", "splitk_launch", "cluster_cpi", "cluster_cpi_staged", "cluster_mem", "cluster_sync",
         "cluster_gather", "cluster_launch", "grid_launch", "grid_sync", "grid_mem", "grid_step", "grid_reduce",
         "staged_cpi", "staged_launch", "staged_bw", "staged_mma_cpi", "staged_mma_bw",
         "staged_mma_lat", "staged_nhwc_lat", "wmma_launch", "wmma_mem", "wmma_step", "wmma_fill", "wmma_sync", "wmma_share",
         "wmma_pdl", "wmma_tf32x3", "wmma_tf32", "staged_tf32"]


# The hand-set constants the fit started from: cross-validation starts there too, so a held-out shape never
# shaped its own starting point (the committed defaults were fitted on every shape).
HAND_SET = [900, 600, 80, 4, 4000, 400, 150, 150, 30, 12, 4000, 2.0, 1.0, 1000, 400, 24, 4000,
            6000, 2000, 1500, 16, 300, 1.5, 12000, 2000, 1.5, 2000, 400, 400]


# The logs the committed constants were fitted on (session 5's refit, and session 6's): the session-2/3 exhaustive logs, session 5's
# exhaustive logs of the shapes those lacked, and, merged into the shapes those cover, the grid kernel's configs timed
# on every TDC shape.
_S5 = ROOT / "results/h200_2026-11-28_s5/call4_grid3x3_logs"
FIT_LOGS = (sorted((ROOT / "results/h200_2026-11-28_s2/autotune").glob("*.jsonl.gz")) +
            sorted((ROOT / "results/h200_2026-11-28_s3/autotune").glob("*.jsonl.gz")) +
            [_S5 / "exhaustive_b1_fp32.jsonl.gz", _S5 / "exhaustive_b32_fp32.jsonl.gz"])
# Session 6 timed every grid config again (4 R1 steps of loads in flight), batch 1 and 32: merged after session 5's.
_S6 = ROOT / "results/h200_2026-11-28_s6"
# Session 8 timed every staged config (variant 6, its final kernel) on the same shapes, batch 1 and 32; session 9
# again with the core stage's K split (kchunk 64/128), fp32 and fp16 (only the fp32 rows merge: FIT_LOGS are fp32).
FIT_MERGE = [_S5 / "variant5_fp32.jsonl.gz", _S6 / "call6_variant5_b1/variant5_fp32_b1.jsonl.gz",
             _S6 / "call7_variant5_b32/variant5_fp32_b32.jsonl.gz",
             ROOT / "results/h200_2026-11-28_s8/call6_staged_families/variant6.jsonl.gz",
             ROOT / "results/h200_2026-11-29_s9/call1_ksplit/variant6.jsonl.gz"]


# The fp16 timings of the staged kernel's tensor-core family (and its other configs) that staged_mma_* were fitted on.
TC_LOG = ROOT / "results/h200_2026-11-29_s9/call2_staged_tensor_cores/variant6.jsonl.gz"
# Session 11: every staged config timed again at fp16 with the channels-last tensor-core family (nsplit 4) in its
# final form (cp.async ring, BM 128 tiles), which staged_mma_* and staged_nhwc_lat were fitted on jointly with TC_LOG.
NHWC_LOG = ROOT / "results/h200_2026-11-29_s11/call5_nhwc_block_epilogue/variant6.jsonl.gz"
# Session 12: the same after the family's cluster K split (kchunk 64-256), batch 1 and 32; the split's reduction
# constant in StagedCycles was scanned on it.
SPLIT_LOG = ROOT / "results/h200_2026-11-29_s12/call2_k_split/variant6.jsonl.gz"
# Session 13: the WMMA kernel with its weights in shared memory (variant 4, nsplit 2), every tile shape timed next to
# the model's pick at batch 1 and 32 (TUCKER_ONNX_TUNE=variant4); merged into SPLIT_LOG (fit_model.load(merge=...)).
# Session 14 timed the same with programmatic dependent launch on (the op's default on Hopper), which wmma_pdl was
# set on (session 13's log, before PDL: results/h200_2026-11-29_s13/call10_model_picks/variant4.jsonl.gz; session 14's:
# results/h200_2026-11-29_s14/call6_wmma_pdl_log/variant4.jsonl.gz). Session 16 timed the kernel again after its
# im2col chunks grew (WmmaChunkR1), and refitted wmma_launch on that log (results/h200_2026-11-30_s16/model_fit_wmma.txt).
WMMA_LOG = ROOT / "results/h200_2026-11-30_s16/call4_chunks_two_per_sm/variant4.jsonl.gz"
# Session 18: every staged config timed again at batch 32 (fp16, the 18 TDC shapes) with the channels-last family's
# per-stage split cap (StagedNhwcStageSplit), which the family's mma issue and stage 1's single-value gathers were
# set on (StagedCycles; scanned, results/NOTES.md session 18).
B32_LOG = ROOT / "results/h200_2026-11-30_s18/call6_split_rule/variant6.jsonl.gz"
# Session 20: every variant-6 config timed at fp32 (the FFMA families and the channels-last family's 3xTF32 form,
# nsplit 5) on the 18 TDC shapes, batch 1 and 32, which that form's product and split issue were scanned on.
FP32_TC_LOG = ROOT / "results/h200_2026-11-30_s20/call5_variant6_fp32/variant6.jsonl.gz"
# Session 21: every variant-4 config at fp32 (the WMMA kernel's 3xTF32 form, nsplit 3, its warps splitting reductions of
# >= 16 steps) on the same shapes, merged into FP32_TC_LOG: wmma_tf32x3 was scanned on it.
FP32_WMMA_LOG = ROOT / "results/h200_2026-11-30_s21/call4_wmma_fp32_rule/variant4.jsonl.gz"
# Session 22: the TF32 mode (TUCKER_ONNX_TF32=1), every staged (variant 6) and WMMA (variant 4) config beside the
# model's pick on the 18 TDC shapes, batch 1 and 32: wmma_tf32 and staged_tf32 were scanned on them (load(TF32_LOGS[:1],
# TF32_LOGS[1:])).
_S22 = ROOT / "results/h200_2026-11-30_s22/call3_tf32_models_logs"
TF32_LOGS = [_S22 / "variant6_tf32.jsonl.gz", _S22 / "variant4_tf32.jsonl.gz"]
# Session 28: every variant-6 config (batch 1 and 32) and every variant-4 config (both) timed again at fp32 with the
# library of session 27 (stage 1 on wgmma with B in registers, the pre-split core): the pre-split pricing and the fp32
# per-warp chain floor (kFp32Chain) in StagedCycles were set on them, merged into FP32_TC_LOG (the shapes' other
# variants, not timed again).
_S28 = ROOT / "results/h200_2026-12-01_s28"
FP32_S28_LOGS = [_S28 / "call2/variant4_fp32.jsonl.gz", _S28 / "call2/variant6_fp32_b1.jsonl.gz",
                 _S28 / "call1/variant6_fp32_b32.jsonl.gz"]
# Session 29: every variant-6 config timed at fp16, batch 32 and 1, on the 18 TDC shapes with the current kernels
# (wgmma, and the rank-32 stages widened to the WG kernel at BM 64, StagedWgBm32, fp16's default since that session)
# and the model's pick beside them (a variant-4 pick timed too). Nothing was refitted on it: the picks were within 1%.
FP16_S29_LOG = ROOT / "results/h200_2026-12-01_s29/call3/variant6_fp16.jsonl.gz"
# Session 30: every variant-6 config timed at fp32, batch 32, on the 18 TDC shapes with fp32's rank-32 core swapped
# (StagedCoreSwap, the WG kernel at BM 32), merged over FP32_S28_LOGS: session 31 set kFp32Cpi and kSwap32Bn128
# (StagedCycles) on it, with FP32_S31_B1_LOG (the same at batch 1, session 31) merged after it.
FP32_S30_LOG = ROOT / "results/h200_2026-12-01_s30/call2/variant6.jsonl.gz"
FP32_S31_B1_LOG = ROOT / "results/h200_2026-12-01_s31/call1/variant6_fp32_b1.jsonl.gz"
# Session 33: every config of every variant timed on ResNet-18's own layers (fp32, batch 1, TDC ranks, at the model's
# first run under TUCKER_ONNX_TUNE=exhaustive), its three stride-2 layers among them: the only stride-2 timings here.
RESNET18_S33_LOG = ROOT / "results/h200_2026-12-02_s33/call4/tune.jsonl.gz"
# Session 34: the same at batch 1 for ResNet-50 fp32 and ResNet-18 fp16 (tools/gpu_tune_logs.sh), which the WMMA
# kernel's cluster split (kWmmaClusterBarrier, kWmmaModelCluster in WmmaCycles) was scanned on.
_S34 = ROOT / "results/h200_2026-12-02_s34/call2"
RESNET50_S34_LOG = _S34 / "tune_resnet50_fp32_b1.jsonl.gz"
RESNET18_FP16_S34_LOG = _S34 / "tune_resnet18_fp16_b1.jsonl.gz"


def defaults() -> list[float]:
    text = (ROOT / "custom_ops/src/cuda/tucker_conv_impl.cuh").read_text()
    return [float(re.search(rf"double {n} = ([0-9.]+);", text).group(1)) for n in NAMES]


def build(out: Path) -> Path:
    src = ROOT / "custom_ops/src/cuda"
    sources = [ROOT / "tools/model_eval.cu"] + [src / f for f in ("tucker_conv_model.cc", "tucker_conv_tiled.cu",
                                                                  "tucker_conv_splitk.cu", "tucker_conv_cluster.cu",
                                                                  "tucker_conv_wmma.cu", "tucker_conv_grid.cu",
                                                                  "tucker_conv_staged.cu", "tucker_conv_staged_nhwc.cu")]
    # -diag-suppress 177: device helpers unused where the default architecture compiles the Hopper kernels out
    subprocess.run(["nvcc", "-std=c++17", "-O2", "-diag-suppress", "177", f"-I{src}", *map(str, sources), "-o", str(out)],
                   check=True)
    return out


def problem(key: str) -> list[int]:
    m = re.search(r"b(\d+) c(\d+) h(\d+) w(\d+) r1=(\d+) r2=(\d+) k(\d+)x(\d+) n(\d+) s(\d+),(\d+) p(\d+),(\d+) d(\d+),(\d+)", key)
    b, c, h, w, r1, r2, kh, kw, n, sh, sw, pt, pl, dh, dw = map(int, m.groups())
    ho = (h + 2 * pt - dh * (kh - 1) - 1) // sh + 1  # the benchmarks pad symmetrically
    wo = (w + 2 * pl - dw * (kw - 1) - 1) // sw + 1
    tf32 = int(key.endswith(" tf32"))  # the op's TF32 mode (Problem::tf32) keys its shapes so
    return [b, c, h, w, r1, r2, kh, kw, n, ho, wo, sh, sw, pt, pl, dh, dw, tf32]


def load(paths, merge=()) -> list[tuple[list[int], list[tuple[list[int], float]]]]:
    """Per shape, its timed configs. A later log's entry for a shape replaces an earlier one's; a log in `merge` (one
    kernel's timings, TUCKER_ONNX_TUNE=variant<V>) adds its configs to the shape's earlier timings instead (a config
    timed again takes the new time), and is skipped for shapes no earlier log timed fully."""
    shapes = {}
    for path in list(paths) + list(merge):
        for line in (gzip.open(path, "rt") if str(path).endswith(".gz") else open(path)):
            r = json.loads(line)
            # Cluster configs that stage weights (variant 3, kchunk 64) are forced-only, not model candidates.
            cands = [(x[:6], x[6]) for x in r["timings_ms"] if not (x[0] == 3 and x[5] == 64)]
            # A config timed twice in one line (a variant<V> log times the model's pick first, then again as one of
            # V's configs) keeps its faster time: the two differed by up to 1.4x at 8-11 us (session 14).
            fastest = {}
            for c, t in cands:
                fastest[tuple(c)] = min(t, fastest.get(tuple(c), t))
            cands = [(list(c), t) for c, t in fastest.items()]
            if not cands or len(r["model"]) != 6:
                continue
            if path in merge:
                if r["key"] not in shapes:
                    continue
                new = {tuple(c): t for c, t in cands}
                old = [(c, t) for c, t in shapes[r["key"]][1] if tuple(c) not in new]
                cands = old + cands
            shapes[r["key"]] = (problem(r["key"]), cands)
    return list(shapes.values())


def shortlist(pred: list[float], top: int) -> list[int]:
    """The configs the quick tuner measures: the model's K cheapest. Mirrors Shortlist() in tucker_conv_model.cc."""
    return sorted(range(len(pred)), key=pred.__getitem__)[:top]


# Per shape's candidate list: the model_eval input lines, built once. The entry keeps the list alive, and a hit must be
# that very list: keyed by id() alone, a freed list's id was reused by another log's list in the same process (the
# two fp16 model tests failed together, passed alone: session 10).
_TEXT: dict[int, tuple[list, str]] = {}


def predict(exe: Path, params: list[float], shapes) -> list[np.ndarray]:
    """Predicted cycles of every logged config, per shape (one model_eval run for all shapes)."""
    body = []
    for prob, cands in shapes:
        hit = _TEXT.get(id(cands))
        if hit is None or hit[0] is not cands:
            hit = _TEXT[id(cands)] = (cands, "\n".join(" ".join(map(str, prob + cfg)) for cfg, _ in cands))
        body.append(hit[1])
    text = " ".join(map(str, params)) + "\n" + "\n".join(body) + "\n"
    out = np.array(subprocess.run([str(exe)], input=text, capture_output=True, text=True, check=True).stdout.split(),
                   dtype=float)
    ends = np.cumsum([len(c) for _, c in shapes])
    return np.split(out, ends[:-1])


def score(exe: Path, params: list[float], shapes, detail: bool = False, top: int = 1) -> tuple[float, list[float]]:
    """Mean gap of the model's pick; with top=K, of the best measured among the model's K cheapest configs
    (what the quick tuning mode, TUCKER_ONNX_TUNE=top<K>, measures)."""
    gaps = []
    for (prob, cands), p in zip(shapes, predict(exe, params, shapes)):
        pick = min(shortlist(list(p), top), key=lambda i: cands[i][1])
        best = min(t for _, t in cands)
        gaps.append(cands[pick][1] / best - 1)
        if detail:
            b = min(range(len(cands)), key=lambda i: cands[i][1])
            print(f"  {prob[:11]}: pick {cands[pick][0]} {cands[pick][1] * 1e3:.1f} us, best {cands[b][0]} "
                  f"{cands[b][1] * 1e3:.1f} us (+{100 * gaps[-1]:.0f}%)")
    return sum(gaps) / len(gaps), gaps


def log_misfit(exe: Path, params: list[float], shapes) -> float:
    """Smooth alternative objective: per shape, the variance of log(predicted / measured) over the configs within
    3x of the best (a free per-shape scale: only the order matters), averaged over shapes. It uses every timing,
    not one pick per shape, so it should overfit less."""
    total = 0.0
    for (_, cands), p in zip(shapes, predict(exe, params, shapes)):
        t = np.array([c[1] for c in cands])
        near = (t <= 3 * t.min()) & np.isfinite(p) & (p > 0)
        if near.sum() < 2:
            total += 10.0
            continue
        total += float(np.var(np.log(p[near]) - np.log(t[near])))
    return total / len(shapes)


def fit(exe: Path, params: list[float], shapes, rounds: int, log: bool = False,
        objective: str = "gap", only: str = "") -> tuple[list[float], float]:
    """Coordinate search: each constant (those whose name starts with `only`) scaled by a few factors, kept when the
    objective falls."""
    f_obj = (lambda q: score(exe, q, shapes)[0]) if objective == "gap" else (lambda q: log_misfit(exe, q, shapes))
    best = f_obj(params)
    for _ in range(rounds):
        for i in [i for i, n in enumerate(NAMES) if n.startswith(tuple(only.split(",")))]:
            for f in (0.25, 0.5, 0.8, 1.25, 2.0, 4.0):
                trial = list(params)
                trial[i] *= f
                s = f_obj(trial)
                if s < best - 1e-4:
                    best, params = s, trial
        if log:
            print(f"round: {objective} {best:.4f}  " + ", ".join(f"{n}={v:g}" for n, v in zip(NAMES, params)))
    return params, best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--merge", nargs="*", default=[], help="logs of one kernel's configs (TUCKER_ONNX_TUNE=variant<V>, "
                    "tools/gpu_variant_log.sh) added to the shapes the other logs timed")
    ap.add_argument("--only", default="", help="fit only the constants whose name starts with this (e.g. grid_; several separated by commas), "
                    "from the committed values of the others")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cv", action="store_true", help="leave-one-shape-out cross-validation")
    ap.add_argument("--objective", choices=["gap", "logfit"], default="logfit", help="what the fit minimises: the "
                    "log misfit of every config within 3x of each shape's best (the committed constants), or the "
                    "mean pick gap (session 3; it overfits)")
    ap.add_argument("--from-committed", action="store_true", help="start the fit from the committed constants "
                    "rather than the hand-set ones (which the cross-validation and the committed fit start from)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="cross-validation folds run in parallel")
    ap.add_argument("--separate", action="store_true", help="each log's shapes count on their own (a shape timed in "
                    "two logs counts twice, with each log's configs): e.g. a log without a family and one with it, so "
                    "the fit serves shapes where the family cannot run too")
    ap.add_argument("--top", default="1", help="score the best measured among the model's K cheapest configs (the "
                    "quick tuner's shortlist); several K separated by commas (e.g. 1,8,32) are scored on the same fits")
    a = ap.parse_args()
    shapes = [s for log in a.logs for s in load([log], a.merge)] if a.separate else load(a.logs, a.merge)
    with tempfile.TemporaryDirectory() as d:
        exe = build(Path(d) / "model_eval")
        params = defaults()
        tops = [int(k) for k in a.top.split(",")]
        print(f"{len(shapes)} shapes; current constants: "
              + ", ".join(f"top {k} mean gap {100 * score(exe, params, shapes, top=k)[0]:.1f}%" for k in tops))
        if a.cv:
            def fold(i):  # fit without shape i, score shape i
                # With --only, the other constants stay the committed ones (fitted on every shape, the held-out one
                # too): a partly in-sample check of refitting those constants alone.
                start = list(params) if a.only else list(HAND_SET)
                p, _ = fit(exe, start, shapes[:i] + shapes[i + 1:], a.rounds, objective=a.objective, only=a.only)
                gaps = {k: score(exe, p, shapes[i:i + 1], top=k)[0] for k in tops}
                print(f"  held out {shapes[i][0][:11]}: " + ", ".join(f"top {k} +{100 * g:.1f}%" for k, g in gaps.items()),
                      flush=True)
                return gaps
            with ThreadPoolExecutor(a.jobs) as pool:  # the folds run model_eval processes side by side
                folds = list(pool.map(fold, range(len(shapes))))
            held = {k: [f[k] for f in folds] for k in tops}
            for k, h in held.items():
                print(f"cross-validated (leave one shape out, {a.rounds} round(s), fit on {a.objective}), top {k}: mean gap "
                      f"{100 * sum(h) / len(h):.1f}%, median {100 * sorted(h)[len(h) // 2]:.1f}%, worst {100 * max(h):.1f}%")
            return
        params, _ = fit(exe, params if a.from_committed or a.only else list(HAND_SET), shapes, a.rounds, log=True,
                        objective=a.objective, only=a.only)
        for k in tops:
            s, gaps = score(exe, params, shapes, detail=k == 1, top=k)
            print(f"fitted, top {k}: mean gap {100 * s:.1f}%, median {100 * sorted(gaps)[len(gaps) // 2]:.1f}%, "
                  f"worst {100 * max(gaps):.1f}%")
        # PredictMicros' scale (kMeasuredPerPredicted): measured / predicted time of each shape's pick, at 1.98 GHz.
        ratios = sorted(cands[int(np.argmin(p))][1] * 1e3 / (p.min() / 1.98e3)
                        for (_, cands), p in zip(shapes, predict(exe, params, shapes)))
        print(f"measured/predicted time of the picks: median {ratios[len(ratios) // 2]:.2f}, "
              f"range {ratios[0]:.2f}-{ratios[-1]:.2f}")

if __name__ == "__main__":
    main()
