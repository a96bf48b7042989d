"""What rewrite must fuse (BN, residual, Relu, core bias) and what it must leave alone."""
import numpy as np
import pytest
from onnx import helper

from helpers import chain_model, conv_node, triplet_inits
from tucker_onnx import make_session, rewrite_model
from tucker_onnx.errors import TuckerOnnxError
from tucker_onnx.op import SPEC

P1 = dict(pads=[1, 1, 1, 1], kernel_shape=[3, 3])


def _fused_count(model):
    return sum(n.op_type == SPEC.name for n in model.graph.node)


def _agree(a, b, shape=(2, 8, 7, 7)):
    x = np.random.default_rng().standard_normal(shape).astype(np.float32)
    ya = make_session(a, library=False).run(None, {"X": x})
    yb = make_session(b, library=True).run(None, {"X": x})
    for u, v in zip(ya, yb):
        np.testing.assert_allclose(v, u, atol=1e-4, rtol=1e-4)


def test_bn_residual_relu_and_core_bias_fold():
    rng = np.random.default_rng(0)
    inits = triplet_inits(rng) | {"b2": rng.standard_normal(5), "g": rng.uniform(0.5, 1.5, 6), "be": rng.standard_normal(6),
                                  "mu": rng.standard_normal(6), "var": rng.uniform(0.5, 2, 6), "ws": rng.standard_normal((6, 8, 1, 1))}
    nodes = [conv_node("c1", "X", "w1", "t1"), conv_node("c2", "t1", "w2", "t2", bias="b2", **P1),
             conv_node("c3", "t2", "w3", "t3", bias="b3"),
             helper.make_node("BatchNormalization", ["t3", "g", "be", "mu", "var"], ["t4"], name="bn", epsilon=1e-3),
             conv_node("side", "X", "ws", "s"),
             helper.make_node("Add", ["s", "t4"], ["t5"], name="add"), helper.make_node("Relu", ["t5"], ["Y"], name="relu")]
    m = chain_model(nodes, inits, (2, 8, 7, 7), ["Y"])
    out = rewrite_model(m).model
    ops = [n.op_type for n in out.graph.node]
    assert ops.count(SPEC.name) == 1 and "BatchNormalization" not in ops and "Add" not in ops and "Relu" not in ops
    _agree(m, out)


def _shortcut_model(rng, second_consumer: bool):
    """A ResNet downsample block's tail: triplet -> Add(shortcut Conv with bias) -> Relu; optionally the shortcut's
    output is also a graph output."""
    inits = triplet_inits(rng) | {"ws": rng.standard_normal((6, 8, 1, 1)), "bs": rng.standard_normal(6)}
    nodes = [conv_node("c1", "X", "w1", "t1"), conv_node("c2", "t1", "w2", "t2", **P1),
             conv_node("c3", "t2", "w3", "t3", bias="b3"), conv_node("side", "X", "ws", "s", bias="bs"),
             helper.make_node("Add", ["t3", "s"], ["t5"], name="add"), helper.make_node("Relu", ["t5"], ["Y"], name="relu")]
    return chain_model(nodes, inits, (2, 8, 7, 7), ["Y", "s"] if second_consumer else ["Y"])


def test_shortcut_conv_bias_moves_into_the_fused_bias():
    m = _shortcut_model(np.random.default_rng(3), second_consumer=False)
    res = rewrite_model(m)
    out = res.model
    side = next(n for n in out.graph.node if n.name == "side")
    assert len(side.input) == 2, "the shortcut Conv keeps its bias"
    assert any("shortcut conv side" in note for c in res.fused for note in c.notes)
    _agree(m, out)
    # the input model's shortcut still has its bias (the rewrite works on a copy)
    assert len(next(n for n in m.graph.node if n.name == "side").input) == 3


def test_shortcut_conv_bias_stays_when_its_output_is_used_elsewhere():
    m = _shortcut_model(np.random.default_rng(4), second_consumer=True)
    out = rewrite_model(m).model
    assert len(next(n for n in out.graph.node if n.name == "side").input) == 3
    assert _fused_count(out) == 1
    _agree(m, out)


def test_two_triplets_summed_by_one_add():
    """Parallel branches: both chains' tails meet at one Add. The first fused chain takes the Add and the other
    chain's output as its residual; the other chain's last conv keeps its bias (it is no shortcut to fold)."""
    rng = np.random.default_rng(5)
    inits = triplet_inits(rng) | triplet_inits(rng, prefix="q")
    nodes = [conv_node("a1", "X", "w1", "a1o"), conv_node("a2", "a1o", "w2", "a2o", **P1),
             conv_node("a3", "a2o", "w3", "a3o", bias="b3"),
             conv_node("b1", "X", "qw1", "b1o"), conv_node("b2", "b1o", "qw2", "b2o", **P1),
             conv_node("b3", "b2o", "qw3", "b3o", bias="qb3"),
             helper.make_node("Add", ["a3o", "b3o"], ["s"], name="add"), helper.make_node("Relu", ["s"], ["Y"], name="relu")]
    m = chain_model(nodes, inits, (2, 8, 7, 7), ["Y"])
    res = rewrite_model(m)
    assert len(res.fused) == 2 and sum(c.add is not None for c in res.fused) == 1
    assert not any("shortcut" in note for c in res.fused for note in c.notes)
    out = res.model
    assert _fused_count(out) == 2 and [n.op_type for n in out.graph.node].count("Add") == 0
    _agree(m, out)


def _rejected(m, fragment):
    res = rewrite_model(m, dry_run=True)
    assert res.candidates and not any(c.fused for c in res.candidates)
    assert any(fragment in c.reason for c in res.candidates), [c.reason for c in res.candidates]
    with pytest.raises(TuckerOnnxError, match="no fusable"):
        rewrite_model(m)


def test_intermediate_with_two_consumers_is_left_alone():
    rng = np.random.default_rng(1)
    nodes = [conv_node("c1", "X", "w1", "t1"), conv_node("c2", "t1", "w2", "t2", **P1),
             conv_node("c3", "t2", "w3", "Y", bias="b3"), helper.make_node("Relu", ["t1"], ["Y2"], name="tap")]
    m = chain_model(nodes, triplet_inits(rng), (1, 8, 7, 7), ["Y", "Y2"])
    res = rewrite_model(m, dry_run=True)
    assert not any(c.fused for c in res.candidates)
    with pytest.raises(TuckerOnnxError):
        rewrite_model(m)


def test_intermediate_graph_output_is_left_alone():
    rng = np.random.default_rng(2)
    nodes = [conv_node("c1", "X", "w1", "t1"), conv_node("c2", "t1", "w2", "t2", **P1),
             conv_node("c3", "t2", "w3", "Y", bias="b3")]
    m = chain_model(nodes, triplet_inits(rng), (1, 8, 7, 7), ["Y", "t2"])
    with pytest.raises(TuckerOnnxError):
        rewrite_model(m)


def test_grouped_core_is_left_alone():
    rng = np.random.default_rng(3)
    inits = triplet_inits(rng, r1=4, r2=4) | {"w2": rng.standard_normal((4, 2, 3, 3))}
    nodes = [conv_node("c1", "X", "w1", "t1"), conv_node("c2", "t1", "w2", "t2", group=2, **P1),
             conv_node("c3", "t2", "w3", "Y", bias="b3")]
    _rejected(chain_model(nodes, inits, (1, 8, 7, 7), ["Y"]), "grouped")


def test_bias_on_first_conv_is_left_alone():
    rng = np.random.default_rng(4)
    inits = triplet_inits(rng) | {"b1": rng.standard_normal(4)}
    nodes = [conv_node("c1", "X", "w1", "t1", bias="b1"), conv_node("c2", "t1", "w2", "t2", **P1),
             conv_node("c3", "t2", "w3", "Y", bias="b3")]
    _rejected(chain_model(nodes, inits, (1, 8, 7, 7), ["Y"]), "bias")


def test_strided_outer_conv_is_left_alone():
    rng = np.random.default_rng(5)
    nodes = [conv_node("c1", "X", "w1", "t1", strides=[2, 2]), conv_node("c2", "t1", "w2", "t2", **P1),
             conv_node("c3", "t2", "w3", "Y", bias="b3")]
    _rejected(chain_model(nodes, triplet_inits(rng), (1, 8, 8, 8), ["Y"]), "stride")


def test_two_triplets_in_a_row_and_fp16():
    rng = np.random.default_rng(6)
    inits = triplet_inits(rng, n=8) | triplet_inits(rng, n=8, prefix="b_")
    nodes = [conv_node("c1", "X", "w1", "t1"), conv_node("c2", "t1", "w2", "t2", strides=[2, 2], **P1),
             conv_node("c3", "t2", "w3", "u", bias="b3"), helper.make_node("Relu", ["u"], ["v"], name="r"),
             conv_node("d1", "v", "b_w1", "s1"), conv_node("d2", "s1", "b_w2", "s2", **P1),
             conv_node("d3", "s2", "b_w3", "Y", bias="b_b3")]
    m = chain_model(nodes, inits, (2, 8, 9, 9), ["Y"])
    out = rewrite_model(m).model
    assert _fused_count(out) == 2
    _agree(m, out, (2, 8, 9, 9))
    m16 = chain_model(nodes, inits, (2, 8, 9, 9), ["Y"], dtype=np.float16)
    out16 = rewrite_model(m16).model
    assert _fused_count(out16) == 2
    x = np.random.default_rng().standard_normal((2, 8, 9, 9)).astype(np.float16)
    want = make_session(out16, library=False).run(None, {"X": x})[0]
    got = make_session(out16, library=True).run(None, {"X": x})[0]
    assert got.dtype == np.float16
    np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), atol=3e-2, rtol=3e-2)


def test_input_model_object_not_modified():
    rng = np.random.default_rng(7)
    nodes = [conv_node("c1", "X", "w1", "t1"), conv_node("c2", "t1", "w2", "t2", **P1),
             conv_node("c3", "t2", "w3", "Y", bias="b3")]
    m = chain_model(nodes, triplet_inits(rng), (1, 8, 7, 7), ["Y"])
    before = m.SerializeToString()
    rewrite_model(m)
    assert m.SerializeToString() == before


def test_decompose_skips_what_the_op_cannot_run_and_says_why():
    """The decompose pass and the matcher share one check of a conv (plain_conv_problem) and the spec's kernel limit:
    a 9x9 conv and a grouped one stay dense, each with its reason, while a 3x3 beside them is decomposed."""
    from tucker_onnx import decompose_model
    rng = np.random.default_rng(1)
    big = SPEC.max_kernel + 2
    inits = {"w3": rng.standard_normal((16, 16, 3, 3)) * 0.1, "wb": rng.standard_normal((16, 16, big, big)) * 0.01,
             "wg": rng.standard_normal((16, 4, 3, 3)) * 0.1}
    nodes = [conv_node("dense3", "X", "w3", "a", **P1),
             conv_node("big", "a", "wb", "b", pads=[big // 2] * 4, kernel_shape=[big, big]),
             conv_node("grouped", "b", "wg", "Y", group=4, **P1)]
    model = chain_model(nodes, inits, (1, 16, 12, 12), ["Y"])
    out, reports = decompose_model(model, ratio=0.5)
    why = {r.name: (r.status, r.reason) for r in reports}
    assert why["dense3"][0] == "decomposed"
    assert why["big"] == ("skipped", f"kernel {big}x{big} larger than {SPEC.max_kernel}")
    assert why["grouped"][0] == "skipped" and "group=4" in why["grouped"][1]
    assert sum(n.op_type == "Conv" for n in out.graph.node) == 2 + 3  # two left dense, one now a triplet
