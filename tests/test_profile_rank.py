"""profile and rank on the CPU: real measurements, an exactly solved optimiser, a cache that invalidates."""
import itertools
import json

import numpy as np
import onnx
import pytest
from click.testing import CliRunner

from tucker_onnx.cli.main import cli
from tucker_onnx.errors import TuckerOnnxError
from tucker_onnx.rank import latency as lat_mod
from tucker_onnx.rank.select import Option, solve
from tucker_onnx.zoo import export_torchvision


@pytest.fixture(scope="module")
def r18(tmp_path_factory):
    d = tmp_path_factory.mktemp("prof")
    p = d / "r18.onnx"
    export_torchvision("resnet18", p, image_size=64, num_classes=10)
    return p


def test_per_layer_times_add_up_to_the_model_time(r18):
    """Each node timed alone (minus an empty Run) sums to the model's median within the stated 30% margin, on one
    intra-op thread (with a thread pool, the hand-offs isolation cannot see add 20-30% on 2 cores, more under load)."""
    from tucker_onnx.model_io import load_model
    from tucker_onnx.profile.profiler import profile_model
    rep = profile_model(load_model(r18), provider="cpu", repeats=40, layer_repeats=15, library=False, threads=1)
    ratio = rep["layers_sum_vs_model"]
    assert 0.7 < ratio < 1.3, ratio
    convs = [l for l in rep["layers"] if l["op"] == "Conv"]
    assert len(convs) == 20 and all(l["ms"] > 0 for l in convs)
    assert abs(sum(l["share"] for l in rep["layers"]) - 1) < 1e-6


def test_profile_cli_renders_every_format(r18, tmp_path):
    out = tmp_path / "p"
    r = CliRunner().invoke(cli, ["profile", str(r18), "--provider", "cpu", "--repeats", "5", "--layer-repeats", "3",
                                 "--compare", str(r18), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "median" in r.output and "speed-up" in r.output and "share %" in r.output
    rep = json.loads((tmp_path / "p.json").read_text())
    assert rep["environment"]["provider"] == "cpu" and rep["latency"]["repeats"] == 5
    assert (tmp_path / "p.csv").read_text().startswith("name,op,shape,ranks,ms,share_pct")
    assert "| layer | op |" in (tmp_path / "p.md").read_text()
    for png in ("p.png", "p_vs.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"


def _brute(options, energy=None, max_ms=None, unit=1e-3):
    best = None
    n = len(options)
    for combo in itertools.product(*[range(len(o)) for o in options]):
        ms = sum(options[i][k].ms for i, k in enumerate(combo))
        deficit = sum(np.ceil(round((1 - options[i][k].energy) / unit, 9)) for i, k in enumerate(combo))
        if energy is not None:
            if deficit > np.floor(round(n * (1 - energy) / unit, 9)):
                continue
            key = (ms,)
        else:
            if ms > max_ms + 1e-12:
                continue
            key = (deficit,)
        if best is None or key < best[0]:
            best = (key, combo)
    return best


def test_unreachable_latency_target_names_the_fastest_plan():
    """A target no plan meets fails in one line that says how close the fastest plan came, so the user knows how far
    to lower --speedup."""
    options = [[Option("dense", 2.0, 1.0), Option("32,32", 1.5, 0.8)], [Option("dense", 1.0, 1.0), Option("16,16", 0.7, 0.6)]]
    with pytest.raises(TuckerOnnxError, match=r"target \(1\.0000 ms .*fastest plan measured 2\.2000 ms\); lower --speedup"):
        solve(options, max_ms=1.0)


@pytest.mark.parametrize("seed", range(12))
def test_optimiser_finds_the_exhaustive_optimum(seed):
    rng = np.random.default_rng(seed)
    options = []
    for _ in range(rng.integers(2, 5)):
        dense = float(rng.uniform(1, 3))
        opts = [Option("dense", dense, 1.0)]
        for j in range(rng.integers(1, 4)):
            opts.append(Option(f"c{j}", float(rng.uniform(0.2, dense)), float(np.round(rng.uniform(0.3, 0.99), 3))))
        options.append(opts)
    for energy in (0.5, 0.7, 0.9):
        want = _brute(options, energy=energy)
        if want is None:
            continue
        got = solve(options, energy=energy)
        got_ms = sum(options[i][k].ms for i, k in enumerate(got))
        assert abs(got_ms - want[0][0]) < 1e-9
        assert np.mean([options[i][k].energy for i, k in enumerate(got)]) >= energy - 1e-9
    dense_ms = sum(o[0].ms for o in options)
    for s in (1.1, 1.5, 2.0):
        want = _brute(options, max_ms=dense_ms / s)
        if want is None:
            with pytest.raises(Exception):
                solve(options, max_ms=dense_ms / s)
            continue
        got = solve(options, max_ms=dense_ms / s)
        assert sum(options[i][k].ms for i, k in enumerate(got)) <= dense_ms / s + 1e-9
        deficit = sum(np.ceil(round((1 - options[i][k].energy) / 1e-3, 9)) for i, k in enumerate(got))
        assert deficit == want[0][0]


def test_cache_reused_and_invalidated(r18, tmp_path, monkeypatch):
    cache = tmp_path / "cache.json"
    plan = tmp_path / "plan.json"
    args = ["rank", str(r18), "-o", str(plan), "--energy", "0.5", "--step", "128", "--repeats", "3", "--provider", "cpu",
            "--cache", str(cache)]
    r1 = CliRunner().invoke(cli, args)
    assert r1.exit_code == 0, r1.output
    meta1 = json.loads(plan.read_text())["meta"]
    assert meta1["cache"]["misses"] > 0
    CliRunner().invoke(cli, args)
    meta2 = json.loads(plan.read_text())["meta"]
    assert meta2["cache"]["misses"] == 0 and meta2["cache"]["hits"] == meta1["cache"]["hits"] + meta1["cache"]["misses"]
    monkeypatch.setattr(lat_mod, "device_signature", lambda provider: "some other device")
    CliRunner().invoke(cli, args)
    assert json.loads(plan.read_text())["meta"]["cache"]["misses"] == meta1["cache"]["misses"]
    monkeypatch.undo()
    monkeypatch.setattr(lat_mod, "library_fingerprint", lambda: "rebuilt-library")
    lat_mod_timer = lat_mod.Timer("cpu", library=True, cache_path=cache)
    assert lat_mod_timer.cache.entries == {}  # a new library means new measurements


def test_rank_plan_feeds_decompose_and_respects_speedup(r18, tmp_path):
    plan = tmp_path / "plan.json"
    r = CliRunner().invoke(cli, ["rank", str(r18), "-o", str(plan), "--speedup", "1.1", "--step", "32", "--repeats", "7",
                                 "--provider", "cpu", "--no-cache"])
    assert r.exit_code == 0, r.output
    p = json.loads(plan.read_text())
    assert p["meta"]["predicted_speedup"] >= 1.1 - 1e-9
    v = p["meta"]["verify"]  # the planned model, built and measured against the original
    if p["layers"]:
        assert "verified: original" in r.output and v["planned_ms"] > 0
        assert v["measured_speedup"] == pytest.approx(v["original_ms"] / v["planned_ms"])
    assert (tmp_path / "plan_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "plan_report.md").read_text().startswith("# Rank plan for ")
    assert not list(tmp_path.glob(".*.tmp"))  # every output written through a temporary file, none left behind
    if p["layers"]:
        out = tmp_path / "tk.onnx"
        r = CliRunner().invoke(cli, ["decompose", str(r18), str(out), "--plan", str(plan)])
        assert r.exit_code == 0, r.output
        assert sum(n.op_type == "Conv" for n in onnx.load(str(out)).graph.node) == 20 + 2 * len(p["layers"])


def test_rank_measures_triplets_and_rewrite_honours_unfused(library, r18, tmp_path):
    """With the library, each candidate also runs as three Convs; the faster counts, and where that is the
    triplet the plan lists the layer as unfused, so `rewrite --plan` leaves exactly those chains alone."""
    from tucker_onnx.model_io import load_model
    from tucker_onnx.rank.plan import rank_model
    res = rank_model(load_model(r18), "cpu", energy=0.6, step=128, repeats=3, library=True)
    chosen = [r for r in res["rows"] if r["choice"] != "dense"]
    assert chosen, "energy 0.6 must decompose some layer"
    for r in chosen:
        assert r["chosen_ms"] == min(r["fused_ms"], r["triplet_ms"])
        assert (r["layer"] in res["unfused"]) == (r["triplet_ms"] < r["fused_ms"])
    # A hand-written plan: decompose two layers, keep the first as a triplet.
    names = [r["layer"] for r in res["rows"]][:2]
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"layers": {n: [32, 32] for n in names}, "unfused": names[:1]}))
    tk, fused = tmp_path / "tk.onnx", tmp_path / "fused.onnx"
    assert CliRunner().invoke(cli, ["decompose", str(r18), str(tk), "--plan", str(plan)]).exit_code == 0
    r = CliRunner().invoke(cli, ["rewrite", str(tk), str(fused), "--plan", str(plan)])
    assert r.exit_code == 0, r.output
    nodes = onnx.load(str(fused)).graph.node
    assert [n.name for n in nodes if n.op_type == "TuckerConv"] == [f"{names[1]}/tucker_core/TuckerConv"]
    assert {f"{names[0]}/tucker_{s}" for s in ("in", "core", "out")} <= {n.name for n in nodes}
    r = CliRunner().invoke(cli, ["rewrite", str(tk), str(fused), "--plan", str(plan), "--dry-run"])
    assert "kept unfused: its three Convs measured faster" in r.output
    # A plan that keeps every chain unfused: the output is the decomposed model, unchanged, and the check passes.
    plan.write_text(json.dumps({"layers": {n: [32, 32] for n in names}, "unfused": names}))
    fused.unlink()
    r = CliRunner().invoke(cli, ["rewrite", str(tk), str(fused), "--plan", str(plan)])
    assert r.exit_code == 0 and "fused 0 chain(s)" in r.output and "check PASSED" in r.output, r.output
    assert [n.op_type for n in onnx.load(str(fused)).graph.node] == [n.op_type for n in onnx.load(str(tk)).graph.node]


def test_rank_bad_inputs(r18, tmp_path):
    r = CliRunner().invoke(cli, ["rank", str(r18), "-o", str(tmp_path / "x.json"), "--provider", "cpu"])
    assert r.exit_code == 1 and "exactly one of --energy or --speedup" in r.output
    r = CliRunner().invoke(cli, ["rank", str(r18), "-o", str(tmp_path / "x.json"), "--energy", "2", "--provider", "cpu"])
    assert r.exit_code == 1 and "--energy" in r.output and not (tmp_path / "x.json").exists()


def test_hosvd_energy_table_matches_a_direct_truncation():
    from tucker_onnx.rank.candidates import hosvd_energy_table
    rng = np.random.default_rng(3)
    w = rng.standard_normal((12, 10, 3, 3))
    table = hosvd_energy_table(w)
    for r_out, r_in in ((3, 4), (12, 10), (1, 1), (7, 2)):
        a0, a1 = w.reshape(12, -1), w.transpose(1, 0, 2, 3).reshape(10, -1)
        u_out = np.linalg.svd(a0)[0][:, :r_out]
        u_in = np.linalg.svd(a1)[0][:, :r_in]
        core = np.einsum("ncij,na,cb->abij", w, u_out, u_in)
        assert abs(table[r_out, r_in] - (core ** 2).sum() / (w ** 2).sum()) < 1e-9
    assert abs(table[12, 10] - 1) < 1e-9


def test_rewrite_measure_fuses_exactly_the_chains_measured_faster(library, r18, tmp_path):
    """On the CPU the library's kernel usually loses to ORT's convs; whatever the numbers, the output fuses
    exactly the chains whose fused time it printed as faster, and the check passes."""
    import re
    tk, out = tmp_path / "tk.onnx", tmp_path / "out.onnx"
    assert CliRunner().invoke(cli, ["decompose", str(r18), str(tk), "--ratio", "0.25"]).exit_code == 0
    r = CliRunner().invoke(cli, ["rewrite", str(tk), str(out), "--measure", "--provider", "cpu"])
    assert r.exit_code == 0, r.output
    lines = re.findall(r"^(\S+): fused ([0-9.]+) ms, three Convs ([0-9.]+) ms on cpu -> (fuse|keep)$", r.output, re.M)
    assert len(lines) == 16
    for _, f, t, verdict in lines:
        assert (verdict == "fuse") == (float(f) <= float(t))
    fused = {n.name.removesuffix("/TuckerConv") for n in onnx.load(str(out)).graph.node if n.op_type == "TuckerConv"}
    assert fused == {name for name, _, _, v in lines if v == "fuse"}


def test_time_model_falls_back_when_ort_cannot_capture_a_cuda_graph(monkeypatch):
    """ORT's CUDA Concat takes at most 32 inputs under graph capture (DenseNet-201): time_model must time the
    model again without graphs and say so; other errors still surface."""
    from tucker_onnx.profile import timing

    opened = []

    class FakeSession:
        def __init__(self, graph):
            self.graph = graph

    def fake_open(model, provider, library=True, cuda_graph=False, threads=0):
        opened.append(cuda_graph)
        return FakeSession(cuda_graph)

    def fake_measure(sess, feeds, warmup, repeats, provider, cold=False):
        if sess.graph:
            raise RuntimeError("[ONNXRuntimeError] : 1 : FAIL : concat.cc:99 ComputeInternal CUDA Concat supports "
                               "at most 32 inputs during CUDA Graph capture, but got 33 inputs.")
        return timing.Latency(warmup, repeats, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0)

    monkeypatch.setattr(timing, "open_session", fake_open)
    monkeypatch.setattr(timing, "measure", fake_measure)
    lat, graph, note, _ = timing.time_model(None, {}, "cuda", True, True)
    assert opened == [True, False] and graph is False and lat.median_ms == 1.0
    assert "CUDA graphs off" in note and "32 inputs" in note
    opened.clear()
    lat, graph, note, _ = timing.time_model(None, {}, "cuda", True, False)  # no graphs asked: no retry, no note
    assert opened == [False] and note is None

    def broken(sess, *a, **k):
        raise RuntimeError("out of memory")
    monkeypatch.setattr(timing, "measure", broken)
    with pytest.raises(RuntimeError, match="out of memory"):
        timing.time_model(None, {}, "cuda", True, True)


def test_rank_skips_fused_candidates_the_model_rules_out(library, r18, monkeypatch):
    """With the analytical model on, a fused candidate predicted at over PRUNE_FACTOR x the dense conv is not
    measured: only its three Convs are, and the plan says why."""
    from tucker_onnx.model_io import load_model
    from tucker_onnx.rank import plan as plan_mod
    calls = []
    monkeypatch.setattr(plan_mod, "_predicted_fused_ms", lambda lay, c, b: calls.append(c) or 1e9)
    res = plan_mod.rank_model(load_model(r18), "cpu", energy=0.6, step=128, repeats=3, library=True,
                              prune_with_model=True)
    assert calls and res["fused_pruned_by_model"] == len(calls)
    chosen = [r for r in res["rows"] if r["choice"] != "dense"]
    assert chosen and all(r["fused_ms"] is None and "predicts the fused op cannot win" in r["note"] for r in chosen)
    assert set(res["unfused"]) == {r["layer"] for r in chosen}


def test_the_library_predicts_fused_times_on_the_host(library):
    """The CUDA kernel's analytical model answers without a GPU (None for a CPU-only build)."""
    from tucker_onnx.run.library import get_library_path, predict_fused_ms
    import ctypes
    if not ctypes.CDLL(get_library_path()).TuckerOnnxHasCuda():
        assert predict_fused_ms(1, 64, 7, 7, 32, 32, 64, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1)) is None
        return
    small = predict_fused_ms(1, 64, 7, 7, 32, 32, 64, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1))
    big = predict_fused_ms(32, 64, 56, 56, 32, 32, 64, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1))
    strided = predict_fused_ms(32, 64, 56, 56, 32, 32, 64, 3, 3, (2, 2), (1, 1, 1, 1), (1, 1))
    assert 0 < small < big and 0 < strided < big  # ms; a 64x larger problem takes longer, stride 2 less
    assert 0.003 < small < 0.1  # H200 measured 15-18 us for this shape; the model is within 0.5-2x


def test_the_predictions_follow_the_tf32_mode(library, monkeypatch):
    """Under TUCKER_ONNX_TF32=1 the predictions price the mode the op would run in: a shape whose fp32 pick is a
    tensor-core form (the WMMA kernel at 64:32->32:64@7) predicts faster; NVIDIA_TF32_OVERRIDE=0 undoes it."""
    from tucker_onnx.run.library import get_library_path, predict_fused_ms
    import ctypes
    if not ctypes.CDLL(get_library_path()).TuckerOnnxHasCuda():
        pytest.skip("a CPU-only build of the library has no CUDA model")
    args = (1, 64, 7, 7, 32, 32, 64, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1))
    monkeypatch.delenv("NVIDIA_TF32_OVERRIDE", raising=False)
    monkeypatch.delenv("TUCKER_ONNX_TF32", raising=False)
    plain = predict_fused_ms(*args)
    monkeypatch.setenv("TUCKER_ONNX_TF32", "1")
    assert predict_fused_ms(*args) < plain
    monkeypatch.setenv("NVIDIA_TF32_OVERRIDE", "0")
    assert predict_fused_ms(*args) == plain


def test_the_wgmma_switch_is_part_of_the_cuda_latency_key(monkeypatch):
    """TUCKER_ONNX_WGMMA=0 (the A/B switch back to WMMA) changes CUDA latencies: cached measurements and report
    headers say which form they were taken with; the CPU key does not change."""
    from tucker_onnx.profile.environment import describe, device_signature
    monkeypatch.delenv("TUCKER_ONNX_WGMMA", raising=False)
    monkeypatch.delenv("TUCKER_ONNX_TF32", raising=False)
    plain, cpu = device_signature("cuda"), device_signature("cpu")
    assert describe("cuda")["tucker_conv_wgmma"].startswith("on")
    monkeypatch.setenv("TUCKER_ONNX_WGMMA", "0")
    assert device_signature("cuda") == plain + "|nowgmma" and device_signature("cpu") == cpu
    assert describe("cuda")["tucker_conv_wgmma"].startswith("off")
    monkeypatch.setenv("TUCKER_ONNX_WGMMA", "1")
    assert device_signature("cuda") == plain


def test_the_wg_bm32_override_is_part_of_the_cuda_latency_key(monkeypatch):
    """TUCKER_ONNX_WG_BM32=0/1 forces the rank-32 stages' kernel either way and so changes CUDA latencies; unset (or
    anything else) is the op's default and leaves the key as it was."""
    from tucker_onnx.profile.environment import describe, device_signature
    for var in ("TUCKER_ONNX_WG_BM32", "TUCKER_ONNX_WGMMA", "TUCKER_ONNX_TF32"):
        monkeypatch.delenv(var, raising=False)
    plain, cpu = device_signature("cuda"), device_signature("cpu")
    assert describe("cuda")["tucker_conv_wg_bm32"] == "fp16 (default)"
    for v in ("0", "1"):
        monkeypatch.setenv("TUCKER_ONNX_WG_BM32", v)
        assert device_signature("cuda") == plain + f"|wgbm32={v}" and device_signature("cpu") == cpu
        assert f"TUCKER_ONNX_WG_BM32={v}" in describe("cuda")["tucker_conv_wg_bm32"]
    monkeypatch.setenv("TUCKER_ONNX_WG_BM32", "yes")
    assert device_signature("cuda") == plain


def test_the_swap32_override_is_part_of_the_cuda_latency_key(monkeypatch):
    """TUCKER_ONNX_SWAP32=0/1/2 forces how the rank-32 core stages run; unset is the op's default (fp32 swapped)."""
    from tucker_onnx.profile.environment import describe, device_signature
    for var in ("TUCKER_ONNX_SWAP32", "TUCKER_ONNX_WG_BM32", "TUCKER_ONNX_WGMMA", "TUCKER_ONNX_TF32"):
        monkeypatch.delenv(var, raising=False)
    plain = device_signature("cuda")
    assert describe("cuda")["tucker_conv_swap32"] == "fp32 (default)"
    for v in ("0", "1", "2"):
        monkeypatch.setenv("TUCKER_ONNX_SWAP32", v)
        assert device_signature("cuda") == plain + f"|swap32={v}"
        assert f"TUCKER_ONNX_SWAP32={v}" in describe("cuda")["tucker_conv_swap32"]
    monkeypatch.setenv("TUCKER_ONNX_WG_BM32", "0")
    assert device_signature("cuda") == plain + "|wgbm32=0|swap32=2"
    monkeypatch.setenv("TUCKER_ONNX_SWAP32", "3")
    assert device_signature("cuda") == plain + "|wgbm32=0"


def test_the_grid_stage_switch_is_part_of_the_cuda_latency_key(monkeypatch):
    """TUCKER_ONNX_GRID_STAGE=0 turns off the grid kernel's shared-memory staging (the op's A/B switch)."""
    from tucker_onnx.profile.environment import describe, device_signature
    for var in ("TUCKER_ONNX_SWAP32", "TUCKER_ONNX_WG_BM32", "TUCKER_ONNX_WGMMA", "TUCKER_ONNX_TF32",
                "TUCKER_ONNX_GRID_STAGE"):
        monkeypatch.delenv(var, raising=False)
    plain = device_signature("cuda")
    assert describe("cuda")["tucker_conv_grid_stage"] == "fp32 3x3 cores where a task fits (default)"
    monkeypatch.setenv("TUCKER_ONNX_GRID_STAGE", "0")
    assert device_signature("cuda") == plain + "|gridstage=0"
    assert "TUCKER_ONNX_GRID_STAGE=0" in describe("cuda")["tucker_conv_grid_stage"]
    monkeypatch.setenv("TUCKER_ONNX_GRID_STAGE", "1")  # not a value it forces: the default
    assert device_signature("cuda") == plain


def test_tf32_mode_is_part_of_the_cuda_latency_key(monkeypatch):
    """TuckerConv's TF32 mode (TUCKER_ONNX_TF32=1) changes its CUDA latencies: cached measurements and report
    headers say which mode they were taken in; NVIDIA_TF32_OVERRIDE=0 turns the mode off, as in cuDNN."""
    from tucker_onnx.profile.environment import describe, device_signature
    monkeypatch.delenv("TUCKER_ONNX_TF32", raising=False)
    monkeypatch.delenv("NVIDIA_TF32_OVERRIDE", raising=False)
    plain, cpu = device_signature("cuda"), device_signature("cpu")
    assert describe("cuda")["tucker_conv_fp32"].startswith("fp32-accurate")
    monkeypatch.setenv("TUCKER_ONNX_TF32", "1")
    assert device_signature("cuda") == plain + "|tf32" and device_signature("cpu") == cpu
    assert describe("cuda")["tucker_conv_fp32"].startswith("TF32")
    monkeypatch.setenv("NVIDIA_TF32_OVERRIDE", "0")
    assert device_signature("cuda") == plain
