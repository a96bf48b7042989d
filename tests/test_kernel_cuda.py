"""The CUDA TuckerConv kernel vs the float64 reference and the CPU kernel, plus CUDA-graph capture.

Skipped (with the reason) where there is no GPU or no CUDA execution provider; run on the GPU machine.
"""
import itertools

import numpy as np
import pytest

from helpers import tucker_chain_model, tucker_chain_reference, tucker_node_model
from test_kernel_cpu import SHAPES, TOL, _case
from tucker_onnx import make_session
from tucker_onnx.op.reference import tucker_conv

pytestmark = pytest.mark.cuda
CUDA = ["CUDAExecutionProvider", "CPUExecutionProvider"]
CASES = list(itertools.product(range(len(SHAPES)), [1, 8], [False, True], ["none", "relu"], [np.float32, np.float16]))

# Larger, TDC-like shapes (C, R1, R2, N, H, W, k, strides, pads, dilations) to exercise big tiles and smem.
BIG = [(64, 32, 32, 64, 56, 56, 3, (1, 1), (1, 1, 1, 1), (1, 1)),
       (256, 96, 128, 256, 14, 14, 3, (1, 1), (1, 1, 1, 1), (1, 1)),
       (128, 64, 64, 128, 28, 28, 3, (2, 2), (1, 1, 1, 1), (1, 1)),
       (512, 192, 160, 512, 7, 7, 3, (1, 1), (1, 1, 1, 1), (1, 1))]


# Configs forced through TUCKER_ONNX_CONFIG (variant, th, tw, threads, nsplit, kchunk): each kernel variant,
# tile shapes that leave partial tiles, several passes over M, N split over blocks (some of them empty),
# reductions shorter and longer than one staged chunk; cluster kernels (variant 3, nsplit = cluster size) of
# 2 to 16 blocks, odd sizes, clusters larger than a stage's rows (blocks that own none), more thread tiles than
# threads (several rounds), with weights read from global memory (kchunk 32) or staged in shared memory (64);
# grid kernels (variant 5: th = rows per task 1/2/4, tw = warps sharing a task's reduction, nsplit = blocks per
# SM), with and without the shared-memory reduction, more tasks than the grid holds (several rounds); staged
# kernels (variant 6: th = largest BM, tw = BN, nsplit = register-tile family, kchunk = 32 x the core's K split),
# every block tile a stage of these shapes reaches, core reductions split in 2 and 4 (some slices empty).
FORCED = [(0, 4, 4, 128, 1, 32), (0, 8, 8, 512, 1, 32), (0, 2, 8, 256, 2, 64), (0, 1, 1, 128, 4, 128),
          (1, 7, 7, 256, 1, 32), (1, 4, 2, 128, 3, 96), (1, 2, 2, 128, 1, 128), (2, 4, 4, 128, 1, 32),
          (3, 7, 7, 256, 8, 32), (3, 4, 4, 512, 16, 32), (3, 2, 8, 256, 2, 32), (3, 7, 7, 512, 4, 32),
          (3, 1, 1, 256, 3, 32), (3, 7, 7, 256, 16, 64), (3, 2, 8, 512, 16, 64), (3, 1, 1, 256, 12, 64),
          (3, 4, 8, 256, 16, 64), (5, 1, 1, 128, 1, 32), (5, 2, 4, 256, 2, 32), (5, 4, 16, 512, 1, 32),
          (5, 4, 2, 256, 1, 32), (5, 1, 8, 256, 1, 32), (5, 4, 2, 256, 2, 64), (5, 1, 1, 128, 1, 64),
          (6, 32, 64, 256, 1, 32), (6, 64, 128, 256, 1, 32), (6, 128, 64, 256, 1, 32), (6, 128, 128, 256, 1, 32),
          (6, 32, 64, 256, 2, 32), (6, 128, 64, 256, 2, 32), (6, 64, 64, 256, 1, 64), (6, 128, 64, 256, 2, 128)]
FORCED_SHAPES = SHAPES + BIG[1:3]


def _cuda_session(model):
    import onnxruntime as ort
    ort.preload_dlls()
    s = make_session(model, providers=CUDA, library=True)
    assert s.get_providers()[0] == "CUDAExecutionProvider"
    return s


@pytest.mark.parametrize("si,batch,residual,act,dtype", CASES,
                         ids=[f"shape{a}-b{b}-{'res' if c else 'nores'}-{d}-{e.__name__}" for a, b, c, d, e in CASES])
def test_cuda_kernel_matches_reference_and_cpu(library, si, batch, residual, act, dtype):
    rng = np.random.default_rng()
    shape = SHAPES[si]
    x, w_in, w_core, w_out, b, z = _case(rng, shape, batch, residual, dtype)
    s, p, d = shape[7], shape[8], shape[9]
    model = tucker_node_model(x.shape, w_in, w_core, w_out, b, residual, s, p, d, act, dtype)
    feeds = {"X": x} | ({"Z": z} if residual else {})
    want = tucker_conv(x, w_in, w_core, w_out, b, z, s, p, d, act)
    got = _cuda_session(model).run(None, feeds)[0]
    cpu = make_session(model, library=True).run(None, feeds)[0]
    assert got.dtype == dtype and got.shape == want.shape
    np.testing.assert_allclose(got.astype(np.float64), want, **TOL[dtype])
    np.testing.assert_allclose(got.astype(np.float64), cpu.astype(np.float64), **TOL[dtype])


def _check_residual_relu(shape, batch, dtype):
    """One TuckerConv (+ residual, Relu) on fresh random inputs, CUDA kernel vs the float64 reference."""
    rng = np.random.default_rng()
    x, w_in, w_core, w_out, b, z = _case(rng, shape, batch, True, dtype)
    s, p, d = shape[7], shape[8], shape[9]
    model = tucker_node_model(x.shape, w_in, w_core, w_out, b, True, s, p, d, "relu", dtype)
    want = tucker_conv(x, w_in, w_core, w_out, b, z, s, p, d, "relu")
    got = _cuda_session(model).run(None, {"X": x, "Z": z})[0]
    tol = TOL[dtype] if dtype == np.float32 else dict(atol=5e-2, rtol=5e-2)
    np.testing.assert_allclose(got.astype(np.float64), want, **tol)


@pytest.mark.parametrize("shape", BIG, ids=[f"big{i}" for i in range(len(BIG))])
@pytest.mark.parametrize("batch", [1, 32])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_cuda_kernel_tdc_shapes(library, shape, batch, dtype):
    _check_residual_relu(shape, batch, dtype)


@pytest.mark.parametrize("forced,dtype", [(None, np.float32), ("3,8,8,256,8,32", np.float32),
                                          ("5,2,4,256,1,32", np.float32), ("6,64,128,256,1,32", np.float32),
                                          ("6,32,64,256,4,128", np.float16), ("6,64,128,256,5,64", np.float32),
                                          ("4,2,4,256,3,32", np.float32), ("6,64,128,256,4,32", np.float16)],
                         ids=["model-pick", "cluster", "grid", "staged", "staged-channels-last-split",
                              "staged-channels-last-fp32-split", "wmma-fp32", "staged-channels-last-wgmma-fp16"])
def test_cuda_graph_capture(library, monkeypatch, forced, dtype):
    """enable_cuda_graph: the op must launch on ORT's stream, allocate nothing outside ORT's arena and never
    synchronise (the cluster kernel's launch with a cluster attribute, the grid kernel's cooperative launch with
    its arena scratch included, the staged kernel's three launches sharing one scratch, and its channels-last
    family's cluster K split, fp16, and its wgmma form, fp16 and fp32)."""
    import onnxruntime as ort
    if forced:
        monkeypatch.setenv("TUCKER_ONNX_CONFIG", forced)
    ort.preload_dlls()
    rng = np.random.default_rng()
    shape = BIG[0]
    tol = TOL[dtype] if dtype == np.float32 else dict(atol=5e-2, rtol=5e-2)
    x, w_in, w_core, w_out, b, _ = _case(rng, shape, 1, False, dtype)
    model = tucker_node_model(x.shape, w_in, w_core, w_out, b, False, shape[7], shape[8], shape[9], "relu",
                              dtype=dtype)
    sess = make_session(model, providers=CUDA, library=True,
                        provider_options=[{"enable_cuda_graph": "1"}, {}])
    xo = ort.OrtValue.ortvalue_from_numpy(x, "cuda", 0)
    want = tucker_conv(x, w_in, w_core, w_out, b, None, shape[7], shape[8], shape[9], "relu")
    yo = ort.OrtValue.ortvalue_from_shape_and_type(want.shape, dtype, "cuda", 0)
    io = sess.io_binding()
    io.bind_ortvalue_input("X", xo)
    io.bind_ortvalue_output("Y", yo)
    for _ in range(5):  # regular runs, then capture, then replays
        sess.run_with_iobinding(io)
    np.testing.assert_allclose(yo.numpy().astype(np.float64), want, **tol)
    x2 = rng.standard_normal(x.shape).astype(dtype)
    xo.update_inplace(x2)
    sess.run_with_iobinding(io)  # a replay must see the new input
    want2 = tucker_conv(x2, w_in, w_core, w_out, b, None, shape[7], shape[8], shape[9], "relu")
    np.testing.assert_allclose(yo.numpy().astype(np.float64), want2, **tol)


CHAIN_FORCED = [(None, np.float32), (None, np.float16), ("4,2,4,256,2,32", np.float16), ("4,4,4,256,1,32", np.float16),
                ("6,32,64,256,4,128", np.float16), ("6,64,64,256,4,32", np.float16), ("6,64,128,256,1,32", np.float32),
                ("0,4,4,128,1,32", np.float32), ("5,2,4,256,1,32", np.float32), ("4,2,4,256,3,32", np.float32)]


@pytest.mark.parametrize("computed", [False, True], ids=["constant-weights", "computed-weights"])
@pytest.mark.parametrize("graph", [False, True], ids=["no-graph", "cuda-graph"])
@pytest.mark.parametrize("forced,dtype", CHAIN_FORCED,
                         ids=[f"{f or 'model-pick'}-{d.__name__}" for f, d in CHAIN_FORCED])
def test_cuda_layer_chain_pdl(library, monkeypatch, forced, dtype, graph, computed):
    """Programmatic dependent launch: each layer's kernels start before the previous layer's end and must wait
    before reading its output, before overwriting what it reads (layer i adds layer i-2's output), and, where a
    kernel computes the weights (computed-weights: no PDL for those nodes), before reading them. 8 layers of one
    config, twice (a replay with new inputs under CUDA graphs), against the float64 reference; with PDL off
    (TUCKER_ONNX_PDL=0) the output is the same to the last bit (the same kernels in the same order)."""
    import onnxruntime as ort
    if forced:
        monkeypatch.setenv("TUCKER_ONNX_CONFIG", forced)
    ort.preload_dlls()
    rng = np.random.default_rng()
    model, x, params = tucker_chain_model(rng, 8, c=64, r=32, hw=14, batch=2, dtype=dtype, computed_weights=computed)
    tol = TOL[dtype] if dtype == np.float32 else dict(atol=5e-2, rtol=5e-2)
    inputs = (x, rng.standard_normal(x.shape).astype(dtype))
    outs = {}
    for pdl in ("1", "0"):
        monkeypatch.setenv("TUCKER_ONNX_PDL", pdl)
        sess = make_session(model, providers=CUDA, library=True,
                            provider_options=[{"enable_cuda_graph": "1" if graph else "0"}, {}])
        io = sess.io_binding()
        xo = ort.OrtValue.ortvalue_from_numpy(x, "cuda", 0)
        io.bind_ortvalue_input("X", xo)
        if computed:
            io.bind_ortvalue_input("S", ort.OrtValue.ortvalue_from_numpy(np.array(1.0, dtype), "cuda", 0))
        want = tucker_chain_reference(x, params)
        yo = ort.OrtValue.ortvalue_from_shape_and_type(want.shape, dtype, "cuda", 0)
        io.bind_ortvalue_output(sess.get_outputs()[0].name, yo)
        got = []
        for xi in inputs:
            xo.update_inplace(xi)
            for _ in range(3):  # regular runs, then (graphs) capture and replays
                sess.run_with_iobinding(io)
            y = yo.numpy()
            np.testing.assert_allclose(y.astype(np.float64), tucker_chain_reference(xi, params), **tol)
            got.append(y)
        outs[pdl] = got
    for a, b in zip(outs["1"], outs["0"]):
        np.testing.assert_array_equal(a, b)


def _check_forced(monkeypatch, tmp_path, cfg, shape, dtype):
    """Forces one config, checks it against the float64 reference and that the op ran exactly that config."""
    import json
    log = tmp_path / "configs.jsonl"
    monkeypatch.setenv("TUCKER_ONNX_CONFIG", ",".join(map(str, cfg)))
    monkeypatch.setenv("TUCKER_ONNX_CONFIG_LOG", str(log))
    _check_residual_relu(shape, 2, dtype)
    assert [json.loads(line)["chosen"] for line in log.read_text().splitlines()] == [list(cfg)]


def _forced_run_fails(monkeypatch, cfg, shape, match, var="TUCKER_ONNX_CONFIG", dtype=np.float32):
    """A forced config (or tuning mode) the op must refuse for this shape and dtype, with an error naming why."""
    monkeypatch.setenv(var, cfg)
    rng = np.random.default_rng()
    x, w_in, w_core, w_out, b, _ = _case(rng, shape, 1, False, dtype)
    model = tucker_node_model(x.shape, w_in, w_core, w_out, b, False, shape[7], shape[8], shape[9], "none",
                              dtype=dtype)
    with pytest.raises(Exception, match=match):
        _cuda_session(model).run(None, {"X": x})


# The grid kernel's fp32 core stage staged in shared memory per warp (tucker_conv_grid_layout.h): shapes where some
# grid configs stage and others do not, at batch 1 and 3 (column groups that cross images load from global memory),
# and ResNet-18's layer-4 shape with the config the model picks there. tests/test_kernel_emu.py checks on the same
# shapes which launches get the buffer.
GRID_STAGE_SHAPES = [(16, 32, 12, 20, 7, 7, 3, (1, 1), (1, 1, 1, 1), (1, 1)),
                     (16, 64, 12, 20, 7, 7, 3, (1, 1), (1, 1, 1, 1), (1, 1)),
                     (12, 16, 16, 8, 10, 9, 3, (2, 2), (1, 0, 1, 1), (1, 1)),
                     (8, 16, 8, 8, 9, 9, 3, (1, 1), (2, 2, 2, 2), (2, 2))]
GRID_FORCED = [c for c in FORCED if c[0] == 5]
GRID_STAGE_GPU = [(sh, b, cfg) for sh in GRID_STAGE_SHAPES for cfg in GRID_FORCED for b in (1, 3)]
GRID_STAGE_GPU += [(BIG[3], b, (5, 4, 16, 512, 1, 32)) for b in (1, 3)]


@pytest.mark.parametrize("shape,batch,cfg", GRID_STAGE_GPU,
                         ids=[f"{i}-b{b}-{','.join(map(str, c))}" for i, (_, b, c) in enumerate(GRID_STAGE_GPU)])
def test_cuda_grid_core_staging(library, monkeypatch, tmp_path, shape, batch, cfg):
    import json
    log = tmp_path / "configs.jsonl"
    monkeypatch.setenv("TUCKER_ONNX_CONFIG", ",".join(map(str, cfg)))
    monkeypatch.setenv("TUCKER_ONNX_CONFIG_LOG", str(log))
    _check_residual_relu(shape, batch, np.float32)
    assert [json.loads(line)["chosen"] for line in log.read_text().splitlines()] == [list(cfg)]


@pytest.mark.parametrize("cfg", FORCED, ids=[",".join(map(str, c)) for c in FORCED])
@pytest.mark.parametrize("si", range(len(FORCED_SHAPES)))
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_cuda_every_variant(library, monkeypatch, tmp_path, cfg, si, dtype):
    """Every kernel variant and split, forced one at a time, against the float64 reference."""
    _check_forced(monkeypatch, tmp_path, cfg, FORCED_SHAPES[si], dtype)


# The staged kernel's tensor-core family (nsplit 3, fp16 only): every BM cap and BN, K splits of 2 and 4.
STAGED_MMA_FORCED = [(6, 32, 64, 256, 3, 32), (6, 64, 128, 256, 3, 32), (6, 128, 128, 256, 3, 32),
                     (6, 128, 64, 256, 3, 64), (6, 64, 64, 256, 3, 128)]


@pytest.mark.parametrize("cfg", STAGED_MMA_FORCED, ids=[",".join(map(str, c)) for c in STAGED_MMA_FORCED])
@pytest.mark.parametrize("si", range(len(FORCED_SHAPES)))
def test_cuda_staged_tensor_cores(library, monkeypatch, tmp_path, cfg, si):
    _check_forced(monkeypatch, tmp_path, cfg, FORCED_SHAPES[si], np.float16)


def test_cuda_staged_tensor_cores_refuse_fp32(library, monkeypatch):
    _forced_run_fails(monkeypatch, "6,64,64,256,3,32", BIG[0], "does not fit")


# Its channels-last form (nsplit 4, fp16, ranks multiples of 8): every block tile (BM 32/64, BN 64/128) on shapes
# with strides 1 and 2, kernels 1/3/5/7, asymmetric pads, dilation, maps whose size is and is not a multiple of 8
# (stage 1's 16-byte and single loads), columns that end mid-tile and cross images, several row tiles.
STAGED_NHWC_FORCED = [(6, 32, 64, 256, 4, 32), (6, 64, 128, 256, 4, 32), (6, 32, 128, 256, 4, 32),
                      (6, 64, 64, 256, 4, 32), (6, 128, 128, 256, 4, 32), (6, 128, 64, 256, 4, 32)]
# Its cluster K splits of stages 1 and 2 (kchunk 32 x 2, 4, 8; Hopper): each tile, a BM 128 x BN 128 config whose
# smaller stages split while its 128 x 128 ones cannot, and stages too short to split at all (every slice keeps
# two steps or the split halves).
STAGED_NHWC_SPLIT = [(6, 32, 64, 256, 4, 64), (6, 64, 128, 256, 4, 128), (6, 32, 128, 256, 4, 256),
                     (6, 128, 64, 256, 4, 128), (6, 128, 128, 256, 4, 128)]
NHWC_SHAPES = [(24, 40, 72, 136, 7, 9, 3, (1, 1), (1, 1, 1, 1), (1, 1)),
               (20, 72, 40, 36, 9, 8, 3, (2, 2), (0, 1, 2, 0), (2, 1)),
               (36, 40, 136, 24, 6, 6, 1, (1, 1), (0, 0, 0, 0), (1, 1)),
               (12, 40, 72, 70, 8, 7, 5, (2, 1), (2, 1, 1, 2), (1, 1)),
               (16, 8, 8, 16, 7, 7, 7, (1, 1), (3, 3, 3, 3), (1, 1)),
               (9, 16, 24, 11, 8, 8, 3, (1, 1), (1, 1, 1, 1), (1, 1))] + BIG


@pytest.mark.parametrize("cfg", STAGED_NHWC_FORCED, ids=[",".join(map(str, c)) for c in STAGED_NHWC_FORCED])
@pytest.mark.parametrize("si", range(len(NHWC_SHAPES)))
def test_cuda_staged_channels_last(library, monkeypatch, tmp_path, cfg, si):
    _check_forced(monkeypatch, tmp_path, cfg, NHWC_SHAPES[si], np.float16)


@pytest.mark.parametrize("cfg", STAGED_NHWC_SPLIT, ids=[",".join(map(str, c)) for c in STAGED_NHWC_SPLIT])
@pytest.mark.parametrize("si", range(len(NHWC_SHAPES)))
def test_cuda_staged_channels_last_k_split(library, monkeypatch, tmp_path, cfg, si):
    _check_forced(monkeypatch, tmp_path, cfg, NHWC_SHAPES[si], np.float16)


# Its fp32 form (nsplit 5, 3xTF32 on the tensor cores): the same tiles, K splits and shapes, at fp32's tolerance (TF32
# alone, ~1e-3 relative, would fail it).
STAGED_NHWC32_FORCED = [c[:4] + (5,) + c[5:] for c in STAGED_NHWC_FORCED]
STAGED_NHWC32_SPLIT = [c[:4] + (5,) + c[5:] for c in STAGED_NHWC_SPLIT]


@pytest.mark.parametrize("cfg", STAGED_NHWC32_FORCED + STAGED_NHWC32_SPLIT,
                         ids=[",".join(map(str, c)) for c in STAGED_NHWC32_FORCED + STAGED_NHWC32_SPLIT])
@pytest.mark.parametrize("si", range(len(NHWC_SHAPES)))
def test_cuda_staged_channels_last_fp32(library, monkeypatch, tmp_path, cfg, si):
    _check_forced(monkeypatch, tmp_path, cfg, NHWC_SHAPES[si], np.float32)


@pytest.mark.parametrize("batch", [1, 32])
def test_cuda_staged_channels_last_fp32_keeps_fp32_accuracy(library, monkeypatch, batch):
    """3xTF32, not TF32: on a TDC shape with a long core reduction (R1 x 9 = 1728 rows) the largest error stays
    below 1e-5 of the largest output. TF32 products alone (10-bit mantissas, 2^-11 relative each) miss that by orders
    of magnitude; so did 3xTF32 with the products chained through the tensor cores' own accumulation over the whole
    reduction (2.4e-5 at batch 32 on the H200, session 20), which does not round to nearest."""
    assert _fp32_error(monkeypatch, "6,64,128,256,5,32", BIG[-1], batch) < 1e-5


def _fp32_error(monkeypatch, cfg, shape, batch) -> float:
    """Largest error of a forced fp32 config (None: the op's own pick) against the float64 reference, relative to the
    largest output."""
    if cfg is None:
        monkeypatch.delenv("TUCKER_ONNX_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TUCKER_ONNX_CONFIG", cfg)
    rng = np.random.default_rng()
    x, w_in, w_core, w_out, b, z = _case(rng, shape, batch, True, np.float32)
    s, p, d = shape[7], shape[8], shape[9]
    model = tucker_node_model(x.shape, w_in, w_core, w_out, b, True, s, p, d, "relu", np.float32)
    want = tucker_conv(x, w_in, w_core, w_out, b, z, s, p, d, "relu")
    got = _cuda_session(model).run(None, {"X": x, "Z": z})[0].astype(np.float64)
    return float(np.abs(got - want).max() / np.abs(want).max())


# The channels-last family's wgmma form (sm_90a: every stage at BM 64/128, at fp16, TF32 and 3xTF32; fp32's stage 1
# as the transposed product, its B from registers, in each of its four warpgroup geometries): every such tile with wgmma on and off (TUCKER_ONNX_WGMMA=0), each against the
# float64 reference, on shapes whose core reductions are one step, partial steps and many steps, with strides, pads,
# dilation and columns that end mid-tile.
WGMMA_TILES = [(6, 64, 64, 256, 4, 32), (6, 64, 128, 256, 4, 32), (6, 128, 64, 256, 4, 32), (6, 128, 128, 256, 4, 32),
               (6, 64, 128, 256, 4, 128)]
WGMMA_SHAPES = [NHWC_SHAPES[i] for i in (0, 1, 3, 5)] + [BIG[1], BIG[3]]


def _staged_kernel_names(monkeypatch, cfg, shape, dtype, wgmma: str) -> set[str]:
    """Runs one forced config against the reference with TUCKER_ONNX_WGMMA=wgmma (fp32: within TF32's error, 1e-2 of
    the largest output, in the TF32 mode and fp32's, 1e-5, otherwise) and returns the names of the staged
    channels-last kernels it launched (CUPTI through torch.profiler sees ORT's launches too)."""
    import os

    import torch
    from torch.profiler import ProfilerActivity, profile
    monkeypatch.setenv("TUCKER_ONNX_WGMMA", wgmma)
    monkeypatch.setenv("TUCKER_ONNX_CONFIG", ",".join(map(str, cfg)))
    torch.cuda.init()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        if dtype == np.float16:
            _check_residual_relu(shape, 2, dtype)
        else:
            tol = 1e-2 if os.environ.get("TUCKER_ONNX_TF32") == "1" else 1e-5
            assert _fp32_error(monkeypatch, ",".join(map(str, cfg)), shape, 2) < tol
    return {e.name for e in prof.events() if "StagedNhwcKernel" in e.name}


def _nhwc_flag(name: str, i: int) -> bool:
    """Bool template argument i (5: WG, 6: PRE) of a StagedNhwcKernel<T, BM, BN, IN, OUT, WG, PRE> instantiation,
    demangled or not (mangled, the last four are ...ELb<IN>ELb<OUT>ELb<WG>ELb<PRE>EEEvPK)."""
    import re
    m = re.search(r"StagedNhwcKernel<([^>]*)>", name)
    if m is not None:
        return m.group(1).replace(" ", "").split(",")[i] == "true"
    m = re.search(r"Lb([01])ELb([01])EEEvPK", name)
    return m is not None and m.group(i - 4) == "1"


def _wg_form(name: str) -> bool:
    return _nhwc_flag(name, 5)


def _pre_split(name: str) -> bool:
    return _nhwc_flag(name, 6)


@pytest.mark.parametrize("cfg", WGMMA_TILES, ids=[",".join(map(str, c)) for c in WGMMA_TILES])
@pytest.mark.parametrize("si", range(len(WGMMA_SHAPES)))
@pytest.mark.parametrize("mode", ["fp16", "fp32-tf32", "fp32"])
def test_cuda_staged_channels_last_wgmma(library, monkeypatch, cfg, si, mode):
    """Both forms match the reference (fp16's tolerance; the TF32 mode within TF32's error, 1e-2 of the largest output;
    fp32 (3xTF32) within 1e-5), and the op launches the WG kernels (every stage at BM 64 or 128) only with wgmma
    on; on a Hopper card those run wgmma (sm_90a; tools/wgmma_probe.cu checks the instructions and layouts
    themselves)."""
    pytest.importorskip("torch")
    shape = WGMMA_SHAPES[si]
    monkeypatch.delenv("TUCKER_ONNX_WG_BM32", raising=False)
    monkeypatch.delenv("TUCKER_ONNX_SWAP32", raising=False)
    if mode == "fp32-tf32":
        monkeypatch.setenv("TUCKER_ONNX_TF32", "1")
    else:
        monkeypatch.delenv("TUCKER_ONNX_TF32", raising=False)
    if mode != "fp16":
        cfg = cfg[:4] + (5,) + cfg[5:]
    dtype = np.float16 if mode == "fp16" else np.float32
    on = _staged_kernel_names(monkeypatch, cfg, shape, dtype, "1")
    off = _staged_kernel_names(monkeypatch, cfg, shape, dtype, "0")
    # the WG form where a stage's block rows (StagedBM of its output channels under the cap) are 64 or 128: stages 1,
    # 2 and 3 (R1, R2, N); at fp16 the BM 32 ones too, widened to BM 64 (StagedWgBm32); at fp32 a BM 32 core too,
    # its operands swapped (StagedCoreSwap)
    bm = lambda m: 32 if m <= 32 or cfg[1] == 32 else 64 if m <= 64 or cfg[1] == 64 else 128
    want = 3 if mode == "fp16" else 1 + sum(bm(m) >= 64 for m in (shape[1], shape[3]))
    assert sum(map(_wg_form, on)) == want and not any(map(_wg_form, off)), (want, on, off)
    # fp32 (3xTF32) only: the core pre-split (StagedNhwcSplitsCore) where R2 spans two row tiles or more, except at
    # BM 128 x BN 128
    want_pre = int(mode == "fp32" and bm(shape[2]) >= 64 and shape[2] > bm(shape[2])
                   and not (bm(shape[2]) == 128 and cfg[2] == 128))
    assert sum(map(_pre_split, on)) == want_pre and not any(map(_pre_split, off)), (want_pre, on, off)


# StagedWgBm32: with wgmma, stages whose channels fit BM 32 run as the WG kernel at BM 64 (fp16 by default, fp32 with
# TUCKER_ONNX_WG_BM32=1; =0 keeps them on the WMMA kernel at BM 32). Ranks <= 32 (stage 1 and the core at a cap of
# 64; every stage at a cap of 32), a K split, a strided 5x5 core, and stage 1 writing the split t1 of a pre-split core
# (R2 72).
WG_BM32_SHAPES = [(16, 24, 32, 40, 6, 6, 3, (1, 1), (1, 1, 1, 1), (1, 1)),
                  (24, 32, 16, 40, 9, 8, 5, (2, 1), (2, 2, 1, 2), (1, 1)),
                  (16, 24, 72, 40, 6, 6, 3, (1, 1), (1, 1, 1, 1), (1, 1))]
WG_BM32_TILES = [(6, 64, 64, 256, 4, 32), (6, 64, 128, 256, 4, 64), (6, 32, 128, 256, 4, 32)]


@pytest.mark.parametrize("cfg", WG_BM32_TILES, ids=[",".join(map(str, c)) for c in WG_BM32_TILES])
@pytest.mark.parametrize("si", range(len(WG_BM32_SHAPES)))
@pytest.mark.parametrize("mode", ["fp16", "fp32"])
def test_cuda_staged_wg_bm32(library, monkeypatch, cfg, si, mode):
    """Widened (fp16 by default, either type with TUCKER_ONNX_WG_BM32=1) every stage runs the WG kernel (the BM 32
    ones at BM 64) and matches the reference (fp16's tolerance; fp32 within 1e-5); not widened (fp32 by default, or
    =0) the BM 32 stages keep the WMMA kernel."""
    pytest.importorskip("torch")
    monkeypatch.delenv("TUCKER_ONNX_TF32", raising=False)
    monkeypatch.setenv("TUCKER_ONNX_SWAP32", "0")  # (the fp32 core's default at BM 32: test_cuda_staged_core_swap)
    shape = WG_BM32_SHAPES[si]
    if mode == "fp32":
        cfg = cfg[:4] + (5,) + cfg[5:]
    dtype = np.float16 if mode == "fp16" else np.float32
    monkeypatch.setenv("TUCKER_ONNX_WG_BM32", "1")
    wide = _staged_kernel_names(monkeypatch, cfg, shape, dtype, "1")
    monkeypatch.setenv("TUCKER_ONNX_WG_BM32", "0")
    plain = _staged_kernel_names(monkeypatch, cfg, shape, dtype, "1")
    monkeypatch.delenv("TUCKER_ONNX_WG_BM32")
    default = _staged_kernel_names(monkeypatch, cfg, shape, dtype, "1")
    assert wide and all(map(_wg_form, wide)), wide
    assert not all(map(_wg_form, plain)), plain  # stage 1 (R1 <= 32) at least takes the WMMA kernel
    assert default == (wide if mode == "fp16" else plain), (default, wide, plain)


def _nhwc_bm(name: str) -> int:
    """BM of a StagedNhwcKernel<T, BM, BN, ...> instantiation, demangled or not (mangled: ...KernelI<T>Li<BM>E...)."""
    import re
    m = re.search(r"StagedNhwcKernel<[^,]*,\s*(\d+)", name) or re.search(r"StagedNhwcKernelI(?:f|6__half)Li(\d+)E", name)
    assert m is not None, name
    return int(m.group(1))


@pytest.mark.parametrize("cfg", WG_BM32_TILES, ids=[",".join(map(str, c)) for c in WG_BM32_TILES])
@pytest.mark.parametrize("si", range(2))
@pytest.mark.parametrize("mode", ["fp16", "fp32-tf32", "fp32"])
def test_cuda_staged_core_swap(library, monkeypatch, cfg, si, mode):
    """StagedCoreSwap: the core stage at BM 32 (R2 32 and 16) as the WG kernel with the operands' roles swapped
    (pixels on wgmma's M; TUCKER_ONNX_SWAP32=1, =2 with fp32's operands pre-split; fp32's default) matches the
    reference at each type's tolerance, on both BN (BN 64: N 16 per warpgroup), with a K split and a strided 5x5
    core; =0 keeps the core off the WG kernel at BM 32."""
    pytest.importorskip("torch")
    monkeypatch.delenv("TUCKER_ONNX_WG_BM32", raising=False)
    if mode == "fp32-tf32":
        monkeypatch.setenv("TUCKER_ONNX_TF32", "1")
    else:
        monkeypatch.delenv("TUCKER_ONNX_TF32", raising=False)
    shape = WG_BM32_SHAPES[si]
    if mode != "fp16":
        cfg = cfg[:4] + (5,) + cfg[5:]
    dtype = np.float16 if mode == "fp16" else np.float32
    swapped = lambda names: [n for n in names if _nhwc_bm(n) == 32 and _wg_form(n)]
    for v in ("1", "2", "0", None):
        if v is None:
            monkeypatch.delenv("TUCKER_ONNX_SWAP32")
        else:
            monkeypatch.setenv("TUCKER_ONNX_SWAP32", v)
        names = _staged_kernel_names(monkeypatch, cfg, shape, dtype, "1")
        on = v in ("1", "2") or (v is None and mode != "fp16")
        assert len(swapped(names)) == int(on), (v, names)
        pre = v == "2" and mode == "fp32"
        assert [_pre_split(n) for n in swapped(names)] == ([pre] if on else []), (v, names)


@pytest.mark.parametrize("cfg", ["6,64,128,256,5,32", "6,128,128,256,5,32", "6,128,64,256,5,128"])
@pytest.mark.parametrize("batch", [1, 32])
def test_cuda_wgmma_3xtf32_keeps_fp32_accuracy(library, monkeypatch, cfg, batch):
    """The fp32 form's wgmma path (3xTF32 with per-step partial sums) keeps fp32's accuracy on the longest TDC core
    reduction (R1 x 9 = 1728 rows), with and without a K split; TF32 alone misses 1e-5 by orders of magnitude."""
    monkeypatch.delenv("TUCKER_ONNX_TF32", raising=False)
    monkeypatch.setenv("TUCKER_ONNX_WGMMA", "1")
    assert _fp32_error(monkeypatch, cfg, BIG[-1], batch) < 1e-5


def test_cuda_staged_channels_last_fp32_form_refuses_fp16(library, monkeypatch):
    _forced_run_fails(monkeypatch, "6,64,64,256,5,32", BIG[0], "does not fit", dtype=np.float16)


def test_cuda_staged_channels_last_refuses_fp32_and_odd_ranks(library, monkeypatch):
    _forced_run_fails(monkeypatch, "6,64,64,256,4,32", BIG[0], "does not fit")
    _forced_run_fails(monkeypatch, "6,32,64,256,4,32", SHAPES[0], "does not fit", dtype=np.float16)  # ranks 4 and 6
    _forced_run_fails(monkeypatch, "6,32,64,256,5,32", SHAPES[0], "does not fit")  # the fp32 form's too


def test_cuda_bad_forced_config(library, monkeypatch):
    _forced_run_fails(monkeypatch, "9,1,1,100,1,32", SHAPES[0], "TUCKER_ONNX_CONFIG")


# The tensor-core kernel (variant 4; these fp16, nsplit 1) on the TDC-like shapes (all multiples of 16).
WMMA_FORCED = [(4, 4, 4, 256, 1, 32), (4, 8, 8, 256, 1, 32), (4, 3, 5, 256, 1, 32)]


@pytest.mark.parametrize("cfg", WMMA_FORCED, ids=[",".join(map(str, c)) for c in WMMA_FORCED])
@pytest.mark.parametrize("shape", BIG, ids=[f"big{i}" for i in range(len(BIG))])
def test_cuda_wmma_variant(library, monkeypatch, tmp_path, cfg, shape):
    _check_forced(monkeypatch, tmp_path, cfg, shape, np.float16)


def test_cuda_wmma_refuses_fp32(library, monkeypatch):
    _forced_run_fails(monkeypatch, "4,4,4,256,1,32", BIG[0], "does not fit")


# Its weights staged in shared memory first (nsplit 2): the BIG shapes whose weights fit, and the shape families of
# the emulator's WMMA cases (strides, kernels 1/3/5, asymmetric pads, dilation, N != C, partial tiles).
WMMA_SHAPES = [(32, 16, 16, 32, 8, 8, 3, (1, 1), (1, 1, 1, 1), (1, 1)),
               (48, 32, 16, 64, 9, 9, 3, (2, 2), (1, 1, 1, 1), (1, 1)),
               (16, 16, 32, 16, 7, 7, 5, (1, 1), (2, 2, 2, 2), (1, 1)),
               (32, 16, 16, 32, 6, 10, 1, (1, 1), (0, 0, 0, 0), (1, 1)),
               (32, 16, 16, 32, 11, 9, 3, (1, 1), (0, 2, 1, 0), (1, 2))]
WMMA_W_FORCED = [(4, 4, 4, 256, 2, 32), (4, 8, 8, 256, 2, 32), (4, 3, 5, 256, 2, 32), (4, 2, 4, 256, 2, 32)]
WMMA_W_SHAPES = [BIG[0], BIG[2]] + WMMA_SHAPES
# (BIG[2]'s stride-2 8x8 tile reads a 17x17 window: with its weights, more than a block's shared memory)
WMMA_W_CASES = [(cfg, si) for cfg in WMMA_W_FORCED for si in range(len(WMMA_W_SHAPES))
                if not (si == 1 and cfg[1] == 8)]


@pytest.mark.parametrize("cfg,si", WMMA_W_CASES, ids=[f"{si}-{','.join(map(str, c))}" for c, si in WMMA_W_CASES])
def test_cuda_wmma_staged_weights(library, monkeypatch, tmp_path, cfg, si):
    _check_forced(monkeypatch, tmp_path, cfg, WMMA_W_SHAPES[si], np.float16)


# Its cluster split (kchunk = 32 x cs: a cluster of cs blocks per tile, each with a slice of every stage's rows and
# weights, t1/t2 rows shared over DSMEM; Hopper): uneven slices (3 groups of 16 rows over 2 blocks), cs 3, a 1x1 core
# (its reduction split over warps one step at a time), stride 2 with asymmetric pads, kernel 5, dilation, and the
# large-rank shapes the split is for (BIG[1]; BIG[3], whose weights no single block holds).
WMMA_CLUSTER_SHAPES = [(64, 48, 32, 64, 9, 9, 3, (1, 1), (1, 1, 1, 1), (1, 1)),
                       (48, 32, 48, 32, 9, 8, 3, (2, 2), (1, 0, 1, 1), (1, 1)),
                       (32, 48, 48, 32, 7, 7, 5, (1, 1), (2, 2, 2, 2), (1, 1)),
                       (64, 64, 64, 64, 6, 10, 1, (1, 1), (0, 0, 0, 0), (1, 1)),
                       (32, 32, 32, 48, 11, 9, 3, (1, 1), (0, 2, 1, 0), (1, 2))]
WMMA_CLUSTER_CASES = [(WMMA_CLUSTER_SHAPES[0], (4, 4, 4, 256, 2, 64)), (WMMA_CLUSTER_SHAPES[1], (4, 2, 4, 256, 2, 64)),
                      (WMMA_CLUSTER_SHAPES[2], (4, 4, 4, 256, 2, 96)), (WMMA_CLUSTER_SHAPES[3], (4, 4, 8, 256, 2, 128)),
                      (WMMA_CLUSTER_SHAPES[4], (4, 3, 5, 256, 2, 64)), (BIG[1], (4, 4, 4, 256, 2, 128)),
                      (BIG[1], (4, 2, 4, 256, 2, 256)), (BIG[3], (4, 4, 4, 256, 2, 512)), (BIG[3], (4, 2, 4, 256, 2, 512)),
                      (BIG[0], (4, 8, 8, 256, 2, 64))]


@pytest.mark.parametrize("shape,cfg", WMMA_CLUSTER_CASES,
                         ids=[f"{i}-{','.join(map(str, c))}" for i, (_, c) in enumerate(WMMA_CLUSTER_CASES)])
def test_cuda_wmma_cluster_split(library, monkeypatch, tmp_path, shape, cfg):
    _check_forced(monkeypatch, tmp_path, cfg, shape, np.float16)


def test_cuda_wmma_staged_weights_refuses_what_does_not_fit(library, monkeypatch):
    """512:192->160:512's weights (0.9 MB) cannot be staged in one block's shared memory."""
    _forced_run_fails(monkeypatch, "4,4,4,256,2,32", BIG[3], "does not fit", dtype=np.float16)


# Its fp32 form (nsplit 3: 3xTF32 from staged weights, every buffer fp32): each tile shape on BIG[0] and the shape
# families above, the cluster split on the small shapes and on BIG[1] (whose fp32 weights need 8 blocks).
WMMA32_FORCED = [c[:4] + (3, 32) for c in WMMA_W_FORCED]
WMMA32_CASES = [(cfg, sh) for cfg in WMMA32_FORCED for sh in [BIG[0]] + WMMA_SHAPES]
WMMA32_CASES += [(c[:4] + (3, c[5]), sh) for sh, c in WMMA_CLUSTER_CASES[:5]] + [((4, 4, 4, 256, 3, 256), BIG[1])]


@pytest.mark.parametrize("cfg,shape", WMMA32_CASES, ids=[f"{i}-{','.join(map(str, c))}" for i, (c, _) in enumerate(WMMA32_CASES)])
def test_cuda_wmma_fp32(library, monkeypatch, tmp_path, cfg, shape):
    _check_forced(monkeypatch, tmp_path, cfg, shape, np.float32)


@pytest.mark.parametrize("batch", [1, 3])
def test_cuda_wmma_fp32_keeps_fp32_accuracy(library, monkeypatch, batch):
    """3xTF32 with a fresh fragment per 16-row step, not TF32: on BIG[1] (a core reduction of 864 rows, its 8-block
    cluster split) the largest error stays below 1e-5 of the largest output, as the staged family's fp32 form does."""
    assert _fp32_error(monkeypatch, "4,4,4,256,3,256", BIG[1], batch) < 1e-5


# The fp32 tensor-core forms' TF32 mode (TUCKER_ONNX_TF32=1): the WMMA kernel plain and split over a cluster, the
# channels-last staged family with and without a K split, on reductions of 576-1728 rows.
TF32_CASES = [("4,4,4,256,3,32", 0), ("4,4,4,256,3,256", 1), ("6,64,128,256,5,32", 3), ("6,64,64,256,5,128", 1)]


@pytest.mark.parametrize("cfg,big", TF32_CASES, ids=[c for c, _ in TF32_CASES])
def test_cuda_tf32_mode(library, monkeypatch, cfg, big):
    """TUCKER_ONNX_TF32=1: TF32's error (10-bit mantissas, as cuDNN's TF32 convolutions), not 3xTF32's, so the mode is
    engaged; with NVIDIA_TF32_OVERRIDE=0, which turns TF32 off in cuDNN, fp32's accuracy again."""
    monkeypatch.setenv("TUCKER_ONNX_TF32", "1")
    err = _fp32_error(monkeypatch, cfg, BIG[big], 2)
    assert 1e-5 < err < 1e-2, err
    monkeypatch.setenv("NVIDIA_TF32_OVERRIDE", "0")
    assert _fp32_error(monkeypatch, cfg, BIG[big], 2) < 1e-5


@pytest.mark.parametrize("big", [0, 1, 3])
def test_cuda_tf32_mode_model_picks(library, monkeypatch, tmp_path, big):
    """TF32 mode without a forced config: the model picks per shape under its own cache key (" tf32"), within TF32's
    error of the reference."""
    import json
    log = tmp_path / "configs.jsonl"
    monkeypatch.setenv("TUCKER_ONNX_TF32", "1")
    monkeypatch.setenv("TUCKER_ONNX_CONFIG_LOG", str(log))
    assert _fp32_error(monkeypatch, None, BIG[big], 1) < 1e-2
    (entry,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert entry["key"].startswith("fp32 ") and entry["key"].endswith(" tf32"), entry["key"]


def test_cuda_wmma_forms_refuse_the_other_type_and_what_does_not_fit(library, monkeypatch):
    _forced_run_fails(monkeypatch, "4,4,4,256,2,32", BIG[0], "does not fit")  # the fp16 forms at fp32
    _forced_run_fails(monkeypatch, "4,4,4,256,3,32", BIG[0], "does not fit", dtype=np.float16)  # the fp32 form at fp16
    _forced_run_fails(monkeypatch, "4,4,4,256,3,32", BIG[1], "does not fit")  # 0.6 MB of fp32 weights in one block


@pytest.mark.parametrize("k", [1, 8])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_cuda_quick_tuner(library, monkeypatch, tmp_path, k, dtype):
    """TUCKER_ONNX_TUNE=top<K> times the model's K cheapest configs (the model's own pick first) and runs the
    fastest, which must still match the reference."""
    import json
    log = tmp_path / "configs.jsonl"
    monkeypatch.setenv("TUCKER_ONNX_TUNE", f"top{k}")
    monkeypatch.setenv("TUCKER_ONNX_CONFIG_LOG", str(log))
    _check_residual_relu(BIG[1], 2, dtype)
    (entry,) = [json.loads(line) for line in log.read_text().splitlines()]
    timed = entry["timings_ms"]
    # fp16 with channels and ranks multiples of 16: the WMMA form that reads its weights from global memory (nsplit 1,
    # which the model does not price) is timed too, after the shortlist (which may hold the priced WMMA forms)
    extra = [t for t in timed if t[0] == 4 and t[4] == 1]
    shortlist = [t for t in timed if not (t[0] == 4 and t[4] == 1)]
    assert 1 <= len(shortlist) <= k and shortlist[0][:6] == entry["model"]
    assert len(extra) == (3 if dtype == np.float16 else 0), timed
    assert entry["chosen"] == min(timed, key=lambda t: t[6])[:6]


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_cuda_exhaustive_tuner_times_the_wmma_cluster_split(library, monkeypatch, tmp_path, dtype):
    """The exhaustive tuner also times the WMMA kernel's cluster split (every cluster size; the model prices 2) where
    no plain WMMA tile fits one block (here W_core alone is 240 KB in fp16), in the dtype's form (nsplit 2 fp16, 3
    fp32), and runs the fastest config it timed."""
    import json
    log = tmp_path / "configs.jsonl"
    monkeypatch.setenv("TUCKER_ONNX_TUNE", "exhaustive")
    monkeypatch.setenv("TUCKER_ONNX_CONFIG_LOG", str(log))
    _check_residual_relu((64, 64, 208, 64, 8, 8, 3, (1, 1), (1, 1, 1, 1), (1, 1)), 1, dtype)
    (entry,) = [json.loads(line) for line in log.read_text().splitlines()]
    timed = entry["timings_ms"]
    form = 2 if dtype == np.float16 else 3
    split = [t for t in timed if t[0] == 4 and t[5] > 32]
    assert split and all(t[4] == form for t in split), timed
    assert not [t for t in timed if t[0] == 4 and t[4] == form and t[5] == 32]  # no plain staged-weight tile fits
    assert entry["chosen"] == min(timed, key=lambda t: t[6])[:6]


def test_cuda_bad_tune_mode(library, monkeypatch):
    _forced_run_fails(monkeypatch, "fastest", SHAPES[0], "TUCKER_ONNX_TUNE", var="TUCKER_ONNX_TUNE")
