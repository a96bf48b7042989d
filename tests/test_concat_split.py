"""split_wide_concats / `rewrite --split-concat`: wide Concats nested for CUDA-graph capture, outputs unchanged."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from tucker_onnx.errors import TuckerOnnxError
from tucker_onnx.rewrite import split_wide_concats


def wide_concat_model(n: int, axis: int = 1) -> onnx.ModelProto:
    """Y = Concat(X + 0, X + 1, ..., X + n - 1) along `axis`: n distinct inputs, so any reordering shows."""
    nodes, inits = [], []
    for i in range(n):
        inits.append(numpy_helper.from_array(np.full((1,), float(i), np.float32), f"c{i}"))
        nodes.append(helper.make_node("Add", ["X", f"c{i}"], [f"t{i}"], name=f"add{i}"))
    nodes.append(helper.make_node("Concat", [f"t{i}" for i in range(n)], ["Y"], name="cat", axis=axis))
    g = helper.make_graph(nodes, "wide", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 2, 3, 3])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT,
                                                         [1, 2 * n, 3, 3] if axis == 1 else [1, 2, 3, 3 * n])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _run(model, x):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"X": x})[0]


def _widest(model):
    return max(len(n.input) for n in model.graph.node if n.op_type == "Concat")


@pytest.mark.parametrize("n,limit,want_split", [(40, 32, 1), (40, 8, 1), (100, 3, 1), (32, 32, 0), (5, 8, 0)])
@pytest.mark.parametrize("axis", [1, -1])
def test_nested_concats_give_the_same_output(n, limit, want_split, axis):
    model = wide_concat_model(n, axis)
    before = model.SerializeToString()
    out, split = split_wide_concats(model, limit)
    assert model.SerializeToString() == before  # the input model is not modified
    assert split == want_split and _widest(out) <= max(limit, 2 if n > limit else n)
    assert _widest(out) == (min(n, limit) if want_split else n)
    onnx.checker.check_model(out, full_check=True)
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 3)).astype(np.float32)
    np.testing.assert_array_equal(_run(out, x), _run(model, x))
    # the wide node keeps its name and output; the inner ones are new
    assert [n_.name for n_ in out.graph.node if n_.output[0] == "Y"] == ["cat"]


def test_too_small_a_limit_is_refused():
    with pytest.raises(TuckerOnnxError):
        split_wide_concats(wide_concat_model(4), 1)


def test_cli_rewrite_split_concat(tmp_path):
    """A Tucker triplet whose output feeds a 40-input Concat: fused and split in one rewrite, checked in ORT."""
    from click.testing import CliRunner

    from helpers import chain_model, conv_node, triplet_inits
    from tucker_onnx.cli.main import cli
    rng = np.random.default_rng(0)
    inits = triplet_inits(rng) | {f"c{i}": np.full((1,), float(i)) for i in range(40)}
    nodes = [conv_node("c1", "X", "w1", "t1"), conv_node("c2", "t1", "w2", "t2", pads=[1, 1, 1, 1]),
             conv_node("c3", "t2", "w3", "T", bias="b3")]
    nodes += [helper.make_node("Add", ["T", f"c{i}"], [f"a{i}"], name=f"add{i}") for i in range(40)]
    nodes.append(helper.make_node("Concat", [f"a{i}" for i in range(40)], ["Y"], name="cat", axis=1))
    src, dst = tmp_path / "wide.onnx", tmp_path / "out.onnx"
    src.write_bytes(chain_model(nodes, inits, (1, 8, 7, 7), ["Y"]).SerializeToString())
    r = CliRunner().invoke(cli, ["rewrite", str(src), str(dst), "--split-concat", "16", "--check", "1"])
    assert r.exit_code == 0, r.output
    assert "split 1 Concat(s) of more than 16 inputs" in r.output and "check PASSED" in r.output
    written = onnx.load(str(dst))
    assert _widest(written) <= 16 and sum(n.op_type == "TuckerConv" for n in written.graph.node) == 1
    r = CliRunner().invoke(cli, ["rewrite", str(src), str(tmp_path / "bad.onnx"), "--split-concat", "1"])
    assert r.exit_code != 0 and "error:" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "bad.onnx").exists()
