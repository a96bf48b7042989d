"""The CLI as users drive it: good runs print tables and PASSED; bad input is one line, exit != 0, no file."""
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from helpers import chain_model, conv_node, triplet_inits
from tucker_onnx.cli.main import cli

P1 = dict(pads=[1, 1, 1, 1], kernel_shape=[3, 3])


def run(*args):
    r = CliRunner().invoke(cli, [str(a) for a in args])
    return r.exit_code, r.output


@pytest.fixture
def triplet_file(tmp_path):
    rng = np.random.default_rng(0)
    nodes = [conv_node("c1", "X", "w1", "t1"), conv_node("c2", "t1", "w2", "t2", **P1),
             conv_node("c3", "t2", "w3", "t3", bias="b3")]
    from onnx import helper
    nodes.append(helper.make_node("Relu", ["t3"], ["Y"], name="relu"))
    m = chain_model(nodes, triplet_inits(rng), (1, 8, 7, 7), ["Y"])
    p = tmp_path / "triplet.onnx"
    p.write_bytes(m.SerializeToString())
    return p


@pytest.fixture
def dense_file(tmp_path):
    rng = np.random.default_rng(1)
    nodes = [conv_node("a", "X", "wa", "t", **P1), conv_node("b", "t", "wb", "Y", **P1)]
    m = chain_model(nodes, {"wa": rng.standard_normal((32, 16, 3, 3)), "wb": rng.standard_normal((32, 32, 3, 3))},
                    (1, 16, 10, 10), ["Y"])
    p = tmp_path / "dense.onnx"
    p.write_bytes(m.SerializeToString())
    return p


def _sha(p):
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


def test_rewrite_happy_path(triplet_file, tmp_path):
    out = tmp_path / "out.onnx"
    before = _sha(triplet_file)
    code, text = run("rewrite", triplet_file, out, "--check", 2)
    assert code == 0, text
    assert "check PASSED" in text and "ai.tucker_onnx:TuckerConv" in text and "PASSED | rewrite" in text
    assert out.exists() and _sha(triplet_file) == before
    assert not list(tmp_path.glob(".*.tmp"))


def test_rewrite_dry_run_writes_nothing(triplet_file, tmp_path):
    out = tmp_path / "out.onnx"
    code, text = run("rewrite", triplet_file, out, "--dry-run")
    assert code == 0 and "c1 -> c2 -> c3: fused with Relu" in text and not out.exists()


def test_decompose_then_rewrite_and_unfuse(dense_file, tmp_path):
    tk, fused, back = tmp_path / "tk.onnx", tmp_path / "f.onnx", tmp_path / "u.onnx"
    code, text = run("decompose", dense_file, tk, "--ratio", 0.25)
    assert code == 0, text
    assert "decomposed 2 conv(s)" in text
    code, text = run("rewrite", tk, fused)
    assert code == 0, text
    code, text = run("unfuse", fused, back)
    assert code == 0 and "check PASSED" in text, text


def test_decompose_plan_file(dense_file, tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"a": [8, 8]}))
    code, text = run("decompose", dense_file, tmp_path / "o.onnx", "--plan", plan, "-v")
    assert code == 0 and "8,8" in text and "not in the plan" in text
    plan.write_text(json.dumps({"nope": [8, 8]}))
    code, text = run("decompose", dense_file, tmp_path / "o2.onnx", "--plan", plan)
    assert code == 1 and "nope" in text and not (tmp_path / "o2.onnx").exists()
    plan.write_text(json.dumps({"a": [99, 8]}))
    code, text = run("decompose", dense_file, tmp_path / "o3.onnx", "--plan", plan)
    assert code == 1 and "exceed" in text and not (tmp_path / "o3.onnx").exists()


def _bad_cases(tmp_path, dense_file, triplet_file):
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a protobuf \x00\xff\xfe" * 10)
    trunc = tmp_path / "trunc.onnx"
    trunc.write_bytes(triplet_file.read_bytes()[: triplet_file.stat().st_size // 2])
    return {
        "missing": (["rewrite", tmp_path / "nope.onnx"], "no such file"),
        "empty": (["rewrite", empty], "empty"),
        "junk": (["rewrite", junk], "ONNX"),
        "truncated": (["rewrite", trunc], "ONNX"),
        "directory": (["rewrite", tmp_path], "directory"),
        "no candidates": (["rewrite", dense_file], "no fusable"),
        "no ratio": (["decompose", dense_file], "--ratio"),
        "bad ratio": (["decompose", dense_file, "--ratio", "1.5"], "--ratio"),
        "unfuse plain": (["unfuse", dense_file], "no TuckerConv"),
    }


@pytest.mark.parametrize("case", ["missing", "empty", "junk", "truncated", "directory", "no candidates",
                                  "no ratio", "bad ratio", "unfuse plain"])
def test_bad_input_one_line_no_output(case, tmp_path, dense_file, triplet_file):
    args, fragment = _bad_cases(tmp_path, dense_file, triplet_file)[case]
    out = tmp_path / "out.onnx"
    # through a real process: exit code, stderr, no traceback
    r = subprocess.run([sys.executable, "-m", "tucker_onnx.cli.main", *map(str, args[:2]), str(out), *map(str, args[2:])],
                       capture_output=True, text=True)
    assert r.returncode == 1, (r.stdout, r.stderr)
    errors = [l for l in r.stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1 and fragment in errors[0], r.stderr
    assert r.stderr.strip().splitlines() == errors, r.stderr  # that one line is all of stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))


def test_refuses_to_overwrite_input(triplet_file):
    before = _sha(triplet_file)
    code, text = run("rewrite", triplet_file, triplet_file)
    assert code == 1 and "overwrite" in text and _sha(triplet_file) == before


@pytest.mark.parametrize("cmd", ["rewrite", "unfuse", "decompose"])
def test_missing_output_directory_fails_before_any_work(cmd, triplet_file, dense_file, tmp_path):
    """The output path is checked first: no fusing, check or table is printed before the one-line error."""
    src = dense_file if cmd == "decompose" else triplet_file
    if cmd == "unfuse":
        src = tmp_path / "fused.onnx"
        assert run("rewrite", triplet_file, src)[0] == 0
    extra = ["--ratio", "0.5"] if cmd == "decompose" else []
    code, text = run(cmd, src, tmp_path / "no" / "such" / "dir.onnx", *extra)
    assert code == 1 and "does not exist" in text
    assert text.splitlines()[0].startswith("error:") and "Original" not in text, text


def test_failed_check_writes_nothing(triplet_file, tmp_path, monkeypatch):
    """A kernel that disagrees must fail the check: simulate by an impossible tolerance."""
    out = tmp_path / "out.onnx"
    code, text = run("rewrite", triplet_file, out, "--atol", 0, "--rtol", 0)
    # fused and unfused fp32 math differ in rounding, so a zero tolerance must trip the check
    assert code == 1 and "check FAILED" in text and not out.exists()


def test_opset_too_new_is_refused(dense_file, tmp_path):
    import onnx
    m = onnx.load(str(dense_file))
    m.opset_import[0].version = 28
    p = tmp_path / "new.onnx"
    p.write_bytes(m.SerializeToString())
    code, text = run("decompose", p, tmp_path / "o.onnx", "--ratio", "0.5")
    assert code == 1 and ("opset" in text) and not (tmp_path / "o.onnx").exists()
