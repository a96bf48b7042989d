"""Real torchvision CNNs: export -> decompose -> rewrite; fused outputs match the triplet model in ORT."""
import collections

import numpy as np
import onnx
import pytest

from tucker_onnx import decompose_model, make_session, rewrite_model, unfuse_model
from tucker_onnx.model_io import load_model
from tucker_onnx.op import SPEC
from tucker_onnx.zoo import export_torchvision

# name -> (image size, expected TuckerConv count, expected residual variants, expected Relu-fused count)
MODELS = {
    "resnet18": (64, 16, 8, 16),      # every 3x3 but the stem; conv2's Add + Relu fold in
    "resnet50": (64, 16, 0, 16),      # the 3x3 of each bottleneck, followed by Relu
    "vgg16": (224, 12, 0, 12),        # all 3x3 but the first (3 input channels); 224: its 7x7 avgpool
    "densenet121": (32, 58, 0, 0),    # every dense layer's 3x3 (its output goes to Concat)
    "densenet201": (32, 98, 0, 0),
}


@pytest.fixture(scope="module", params=list(MODELS))
def pipeline(request, model_dir):
    name = request.param
    size = MODELS[name][0]
    path = model_dir / f"{name}.onnx"
    if not path.exists():
        export_torchvision(name, path, image_size=size, num_classes=10)
    dense = load_model(path)
    tucker, reports = decompose_model(dense, ratio=0.25)
    result = rewrite_model(tucker)
    return name, dense, tucker, reports, result.model


def _ops(model):
    return collections.Counter(n.op_type for n in model.graph.node)


def test_expected_fusions(pipeline):
    name, dense, tucker, reports, fused = pipeline
    _, n_tc, n_res, n_relu = MODELS[name]
    decomposed = [r for r in reports if r.status == "decomposed"]
    assert len(decomposed) == n_tc
    nodes = [n for n in fused.graph.node if n.op_type == SPEC.name]
    assert len(nodes) == n_tc
    assert sum(len(n.input) == 6 for n in nodes) == n_res
    assert sum(any(a.name == "activation" and a.s == b"relu" for a in n.attribute) for n in nodes) == n_relu
    # every triplet's three convs are gone; Add/Relu counts drop by what was folded
    assert _ops(fused)["Conv"] == _ops(tucker)["Conv"] - 3 * n_tc
    assert _ops(fused)["Add"] == _ops(tucker)["Add"] - n_res
    assert _ops(fused)["Relu"] == _ops(tucker)["Relu"] - n_relu
    assert fused.ir_version <= 13 and all(o.version <= 26 for o in fused.opset_import if o.domain == "")
    # a downsample shortcut's Conv feeds only the fused Add: its bias moved into the TuckerConv's (ResNet-18: 3)
    producer = {o: n for n in fused.graph.node for o in n.output}
    shortcuts = [producer[n.input[5]] for n in nodes if len(n.input) == 6 and n.input[5] in producer
                 and producer[n.input[5]].op_type == "Conv"]
    assert len(shortcuts) == (3 if name == "resnet18" else 0)
    assert all(len(c.input) == 2 for c in shortcuts)
    onnx.checker.check_model(fused, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(fused, strict_mode=True)
    assert inferred.graph.output[0].type.tensor_type.shape.dim[1].dim_value == 10


def test_outputs_match_with_library_and_fallback(pipeline, library):
    name, dense, tucker, reports, fused = pipeline
    size = MODELS[name][0]
    x = np.random.default_rng().standard_normal((1 if size > 64 else 2, 3, size, size)).astype(np.float32)
    want = make_session(tucker, library=False).run(None, {"input": x})[0]
    scale = np.abs(want).max() + 1e-6
    for lib in (True, False):
        got = make_session(fused, library=lib).run(None, {"input": x})[0]
        assert got.shape == want.shape
        assert np.abs(got - want).max() / scale < 1e-4, f"library={lib}"


def test_unfuse_round_trip(pipeline, library):
    name, dense, tucker, reports, fused = pipeline
    back = unfuse_model(fused)
    assert not any(n.op_type == SPEC.name for n in back.graph.node)
    assert len(back.functions) == 0
    size = MODELS[name][0]
    x = np.random.default_rng().standard_normal((1, 3, size, size)).astype(np.float32)
    want = make_session(tucker, library=False).run(None, {"input": x})[0]
    got = make_session(back, library=False).run(None, {"input": x})[0]
    assert np.abs(got - want).max() / (np.abs(want).max() + 1e-6) < 1e-4


def test_decomposition_reports_real_errors(pipeline):
    _, _, _, reports, _ = pipeline
    errs = [r.rel_error for r in reports if r.status == "decomposed"]
    assert all(0 < e < 1 for e in errs)
    assert all(r.params_after < r.params_before for r in reports if r.status == "decomposed")


def test_fp16_model_rewrites_and_matches(pipeline, library):
    """An fp16 Tucker model (converted before the rewrite) fuses in fp16 and runs the fp16 kernel."""
    name, dense, tucker, reports, fused = pipeline
    if name != "resnet18":
        pytest.skip("one fp16 model is enough")
    from onnxruntime.transformers.float16 import convert_float_to_float16
    t16 = convert_float_to_float16(tucker, keep_io_types=False)
    f16 = rewrite_model(t16).model
    nodes = [n for n in f16.graph.node if n.op_type == SPEC.name]
    assert len(nodes) == MODELS[name][1]
    x = np.random.default_rng().standard_normal((3, 3, 64, 64)).astype(np.float16)
    want = make_session(t16, library=False).run(None, {"input": x})[0].astype(np.float32)
    got = make_session(f16, library=True).run(None, {"input": x})[0]
    assert got.dtype == np.float16
    assert np.abs(got.astype(np.float32) - want).max() / (np.abs(want).max() + 1e-6) < 2e-2


def test_wide_concats_nest_for_graph_capture(pipeline, library):
    """ORT captures a CUDA Concat of at most 32 inputs in a CUDA graph; DenseNet-201's dense blocks concatenate more
    (the model ran only without graphs, sessions 2-30). Nested, every Concat is within 32 and the fused model's
    outputs are unchanged; a model without wide Concats comes back as it was."""
    from tucker_onnx.rewrite import split_wide_concats
    name, dense, tucker, reports, fused = pipeline
    wide = sum(n.op_type == "Concat" and len(n.input) > 32 for n in fused.graph.node)
    split, n = split_wide_concats(fused, 32)
    assert n == wide and (wide > 0) == (name == "densenet201")
    assert all(len(x.input) <= 32 for x in split.graph.node if x.op_type == "Concat")
    assert len(split.functions) == len(fused.functions) and sum(x.op_type == SPEC.name for x in split.graph.node) == \
        MODELS[name][1]
    if not n:
        assert split.SerializeToString() == fused.SerializeToString()
        return
    size = MODELS[name][0]
    x = np.random.default_rng().standard_normal((2, 3, size, size)).astype(np.float32)
    want = make_session(fused, library=True).run(None, {"input": x})[0]
    got = make_session(split, library=True).run(None, {"input": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6 * np.abs(want).max())
