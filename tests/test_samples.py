"""The README's main job (sample 01) runs end to end: export, decompose, rewrite with its check, run both ways."""
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_sample_01_runs(tmp_path):
    env = dict(os.environ, OUT_DIR=str(tmp_path))
    r = subprocess.run([str(ROOT / "samples/01_rewrite_resnet18/run.sh")], capture_output=True, text=True, env=env,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "check PASSED" in r.stdout and "PASSED | rewrite" in r.stdout
    lines = [l for l in r.stdout.splitlines() if "max |diff| vs triplets" in l]
    assert len(lines) == 2
    for l in lines:  # library kernel and function fallback both agree with the triplet model
        assert float(l.split("triplets")[1].split()[0]) < 1e-4
    assert (tmp_path / "resnet18_fused.onnx").exists()
