"""`tucker-onnx tune`: autotuned configs per TuckerConv shape saved to a cache the CUDA op reads at deployment.
The tuning itself needs a GPU (those tests skip without one); the errors and the cache format are checked here."""
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tucker_onnx.cli.main import cli
from tucker_onnx.errors import TuckerOnnxError
from tucker_onnx.run.tuning import read_cache, summary_rows, write_cache
from tucker_onnx.zoo import export_torchvision

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    r = CliRunner().invoke(cli, [str(a) for a in args])
    return r.exit_code, r.output


@pytest.fixture(scope="module")
def r18(tmp_path_factory):
    """ResNet-18 (64x64 input), its Tucker decomposition at ratio 0.25 (ranks multiples of 16), and that fused."""
    d = tmp_path_factory.mktemp("tune")
    dense, dec, fused = d / "r18.onnx", d / "r18_tucker.onnx", d / "r18_fused.onnx"
    export_torchvision("resnet18", dense, image_size=64, num_classes=10)
    assert run("decompose", dense, dec, "--ratio", "0.25", "--multiple", "16")[0] == 0
    assert run("rewrite", dec, fused)[0] == 0
    return dense, dec, fused


def test_tune_refuses_a_model_without_tuckerconv(r18, tmp_path):
    code, out = run("tune", r18[0], tmp_path / "c.jsonl")
    assert code == 1 and "no TuckerConv node" in out and not (tmp_path / "c.jsonl").exists()


def test_tune_bad_mode_is_one_line(r18, tmp_path):
    code, out = run("tune", r18[2], tmp_path / "c.jsonl", "--mode", "fastest")
    assert code == 1 and "--mode must be exhaustive or top<K>" in out and "Traceback" not in out
    assert not (tmp_path / "c.jsonl").exists()


def test_tune_bad_cache_paths(r18, tmp_path):
    code, out = run("tune", r18[2], tmp_path / "missing" / "c.jsonl")
    assert code == 1 and "output directory does not exist" in out
    before = r18[2].read_bytes()
    code, out = run("tune", r18[2], r18[2])
    assert code == 1 and "refusing to overwrite the input model" in out and r18[2].read_bytes() == before
    broken = tmp_path / "broken.jsonl"
    broken.write_text("not json\n")
    code, out = run("tune", r18[2], broken)
    assert code == 1 and "not a config-log line" in out and broken.read_text() == "not json\n"


def test_tune_without_a_gpu_says_so(r18, tmp_path):
    from conftest import CUDA_SKIP
    if CUDA_SKIP is None:
        pytest.skip("a CUDA GPU is usable here: test_cuda_tune_then_deploy covers it")
    code, out = run("tune", r18[2], tmp_path / "c.jsonl")
    assert code == 1 and "needs a CUDA GPU" in out and not (tmp_path / "c.jsonl").exists()


def test_rank_tune_needs_cuda_and_a_valid_mode(r18, tmp_path):
    code, out = run("rank", r18[0], "-o", tmp_path / "plan.json", "--provider", "cpu", "--tune", "top16")
    assert code == 1 and "--tune tunes the CUDA kernel" in out and not (tmp_path / "plan.json").exists()
    code, out = run("rank", r18[0], "-o", tmp_path / "plan.json", "--provider", "cpu", "--tune", "all")
    assert code == 1 and "--tune must be exhaustive or top<K>" in out


def test_rewrite_tune_needs_measure_and_cuda(r18, tmp_path):
    out = tmp_path / "f.onnx"
    code, text = run("rewrite", r18[1], out, "--tune", "top4")
    assert code == 1 and "add --measure" in text and not out.exists()
    code, text = run("rewrite", r18[1], out, "--measure", "--provider", "cpu", "--tune", "top4")
    assert code == 1 and "--tune tunes the CUDA kernel" in text and not out.exists()


def test_cache_lines_are_the_ops_config_log(tmp_path):
    """The cache is the op's own TUCKER_ONNX_CONFIG_LOG format: an H200 exhaustive log reads back, merges by shape,
    and its summary finds the tuned config's gain over the model's pick from the logged timings."""
    src = ROOT / "results/h200_2026-11-28_s3/autotune/b1_hw7_14_with_cluster.jsonl.gz"
    lines = gzip.open(src, "rt").read().splitlines()
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(lines[0] + "\n")
    second.write_text("\n".join(lines[1:3]) + "\n")
    a, b = read_cache(first), read_cache(second)
    merged = write_cache(b, first)
    assert set(merged) == set(a) | set(b) and read_cache(first) == merged
    assert write_cache(b, first, merge=False) == b and set(read_cache(first)) == set(b)
    for row in summary_rows(a):
        e = json.loads(lines[0])
        times = {tuple(t[:6]): t[6] for t in e["timings_ms"]}
        assert row["tuned_us"] == pytest.approx(1e3 * min(times.values()))
        assert row["gain"] == pytest.approx(times[tuple(e["model"])] / min(times.values())) and row["gain"] >= 1


def test_a_broken_cache_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"key": "fp32 b1", "chosen": [0, 1, 1, 128, 1, 32]}\nnot json\n')
    with pytest.raises(TuckerOnnxError, match=r"bad.jsonl:2: not a config-log line"):
        read_cache(bad)


@pytest.mark.cuda
def test_cuda_tune_then_deploy(r18, tmp_path, monkeypatch):
    """Tune the fused ResNet-18 (quick tuner), then deploy with the cache: every shape runs its cached config with
    nothing timed, and the outputs match the same model on the CPU kernel (fp32 both; cuDNN may use TF32)."""
    from tucker_onnx.model_io import load_model
    from tucker_onnx.profile.timing import open_session
    from tucker_onnx.run.check import random_inputs
    cache, log = tmp_path / "cache.jsonl", tmp_path / "deploy_log.jsonl"
    code, out = run("tune", r18[2], cache, "--mode", "top4")
    assert code == 0, out
    tuned = read_cache(cache)
    assert len(tuned) >= 4 and all(1 <= len(e["timings_ms"]) for e in tuned.values())
    monkeypatch.setenv("TUCKER_ONNX_CONFIG_CACHE", str(cache))
    monkeypatch.setenv("TUCKER_ONNX_CONFIG_LOG", str(log))
    fused = load_model(r18[2])
    feeds = random_inputs(fused, seed=3)
    got = open_session(fused, provider="cuda", library=True).run(None, feeds)[0]
    want = open_session(fused, provider="cpu", library=True).run(None, feeds)[0]
    np.testing.assert_allclose(got, want, atol=1e-3 * float(np.abs(want).max()), rtol=1e-3)
    deployed = read_cache(log)
    assert set(deployed) == set(tuned)
    for key, e in deployed.items():
        assert e["chosen"] == tuned[key]["chosen"] and e["timings_ms"] == [], key


def test_the_cuda_op_reads_the_cache_as_python_writes_it(tmp_path, model_eval):
    """The op's C++ cache reader (run on the host through tools/model_eval) and the Python side agree, key by key,
    on a cache written by `write_cache` from a real H200 log, including a later line replacing an earlier one."""
    import subprocess
    exe = model_eval
    src = ROOT / "results/h200_2026-11-28_s4/layers_refit_picks/configs.jsonl"
    entries = read_cache(src)
    cache = tmp_path / "cache.jsonl"
    write_cache(entries, cache)
    first = next(iter(entries))
    changed = dict(entries[first], chosen=[1, 2, 2, 128, 1, 32])
    with open(cache, "a") as f:  # appended by hand: the later line wins in both readers
        f.write(json.dumps(changed) + "\n")
    out = subprocess.run([str(exe), "cache", str(cache)], capture_output=True, text=True, check=True).stdout
    got = {k: list(map(int, v.split())) for k, v in (line.split("|") for line in out.splitlines())}
    want = {k: e["chosen"] for k, e in read_cache(cache).items()}
    assert got == want and len(got) == len(entries) >= 60 and got[first] == [1, 2, 2, 128, 1, 32]


@pytest.mark.cuda
def test_cuda_tuner_fills_a_named_cache(r18, tmp_path, monkeypatch):
    """With a tuner on and a cache named, the op tunes the shapes the cache lacks and appends them (a timing cache);
    a later run with the tuner off takes those configs from the cache and times nothing."""
    from tucker_onnx.model_io import load_model
    from tucker_onnx.profile.timing import open_session
    from tucker_onnx.run.check import random_inputs
    cache, log = tmp_path / "auto.jsonl", tmp_path / "log.jsonl"
    monkeypatch.setenv("TUCKER_ONNX_TUNE", "top2")
    monkeypatch.setenv("TUCKER_ONNX_CONFIG_CACHE", str(cache))
    fused = load_model(r18[2])
    feeds = random_inputs(fused, seed=5)
    first = open_session(fused, provider="cuda", library=True).run(None, feeds)[0]
    filled = read_cache(cache)
    assert len(filled) >= 4 and all(1 <= len(e["timings_ms"]) <= 2 for e in filled.values())
    monkeypatch.delenv("TUCKER_ONNX_TUNE")
    monkeypatch.setenv("TUCKER_ONNX_CONFIG_LOG", str(log))
    second = open_session(fused, provider="cuda", library=True).run(None, feeds)[0]
    ran = read_cache(log)
    assert {k: e["chosen"] for k, e in ran.items()} == {k: e["chosen"] for k, e in filled.items()}
    assert all(e["timings_ms"] == [] for e in ran.values())
    np.testing.assert_allclose(second, first, atol=1e-5 * float(np.abs(first).max()))
