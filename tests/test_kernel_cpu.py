"""The CPU TuckerConv kernel (and the function fallback) against the float64 reference, every shape family."""
import itertools

import numpy as np
import pytest

from helpers import tucker_chain_model, tucker_chain_reference, tucker_node_model
from tucker_onnx import make_session
from tucker_onnx.op.reference import tucker_conv

TOL = {np.float32: dict(atol=1e-4, rtol=1e-4), np.float16: dict(atol=2e-2, rtol=2e-2)}

# (C, R1, R2, N, H, W, k, strides, pads, dilations)
SHAPES = [
    (8, 4, 6, 10, 9, 9, 3, (1, 1), (1, 1, 1, 1), (1, 1)),
    (8, 4, 6, 10, 9, 9, 3, (2, 2), (1, 1, 1, 1), (1, 1)),
    (6, 3, 5, 7, 8, 11, 1, (1, 1), (0, 0, 0, 0), (1, 1)),
    (6, 3, 5, 7, 8, 11, 1, (2, 2), (0, 0, 0, 0), (1, 1)),
    (5, 4, 4, 6, 12, 10, 5, (1, 1), (2, 2, 2, 2), (1, 1)),
    (5, 4, 4, 6, 12, 10, 5, (2, 1), (1, 2, 3, 0), (1, 1)),   # asymmetric pads, mixed strides
    (7, 3, 5, 4, 13, 13, 3, (1, 1), (2, 2, 2, 2), (2, 2)),   # dilation
    (7, 3, 5, 4, 13, 13, 3, (2, 2), (0, 1, 2, 0), (2, 1)),
    (16, 8, 8, 16, 7, 7, 7, (1, 1), (3, 3, 3, 3), (1, 1)),
    (6, 5, 3, 9, 11, 9, 3, (1, 1), (0, 2, 1, 0), (1, 2)),    # stride 1, asymmetric pads, dilation on one axis
]
CASES = list(itertools.product(range(len(SHAPES)), [1, 8], [False, True], ["none", "relu"], [np.float32, np.float16]))


def _case(rng, shape, batch, residual, dtype):
    c, r1, r2, n, h, w, k, s, p, d = shape
    x = rng.standard_normal((batch, c, h, w)).astype(dtype)
    w_in = (rng.standard_normal((r1, c, 1, 1)) / np.sqrt(c)).astype(dtype)
    w_core = (rng.standard_normal((r2, r1, k, k)) / np.sqrt(r1 * k * k)).astype(dtype)
    w_out = (rng.standard_normal((n, r2, 1, 1)) / np.sqrt(r2)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    ref_nores = tucker_conv(x, w_in, w_core, w_out, b, None, s, p, d, "none")
    z = rng.standard_normal(ref_nores.shape).astype(dtype) if residual else None
    return x, w_in, w_core, w_out, b, z


@pytest.mark.parametrize("si,batch,residual,act,dtype", CASES,
                         ids=[f"shape{a}-b{b}-{'res' if c else 'nores'}-{d}-{e.__name__}" for a, b, c, d, e in CASES])
def test_cpu_kernel_matches_reference(library, si, batch, residual, act, dtype):
    rng = np.random.default_rng()  # fresh inputs every run
    shape = SHAPES[si]
    x, w_in, w_core, w_out, b, z = _case(rng, shape, batch, residual, dtype)
    _, _, _, _, _, _, _, s, p, d = shape
    model = tucker_node_model(x.shape, w_in, w_core, w_out, b, residual, s, p, d, act, dtype)
    feeds = {"X": x} | ({"Z": z} if residual else {})
    want = tucker_conv(x, w_in, w_core, w_out, b, z, s, p, d, act)
    got = make_session(model, library=True).run(None, feeds)[0]
    assert got.dtype == dtype and got.shape == want.shape
    np.testing.assert_allclose(got.astype(np.float64), want, **TOL[dtype])
    if dtype == np.float32:  # the fallback (ORT's own Conv) must agree too
        fb = make_session(model, library=False).run(None, feeds)[0]
        np.testing.assert_allclose(fb.astype(np.float64), want, **TOL[dtype])


def test_kernel_really_runs_not_fallback(library):
    """With the library, a deliberately wrong function body must not change the result."""
    import onnx
    rng = np.random.default_rng(1)
    x, w_in, w_core, w_out, b, _ = _case(rng, SHAPES[0], 1, False, np.float32)
    model = tucker_node_model(x.shape, w_in, w_core, w_out, b, strides=(1, 1), pads=(1, 1, 1, 1))
    bad = onnx.ModelProto()
    bad.CopyFrom(model)
    for node in bad.functions[0].node:
        if node.op_type == "Identity":
            node.op_type = "Neg"
    want = tucker_conv(x, w_in, w_core, w_out, b, None, (1, 1), (1, 1, 1, 1))
    np.testing.assert_allclose(make_session(bad, library=True).run(None, {"X": x})[0], want, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(make_session(bad, library=False).run(None, {"X": x})[0], -want, atol=1e-4, rtol=1e-4)


def test_symbolic_batch_and_shape_inference(library):
    rng = np.random.default_rng(2)
    x, w_in, w_core, w_out, b, _ = _case(rng, SHAPES[1], 3, False, np.float32)
    model = tucker_node_model(x.shape, w_in, w_core, w_out, b, strides=(2, 2), pads=(1, 1, 1, 1), batch_symbolic=True)
    sess = make_session(model, library=True)
    for batch in (1, 3):
        xb = rng.standard_normal((batch, *x.shape[1:])).astype(np.float32)
        got = sess.run(None, {"X": xb})[0]
        assert got.shape == (batch, 10, 5, 5)


def test_bad_shapes_give_clear_errors(library):
    """Mismatched weights are reported as an error status, not a crash."""
    from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidArgument
    rng = np.random.default_rng(3)
    x, w_in, w_core, w_out, b, _ = _case(rng, SHAPES[0], 1, False, np.float32)
    model = tucker_node_model((1, 8, 9, 9), w_in, w_core, w_out, b[:-1], pads=(1, 1, 1, 1))  # bias too short
    sess = make_session(model, library=True, optimize=False)
    with pytest.raises((InvalidArgument, Fail), match="B must be"):
        sess.run(None, {"X": x})


def test_library_exports_only_its_entry_points_and_matches_the_spec(library):
    import ctypes
    import subprocess

    from tucker_onnx.op import SPEC
    syms = subprocess.run(["nm", "-D", "--defined-only", library], capture_output=True, text=True).stdout.split()
    assert {s for s in syms if s[0].isalpha() and len(s) > 1 and s not in ("T", "W", "B", "D", "R")} == {
        "RegisterCustomOps", "TuckerOnnxSpecVersion", "TuckerOnnxHasCuda", "TuckerOnnxPredictMicros"}
    assert ctypes.CDLL(library).TuckerOnnxSpecVersion() == SPEC.spec_version


def test_wrong_library_is_refused(tmp_path, monkeypatch):
    from tucker_onnx.errors import TuckerOnnxError
    from tucker_onnx.run import library as libmod
    fake = tmp_path / "libfake.so"
    fake.write_bytes(b"not an ELF file")
    monkeypatch.setenv("TUCKER_ONNX_LIBRARY", str(fake))
    with pytest.raises(TuckerOnnxError, match="not a tucker-onnx custom-op library"):
        libmod.get_library_path()


def test_cpu_kernel_empty_batch(library):
    """A batch of zero images gives an empty output of the right shape (nothing computed, nothing allocated)."""
    rng = np.random.default_rng()
    shape = SHAPES[0]
    x, w_in, w_core, w_out, b, _ = _case(rng, shape, 1, False, np.float32)
    model = tucker_node_model(x.shape, w_in, w_core, w_out, b, False, shape[7], shape[8], shape[9], "relu",
                              batch_symbolic=True)
    want = tucker_conv(x, w_in, w_core, w_out, b, None, shape[7], shape[8], shape[9], "relu")
    y = make_session(model, library=True).run(None, {"X": x[:0]})[0]
    assert y.shape == (0, *want.shape[1:])


@pytest.mark.parametrize("computed", [False, True], ids=["constant-weights", "computed-weights"])
def test_cpu_kernel_layer_chain(library, computed):
    """A stack of TuckerConv nodes with residuals from two layers back (the CUDA tests' PDL case; here it checks
    the stack's builder and reference): the library and the function fallback match the float64 reference."""
    rng = np.random.default_rng()
    model, x, params = tucker_chain_model(rng, 4, c=16, r=8, hw=9, computed_weights=computed)
    feeds = {"X": x, **({"S": np.array(1.0, np.float32)} if computed else {})}
    want = tucker_chain_reference(x, params)
    for lib in (True, False):
        got = make_session(model, library=lib).run(None, feeds)[0]
        np.testing.assert_allclose(got.astype(np.float64), want, **TOL[np.float32])
