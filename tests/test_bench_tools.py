"""The benchmark tools' graph builders, on the CPU (the benchmarks themselves run on the GPU machine)."""
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import bench_layers  # noqa: E402
from tucker_onnx import make_session  # noqa: E402


def test_model_layer_shapes_cover_every_tdc_layer_of_resnet18():
    from tdc_plans import PLANS
    shapes = bench_layers.model_layer_shapes(["resnet18"])
    layers = [name for s in shapes for name in s["layers"]]
    assert sorted(layers) == sorted(f"resnet18:{n}" for n in PLANS["resnet18"]())
    assert any(s["stride"] == 2 for s in shapes) and all(s["k"] == 3 for s in shapes)
    assert len({(s["C"], s["R1"], s["R2"], s["N"], s["hw"], s["stride"]) for s in shapes}) == len(shapes)


@pytest.mark.parametrize("c,n,k,stride,L", [(64, 64, 3, 1, 3), (64, 128, 3, 2, 1), (32, 48, 5, 1, 1)])
def test_stack_models_fused_triplet_and_dense_agree_in_shape(library, c, n, k, stride, L):
    rng = np.random.default_rng(0)
    fused, trip, dense = bench_layers.stack_models(c, n, 16, 24, 14, k, stride, 2, "fp32", L, rng)
    x = rng.standard_normal((2, c, 14, 14)).astype(np.float32)
    yf = make_session(fused, library=True).run(None, {"X": x})[0]
    yt = make_session(trip, library=False).run(None, {"X": x})[0]
    yd = make_session(dense, library=False).run(None, {"X": x})[0]
    ho = (14 + 2 * (k // 2) - k) // stride + 1
    assert yf.shape == yt.shape == yd.shape == (2, n, ho, ho)
    np.testing.assert_allclose(yf, yt, atol=1e-4, rtol=1e-4)  # the library's CPU kernel vs three ORT Convs


def test_compare_plans_runs_end_to_end_on_the_cpu(tmp_path):
    """rank (both modes) -> decompose -> rewrite --plan vs the TDC ranks, on a small ResNet-18; the report's numbers
    are consistent with each other."""
    import json
    import subprocess
    r = subprocess.run([sys.executable, str(Path(__file__).resolve().parents[1] / "tools/compare_plans.py"),
                        "--model", "resnet18", "--provider", "cpu", "--speedup", "1.05", "--step", "128",
                        "--repeats", "3", "--image-size", "64", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads((tmp_path / "compare.json").read_text())
    t = rep["latency_ms"]
    assert set(t) >= {"original", "tdc_unfused", "tdc_fused"}
    assert rep["tdc"]["speedup_unfused"] == pytest.approx(t["original"] / t["tdc_unfused"])
    o = rep["ours"]["ours_tdc_energy"]  # always reachable: all-dense keeps energy 1.0
    assert o["mean_energy"] >= rep["tdc"]["mean_energy"] - 1e-9
    assert o["measured_speedup"] == pytest.approx(t["original"] / t["ours_tdc_energy"])
    assert "TDC ranks, unfused" in (tmp_path / "compare.md").read_text()


def test_bench_configs_parses_shapes_and_configs_and_refuses_bad_ones(capsys):
    import bench_configs
    assert bench_configs.parse_shape("384:192->160:384@7") == {"C": 384, "R1": 192, "R2": 160, "N": 384, "hw": 7,
                                                                 "k": 3}
    assert bench_configs.parse_shape("64:32->32:64@14/k5")["k"] == 5
    assert bench_configs.parse_config("3,1,7,512,16,64") == (3, 1, 7, 512, 16, 64)
    bad_args = (["--shape", "384:192->160:256@7"], ["--shape", "7x7"],
                ["--shape", "64:32->32:64@7", "--configs", "3,1"])
    for bad in bad_args:
        assert bench_configs.main(bad) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err
    from tucker_onnx.profile.profiler import available_provider
    if available_provider() != "cuda":  # CI: says so in one line instead of failing inside ORT
        assert bench_configs.main(["--shape", "64:32->32:64@7"]) == 1
        assert "GPU machine" in capsys.readouterr().err


def test_layer_rows_name_the_config_the_op_ran(monkeypatch):
    """bench_layers reads the op's config log back per row: on session 4's H200 log, the batch-1 224x224 shape ran
    a 4x4 register-tiled config (model pick, nothing timed) and a 7x7 shape a cluster config."""
    log = Path(__file__).resolve().parents[1] / "results/h200_2026-11-28_s4/layers_refit_picks/configs.jsonl"
    monkeypatch.setenv("TUCKER_ONNX_CONFIG_LOG", str(log))
    assert bench_layers.fused_config("fp32", 1, 128, 224, 64, 32, 3, 128, 1) == "tiled4x4 0,8,16,512,1,128"
    assert bench_layers.fused_config("fp32", 1, 384, 7, 192, 160, 3, 384, 1).startswith("cluster 3,")
    assert bench_layers.fused_config("fp32", 1, 384, 7, 192, 160, 5, 384, 1) is None  # no such shape logged


def test_fit_model_merge_adds_one_kernels_timings_to_known_shapes(tmp_path):
    """`fit_model.py --merge`: a variant log's configs join the timings another log took for the same shape (a
    config timed in both keeps the merged time), and shapes no other log covers are left out."""
    import json
    import fit_model
    key = "fp32 b1 c64 h7 w7 r1=32 r2=32 k3x3 n64 s1,1 p1,1 d1,1 res0"
    other = "fp32 b1 c64 h14 w14 r1=32 r2=32 k3x3 n64 s1,1 p1,1 d1,1 res0"
    line = lambda k, timings: json.dumps({"key": k, "model": timings[0][:6], "chosen": timings[0][:6],
                                          "timings_ms": timings}) + "\n"
    full = tmp_path / "full.jsonl"
    full.write_text(line(key, [[2, 7, 7, 256, 1, 32, 0.020], [0, 7, 7, 128, 1, 32, 0.030]]))
    grid = tmp_path / "grid.jsonl"
    grid.write_text(line(key, [[2, 7, 7, 256, 1, 32, 0.019], [5, 1, 16, 512, 1, 32, 0.012]]) +
                    line(other, [[5, 4, 16, 512, 1, 32, 0.013]]))
    (shape,) = fit_model.load([str(full)], [str(grid)])
    assert shape[0][:4] == [1, 64, 7, 7]
    assert sorted((tuple(c), t) for c, t in shape[1]) == [((0, 7, 7, 128, 1, 32), 0.030), ((2, 7, 7, 256, 1, 32), 0.019),
                                                         ((5, 1, 16, 512, 1, 32), 0.012)]
    assert len(fit_model.load([str(full), str(grid)])) == 2  # without --merge a later log replaces / adds shapes


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not found")
def test_gpu_probes_build_against_the_current_kernel_headers(tmp_path):
    """tools/grid_probe.cu (the grid kernel alone, checked and timed) and tools/coop_floor.cu only run on the GPU
    machine; building them here keeps them in step with the kernel's headers, for the R1 group sizes and weight-load widths it compares."""
    root = Path(__file__).resolve().parents[1]
    src = root / "custom_ops/src/cuda"
    # the builds tools/gpu_probe.sh compares: group, vector weights, L1, counters instead of the second barrier,
    # the core stage's staging off, and the per-stage clock marks
    for group, vec, l1, flags, stage, times in ((1, 1, 1, 1, 1, 0), (4, 0, 0, 0, 1, 0), (2, 1, 1, 0, 0, 1)):
        subprocess.run(["nvcc", "-O1", "-arch=sm_90", f"-DTUCKER_GRID_R1_GROUP={group}", f"-DTUCKER_GRID_VEC={vec}",
                        f"-DTUCKER_GRID_L1={l1}", f"-DTUCKER_GRID_FLAGS={flags}", f"-DTUCKER_GRID_STAGE={stage}",
                        *(["-DTUCKER_GRID_TIMES"] if times else []), f"-I{src}", str(root / "tools/grid_probe.cu"),
                        str(src / "tucker_conv_grid.cu"), "-o", str(tmp_path / f"grid_probe{group}")], check=True)
    subprocess.run(["nvcc", "-O1", "-arch=sm_90", str(root / "tools/coop_floor.cu"), "-o", str(tmp_path / "coop")],
                   check=True)
    assert all((tmp_path / n).exists() for n in ("grid_probe1", "grid_probe2", "grid_probe4", "coop"))


def _ncu_source_csv(path, lines):
    """A minimal `ncu --page source --csv` export: the kernel-name line, the header, one row per SASS line; a
    barrier's samples are stall_barrier, any other line's stall_long_sb (and a "(Not Issued)" column that must not
    count)."""
    cols = ["Address", "Source", "Warp Stall Sampling (All Samples)", "Warp Stall Sampling (Not-issued Samples)",
            "# Samples", "Instructions Executed", "stall_barrier", "stall_long_sb", "stall_long_sb (Not Issued)"]
    rows = ['"Kernel Name","void K()",', ",".join(f'"{c}"' for c in cols)]
    for addr, sass, executed, samples in lines:
        bar = samples if sass.startswith("BAR") else 0
        rows.append(",".join(f'"{v}"' for v in (addr, sass, samples, samples, samples, executed, bar, samples - bar,
                                                99)))
    path.write_text("\n".join(rows) + "\n")


def test_ncu_phases_splits_at_barriers_and_counts_per_warp(tmp_path):
    import ncu_phases
    # 4 warps; a set-up phase of 3 instructions per warp, a loop run 10 times per warp, then the exit; a second
    # profiled kernel (the same addresses again) must not be counted.
    lines = [("0x10", "LDC R1, c[0x0][0x28]", 4, 1), ("0x20", "IMAD R2, R1, R1, RZ", 4, 0),
             ("0x30", "BAR.SYNC.DEFER_BLOCKING 0x0", 4, 7), ("0x40", "HMMA.16816.F32 R4, R8, R12, R4", 40, 2),
             ("0x50", "@!P0 BRA 0x40", 40, 0), ("0x60", "EXIT", 4, 0), ("0x10", "LDC R1, c[0x0][0x28]", 99, 9)]
    src = tmp_path / "k.csv"
    _ncu_source_csv(src, lines)
    table = ncu_phases.phases(ncu_phases.read_source(src), 4)
    assert [round(p["instructions"], 1) for p in table] == [3.0, 21.0]
    assert [p["samples"] for p in table] == [8, 2] and table[0]["boundary"] == "BAR.SYNC.DEFER_BLOCKING"
    assert table[1]["ops"]["HMMA"] == 10 and table[1]["ops"]["BRA"] == 10
    assert table[0]["stalls"] == {"barrier": 7, "long_sb": 1} and table[1]["stalls"] == {"long_sb": 2}
    out = subprocess.run([sys.executable, str(Path(ncu_phases.__file__)), str(src)], capture_output=True, text=True)
    assert out.returncode == 0 and "4 warps, 24 instructions per warp" in out.stdout
    assert "| barrier 7, long_sb 1 |" in out.stdout
    bad = subprocess.run([sys.executable, str(Path(ncu_phases.__file__)), str(tmp_path / "none.csv")],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.startswith("error:") and "Traceback" not in bad.stderr


def test_ab_graphs_times_graphs_side_by_side_on_the_cpu(tmp_path, library):
    """tools/ab_graphs.py: one row per argument (a graph named twice is its own control), outputs checked against
    the first graph before timing."""
    import json
    import onnx
    rng = np.random.default_rng(0)
    fused, trip, _ = bench_layers.stack_models(16, 16, 8, 8, 7, 3, 1, 1, "fp32", 1, rng)
    paths = []
    for name, m in (("trip", trip), ("fused", fused)):
        paths.append(tmp_path / f"{name}.onnx")
        onnx.save(m, str(paths[-1]))
    out = tmp_path / "ab.json"
    r = subprocess.run([sys.executable, str(Path(__file__).resolve().parents[1] / "tools" / "ab_graphs.py"),
                        *map(str, paths + paths[:1]), "--provider", "cpu", "--rounds", "2", "--repeats", "3",
                        "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert [Path(row["model"]).name for row in rows] == ["trip.onnx", "fused.onnx", "trip.onnx"]
    assert rows[0]["rel_err_vs_first"] == 0.0 and rows[2]["rel_err_vs_first"] == 0.0
    assert 0 < rows[1]["rel_err_vs_first"] < 1e-4  # the fused op (library's CPU kernel) against three ORT Convs
    assert all(len(row["round_medians_ms"]) == 2 and row["median_ms"] > 0 for row in rows)


def test_busy_time_counts_overlapping_kernels_once():
    """Session 30's fused ResNet-18, batch 1, one graph replay (results/h200_2026-12-01_s30/call4): under PDL the
    layer-1 kernels start 14-17 us before their predecessors end, so the durations sum to more than the replay's span;
    busy_us gives the span the kernels cover (no gaps in that replay)."""
    import json

    from bench_common import busy_us
    path = Path(__file__).resolve().parents[1] / "results/h200_2026-12-01_s30/call4/gseq_fused_default.json"
    seq = json.loads(path.read_text())[0]["sequence"]
    spans = [(k["start_us"], k["start_us"] + k["us"]) for k in seq]
    total, busy = sum(k["us"] for k in seq), busy_us(spans)
    end = max(b for _, b in spans)
    assert total - busy > 40 and abs(busy - end) < 5  # ~60 us of overlap; the replay runs back to back
    assert busy_us([(0, 10), (5, 12), (20, 25), (21, 22)]) == 17 and busy_us([]) == 0
