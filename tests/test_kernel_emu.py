"""The CUDA kernels' own source (tiled, split-K, cluster, tensor-core and grid), run on the CPU through custom_ops/emu (one host thread
per CUDA thread, barriers for __syncthreads and cluster.sync, NaN-filled shared memory), against the float64
reference.

Runs everywhere g++ does, CI included: a kernel bug is caught before device time is spent on it. The kernel's
speed is measured only on the GPU (tools/bench_layers.py); tests/test_kernel_cuda.py runs it there for real.
"""
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from test_kernel_cpu import SHAPES, TOL, _case
from test_kernel_cuda import BIG, FORCED, GRID_STAGE_SHAPES
from tucker_onnx.op.reference import tucker_conv

ROOT = Path(__file__).resolve().parents[1]

# (shape, batch, config (variant 3, th, tw, threads, cluster size, 32 = weights from global / 64 = staged)):
# every CPU-test shape family (strides, kernels 1/3/5/7, padding, dilation), odd cluster sizes, clusters larger than
# a stage's rows, tiles that leave partial tiles, and few threads, so each stage needs several rounds of thread tiles
# (the bug of the first cluster kernel, found on the GPU in session 3).
CONFIGS = [(3, 4, 4, 64, 2, 32), (3, 2, 8, 32, 3, 64), (3, 7, 7, 64, 4, 32), (3, 1, 1, 32, 2, 64),
           (3, 8, 8, 32, 2, 32), (3, 3, 5, 64, 8, 64)]
CASES = [(SHAPES[i], 2, CONFIGS[i % len(CONFIGS)], np.float32) for i in range(len(SHAPES))]
CASES += [(SHAPES[i], 1, CONFIGS[(i + 3) % len(CONFIGS)], np.float16) for i in range(0, len(SHAPES), 2)]
CASES += [(BIG[0][:4] + (14, 14) + BIG[0][6:], 1, (3, 7, 7, 128, 4, 64), np.float32),
          (BIG[2][:4] + (12, 12) + BIG[2][6:], 2, (3, 4, 4, 64, 3, 32), np.float32)]
# The tiled (0, 1), split-K (2), grid (5) and staged (6) kernels: the configs the GPU tests force, each on three shapes (fp32)
# and one (fp16). The grid kernel runs as on a 2-SM GPU (several rounds of tasks per stage), its scratch NaN-filled.
OTHERS = [c for c in FORCED if c[0] != 3]
assert any(c[0] == 5 for c in OTHERS)
CASES += [(SHAPES[(j + 3 * i) % len(SHAPES)], 2, cfg, np.float32) for j, cfg in enumerate(OTHERS) for i in range(3)]
CASES += [(SHAPES[(j + 1) % len(SHAPES)], 1, cfg, np.float16) for j, cfg in enumerate(OTHERS)]
# The grid kernel's quad-vector weight loads (channels and ranks multiples of 4, a 3x3 core, R1 a multiple of the
# R1 group): slices rounded to whole quads, S warps of which some get empty slices, stride 1 and 2.
GRID_VEC_SHAPES = [(16, 8, 12, 20, 9, 9, 3, (1, 1), (1, 1, 1, 1), (1, 1)),
                   (12, 12, 8, 16, 8, 7, 3, (2, 2), (1, 0, 1, 1), (1, 1))]
GRID = [c for c in OTHERS if c[0] == 5]
CASES += [(sh, 2, cfg, np.float32) for sh in GRID_VEC_SHAPES for cfg in GRID]
CASES += [(GRID_VEC_SHAPES[i % 2], 1, cfg, np.float16) for i, cfg in enumerate(GRID)]
# The tensor-core kernel (variant 4, fp16, channels and ranks multiples of 16): strides, kernels 1/3/5, asymmetric
# pads, dilation, N != C, tiles of 15 pixels (padded to 16) and partial tiles.
from test_kernel_cuda import WMMA_SHAPES, WMMA_W_FORCED  # noqa: E402
WMMA_CONFIGS = [(4, 4, 4, 256, 1, 32), (4, 2, 8, 256, 1, 32), (4, 3, 5, 256, 1, 32), (4, 8, 8, 256, 1, 32)]
CASES += [(sh, 2, WMMA_CONFIGS[i % len(WMMA_CONFIGS)], np.float16) for i, sh in enumerate(WMMA_SHAPES)]
# Its weights staged in shared memory by cp.async (nsplit 2): every shape, a tile shape of the GPU tests each.
CASES += [(sh, 2, WMMA_W_FORCED[i % len(WMMA_W_FORCED)], np.float16) for i, sh in enumerate(WMMA_SHAPES)]
# 48-pixel tiles: 6 im2col segments per row, so 4 of the 256 threads have no segment.
CASES += [(WMMA_SHAPES[i], 1, (4, 6, 8, 256, 2, 32), np.float16) for i in (1, 4)]
# im2col in several chunks (WmmaChunkR1): 4 chunks of 16 r1 rows (R1 64 at 5x5), 2 of 32 (R1 64 at 3x3, 32-pixel
# tiles); every other WMMA case builds its im2col in one chunk.
CASES += [((16, 64, 16, 16, 7, 7, 5, (1, 1), (2, 2, 2, 2), (1, 1)), 2, (4, 4, 4, 256, 2, 32), np.float16),
          ((32, 64, 32, 32, 8, 8, 3, (1, 1), (1, 1, 1, 1), (1, 1)), 1, (4, 4, 8, 256, 2, 32), np.float16)]
# More output channels than the 512 biases the threads keep in registers (the rest is loaded at the store).
CASES += [((16, 16, 16, 544, 5, 5, 3, (1, 1), (1, 1, 1, 1), (1, 1)), 1, (4, 4, 4, 256, 2, 32), np.float16)]
# The staged kernel (variant 6) on shapes whose stages reach every block tile (M of 40, 72 and 136 channels: BM 64
# and 128, partial row tiles, two row tiles), columns that end mid-tile and cross images, each core family.
STAGED_SHAPES = [(24, 40, 72, 136, 7, 9, 3, (1, 1), (1, 1, 1, 1), (1, 1)),
                 (20, 72, 40, 36, 9, 8, 3, (2, 2), (0, 1, 2, 0), (2, 1)),
                 (36, 40, 136, 24, 6, 6, 1, (1, 1), (0, 0, 0, 0), (1, 1)),
                 (12, 40, 72, 70, 8, 7, 5, (2, 1), (2, 1, 1, 2), (1, 1))]
STAGED = [c for c in FORCED if c[0] == 6]
CASES += [(sh, 3, cfg, np.float32) for sh in STAGED_SHAPES for cfg in STAGED]
CASES += [(STAGED_SHAPES[i % 4], 2, cfg, np.float16) for i, cfg in enumerate(STAGED)]
# Its tensor-core family (nsplit 3, fp16): every block tile on every staged shape, K splits included.
from test_kernel_cuda import STAGED_MMA_FORCED  # noqa: E402
CASES += [(sh, 2, cfg, np.float16) for sh in STAGED_SHAPES for cfg in STAGED_MMA_FORCED]
# Its channels-last form (nsplit 4): every block tile on the GPU tests' shapes (maps of 8x8/9x8/8x7 take stage 1's
# 16-byte loads, the others single loads); the big ones shrunk to 10x10 maps.
from test_kernel_cuda import NHWC_SHAPES, STAGED_NHWC_FORCED  # noqa: E402
_NHWC_EMU = NHWC_SHAPES[:6] + [sh[:4] + (10, 10) + sh[6:] for sh in NHWC_SHAPES[6:]]
CASES += [(sh, 2, STAGED_NHWC_FORCED[i % len(STAGED_NHWC_FORCED)], np.float16) for i, sh in enumerate(_NHWC_EMU)]
CASES += [(_NHWC_EMU[1], 3, cfg, np.float16) for cfg in STAGED_NHWC_FORCED]
# Its BM 128 tiles (two A groups per thread) where a stage has more than 64 output channels: the core and stage 3 of
# shapes 0 and 3 (72 and 136 / 70 channels, the last row tile partial).
CASES += [(_NHWC_EMU[i], 2, cfg, np.float16) for i in (0, 3) for cfg in STAGED_NHWC_FORCED[4:]]
# Its cluster K splits (DSMEM sums of the slices' partial tiles): the core split 4 ways (12 steps, 3 per slice),
# 2 ways on a 5x5 strided core whose BM 128 tile splits, 4 ways on the core of a 128 x 128 config whose stage 1 (a
# 128 x 128 tile) cannot, uneven slices (21 steps in 4), and stage 1 split 8 ways (512 channels, 16 steps).
from test_kernel_cuda import STAGED_NHWC_SPLIT  # noqa: E402
CASES += [(_NHWC_EMU[0], 2, STAGED_NHWC_SPLIT[1], np.float16), (_NHWC_EMU[3], 2, STAGED_NHWC_SPLIT[3], np.float16),
          (_NHWC_EMU[1], 2, STAGED_NHWC_SPLIT[4], np.float16), (_NHWC_EMU[6], 2, STAGED_NHWC_SPLIT[0], np.float16),
          (_NHWC_EMU[9], 1, STAGED_NHWC_SPLIT[2], np.float16)]
# Its fp32 form (nsplit 5, 3xTF32; the emulated tensor cores read a TF32 operand without its low 13 bits, as the
# hardware does, so a missing or wrong split fails fp32's tolerance): every block tile on every shape, the BM 128
# tiles where a stage has more than 64 channels, and cluster K splits (the core 2 and 4 ways, stage 1 8 ways).
from test_kernel_cuda import STAGED_NHWC32_FORCED, STAGED_NHWC32_SPLIT  # noqa: E402
CASES += [(sh, 2, STAGED_NHWC32_FORCED[(i + 3) % len(STAGED_NHWC32_FORCED)], np.float32)
          for i, sh in enumerate(_NHWC_EMU)]
CASES += [(_NHWC_EMU[i], 2, cfg, np.float32) for i in (0, 3) for cfg in STAGED_NHWC32_FORCED[4:]]
CASES += [(_NHWC_EMU[0], 2, STAGED_NHWC32_SPLIT[1], np.float32), (_NHWC_EMU[3], 2, STAGED_NHWC32_SPLIT[3], np.float32),
          (_NHWC_EMU[9], 1, STAGED_NHWC32_SPLIT[2], np.float32)]
CASES += [(WMMA_SHAPES[0], 1, WMMA_CONFIGS[1], np.float16), (WMMA_SHAPES[1], 1, WMMA_CONFIGS[3], np.float16),
          (WMMA_SHAPES[4], 1, (4, 4, 8, 256, 1, 32), np.float16)]  # a tile shape the autotuners now time

# Its cluster split (kchunk = 32 x cs, DSMEM gathers of t1/t2 rows, warps splitting a tile's reduction): the GPU
# tests' small shapes, each with its config.
from test_kernel_cuda import WMMA_CLUSTER_CASES, WMMA_CLUSTER_SHAPES  # noqa: E402
CASES += [(sh, 2, cfg, np.float16) for sh, cfg in WMMA_CLUSTER_CASES if sh in WMMA_CLUSTER_SHAPES]
# Its fp32 form (nsplit 3, 3xTF32 from staged weights; the emulated tensor cores read TF32 operands as the hardware
# does, so a missing split fails fp32's tolerance): every shape with a tile shape each, 48-pixel tiles, im2col in
# chunks, more biases than registers, and the cluster split.
CASES += [(sh, 2, WMMA_W_FORCED[i % len(WMMA_W_FORCED)][:4] + (3, 32), np.float32) for i, sh in enumerate(WMMA_SHAPES)]
CASES += [(WMMA_SHAPES[1], 1, (4, 6, 8, 256, 3, 32), np.float32),
          ((16, 64, 16, 16, 7, 7, 5, (1, 1), (2, 2, 2, 2), (1, 1)), 2, (4, 4, 4, 256, 3, 32), np.float32),
          ((32, 64, 32, 32, 8, 8, 3, (1, 1), (1, 1, 1, 1), (1, 1)), 1, (4, 4, 8, 256, 3, 32), np.float32),
          ((16, 16, 16, 544, 5, 5, 3, (1, 1), (1, 1, 1, 1), (1, 1)), 1, (4, 4, 4, 256, 3, 32), np.float32)]
CASES += [(sh, 2, cfg[:4] + (3, cfg[5]), np.float32) for sh, cfg in WMMA_CLUSTER_CASES[:3] if sh in WMMA_CLUSTER_SHAPES]

def _build_emulator(tmp_path_factory, *defines, source="kernel_emu.cc"):
    cxx = shutil.which("g++")
    if cxx is None:
        pytest.skip("g++ not found: the emulator is built with it")
    exe = tmp_path_factory.mktemp("emu") / Path(source).stem
    emu = ROOT / "custom_ops/emu"
    subprocess.run([cxx, "-std=c++20", "-O1", "-pthread", "-Wno-unknown-pragmas", *defines, f"-I{emu / 'stubs'}",
                    f"-I{emu}", f"-I{ROOT / 'custom_ops/src/cuda'}", str(emu / source), "-o", str(exe)],
                   check=True)
    return exe


def test_wgmma_shared_memory_layouts(tmp_path_factory):
    """The wgmma form's ring layouts (the 64-byte swizzle, K-major and N-major) and accumulator layout, which the
    emulator cannot run (wgmma is Hopper hardware): permutations of their tiles, rows inside their rows or atoms, the
    descriptor strides, and conflict-free 16-byte columns; fp32 stage 1's copies, its register-operand loads (each
    value once, conflict-free) and its transposed accumulators' writes (custom_ops/emu/wgmma_layout_check.cc)."""
    exe = _build_emulator(tmp_path_factory, source="wgmma_layout_check.cc")
    out = subprocess.run([str(exe)], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "OK", out.stdout[-2000:]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    return _build_emulator(tmp_path_factory)


@pytest.fixture(scope="module")
def emulator_flags(tmp_path_factory):
    """The grid kernel built with TUCKER_GRID_FLAGS=1: stage 3 waits on counters instead of a grid barrier."""
    return _build_emulator(tmp_path_factory, "-DTUCKER_GRID_FLAGS=1")


def run_emulated(exe, tmp, x, w_in, w_core, w_out, b, z, strides, pads, dilations, relu, cfg, tf32=False,
                 wgmma=False):
    """Writes the tensors and the problem, runs the emulated kernel, returns Y. tf32: Problem::tf32 (the fp32
    tensor-core forms' TF32 mode, TUCKER_ONNX_TF32=1). wgmma: the staged channels-last family's WG kernels (their
    WMMA body here) with fp32's pre-split operands, as the GPU runs them."""
    n_, c, h, w = x.shape
    r1, r2, k = w_in.shape[0], w_core.shape[0], w_core.shape[2]
    n = w_out.shape[0]
    pt, pl, pb, pr = pads
    ho = (h + pt + pb - dilations[0] * (k - 1) - 1) // strides[0] + 1
    wo = (w + pl + pr - dilations[1] * (k - 1) - 1) // strides[1] + 1
    half = x.dtype == np.float16
    fields = [n_, c, h, w, r1, r2, k, k, n, ho, wo, *strides, pt, pl, *dilations, int(relu), int(z is not None),
              int(half), *cfg, int(tf32), int(wgmma)]
    (tmp / "params.txt").write_text(" ".join(map(str, fields)))
    for name, a in (("x", x), ("w_in", w_in), ("w_core", w_core), ("w_out", w_out), ("b", b), ("z", z)):
        if a is not None:
            np.ascontiguousarray(a).tofile(tmp / f"{name}.bin")
    subprocess.run([str(exe), str(tmp)], check=True, timeout=300)
    return np.fromfile(tmp / "y.bin", dtype=x.dtype).reshape(n_, n, ho, wo)


@pytest.mark.parametrize("shape,batch,cfg,dtype", CASES,
                         ids=[f"{i}-{','.join(map(str, c[2]))}-{c[3].__name__}" for i, c in enumerate(CASES)])
def test_emulated_kernel_matches_reference(emulator, tmp_path, shape, batch, cfg, dtype):
    rng = np.random.default_rng()  # fresh inputs every run
    x, w_in, w_core, w_out, b, z = _case(rng, shape, batch, True, dtype)
    s, p, d = shape[7], shape[8], shape[9]
    want = tucker_conv(x, w_in, w_core, w_out, b, z, s, p, d, "relu")
    got = run_emulated(emulator, tmp_path, x, w_in, w_core, w_out, b, z, s, p, d, True, cfg)
    assert np.isfinite(got.astype(np.float64)).all()  # no read of unwritten (NaN-filled) shared memory
    tol = TOL[dtype] if dtype == np.float32 else dict(atol=5e-2, rtol=5e-2)
    np.testing.assert_allclose(got.astype(np.float64), want, **tol)


# The fp32 tensor-core forms' TF32 mode (Problem::tf32): the WMMA kernel (plain, 48-pixel tiles, im2col in chunks, the
# cluster split) and the channels-last staged family (every block tile once, a K split).
TF32_CASES = [(WMMA_SHAPES[0], (4, 4, 4, 256, 3, 32)), (WMMA_SHAPES[1], (4, 6, 8, 256, 3, 32)),
              ((16, 64, 16, 16, 7, 7, 5, (1, 1), (2, 2, 2, 2), (1, 1)), (4, 4, 4, 256, 3, 32))]
TF32_CASES += [(sh, cfg[:4] + (3, cfg[5])) for sh, cfg in WMMA_CLUSTER_CASES[:1] if sh in WMMA_CLUSTER_SHAPES]
TF32_CASES += [(_NHWC_EMU[i % len(_NHWC_EMU)], cfg) for i, cfg in enumerate(STAGED_NHWC32_FORCED)]
TF32_CASES += [(_NHWC_EMU[0], STAGED_NHWC32_SPLIT[1])]


@pytest.mark.parametrize("shape,cfg", TF32_CASES, ids=[f"{i}-{','.join(map(str, c))}" for i, (_, c) in enumerate(TF32_CASES)])
def test_emulated_tf32_mode(emulator, tmp_path, shape, cfg):
    """TF32 mode: within TF32's error of the float64 reference (10-bit mantissas: ~1e-3 relative), and not at 3xTF32's
    (~1e-6): the flag reaches the kernel and its products really are single TF32 ones."""
    rng = np.random.default_rng()
    x, w_in, w_core, w_out, b, z = _case(rng, shape, 2, True, np.float32)
    s, p, d = shape[7], shape[8], shape[9]
    want = tucker_conv(x, w_in, w_core, w_out, b, z, s, p, d, "relu")
    got = run_emulated(emulator, tmp_path, x, w_in, w_core, w_out, b, z, s, p, d, True, cfg, tf32=True)
    err = float(np.abs(got.astype(np.float64) - want).max() / np.abs(want).max())
    assert 1e-5 < err < 1e-2, err


@pytest.mark.parametrize("shape,cfg,dtype", [(SHAPES[4], (3, 4, 4, 64, 2, 64), np.float32),
                                             (WMMA_SHAPES[4], (4, 2, 4, 256, 2, 32), np.float16)])
def test_emulated_kernel_without_residual_or_relu(emulator, tmp_path, shape, cfg, dtype):
    rng = np.random.default_rng()
    x, w_in, w_core, w_out, b, _ = _case(rng, shape, 1, False, dtype)
    want = tucker_conv(x, w_in, w_core, w_out, b, None, shape[7], shape[8], shape[9], "none")
    got = run_emulated(emulator, tmp_path, x, w_in, w_core, w_out, b, None, shape[7], shape[8], shape[9], False, cfg)
    assert (want < 0).any()  # without Relu, negative outputs must survive
    tol = TOL[dtype] if dtype == np.float32 else dict(atol=5e-2, rtol=5e-2)
    np.testing.assert_allclose(got.astype(np.float64), want, **tol)


# The grid kernel with per-column-group counters in place of its second grid barrier (TUCKER_GRID_FLAGS=1, a
# build-time knob tools/grid_probe.cu times): every grid config, runs and spread, S = 1 and S > 1, on shapes with
# several column groups per block and blocks that wait on groups other blocks finish.
FLAG_CASES = [(sh, b, cfg, np.float32) for sh in GRID_VEC_SHAPES + SHAPES[:2] + SHAPES[4:5] for cfg in GRID
              for b in (1, 3)]
FLAG_CASES += [(GRID_VEC_SHAPES[0], 2, cfg, np.float16) for cfg in GRID]


@pytest.mark.parametrize("shape,batch,cfg,dtype", FLAG_CASES,
                         ids=[f"{i}-{','.join(map(str, c[2]))}-{c[3].__name__}" for i, c in enumerate(FLAG_CASES)])
def test_emulated_grid_kernel_with_counters(emulator_flags, tmp_path, shape, batch, cfg, dtype):
    rng = np.random.default_rng()
    x, w_in, w_core, w_out, b, z = _case(rng, shape, batch, True, dtype)
    s, p, d = shape[7], shape[8], shape[9]
    want = tucker_conv(x, w_in, w_core, w_out, b, z, s, p, d, "relu")
    got = run_emulated(emulator_flags, tmp_path, x, w_in, w_core, w_out, b, z, s, p, d, True, cfg)
    assert np.isfinite(got.astype(np.float64)).all()  # no stage-3 read of t2 before its group was stored
    tol = TOL[dtype] if dtype == np.float32 else dict(atol=5e-2, rtol=5e-2)
    np.testing.assert_allclose(got.astype(np.float64), want, **tol)


# fp32's pre-split core (StagedNhwcSplitsCore): in the WG kernels, where R2 spans two row tiles or more, the core
# reads high and low parts of t1 (written by stage 1) and of its packed weights (written by stage 1's packing blocks)
# instead of splitting each copied group in shared memory. The emulator runs those kernels' WMMA body, whose products
# take the same values either way, so each output must equal the split-in-place run's bit for bit: a part read from
# the wrong place, or a low part left unwritten (scratch starts as NaN), changes it. BM 64 with R2 72 (two row tiles)
# on each BN, a K split of the core (the low parts written by stage 1's slices' sums), a strided 5x5 core, and a BM
# 128 config whose core does not pre-split (R2 72: one row tile) while its stage 1 (BM 64) would, a stage 1 at BM 32
# (R1 24) writing the split t1 for a BM 64 core; the TF32 mode too.
_R1_24 = (16, 24, 72, 40, 6, 6, 3, (1, 1), (1, 1, 1, 1), (1, 1))
PRESPLIT_CASES = [(_R1_24, (6, 64, 64, 256, 5, 32), False, True), (_R1_24, (6, 64, 128, 256, 5, 64), False, True),
                  (_NHWC_EMU[0], (6, 64, 128, 256, 5, 32), False, True),
                  (_NHWC_EMU[0], (6, 64, 64, 256, 5, 32), False, True),
                  (_NHWC_EMU[0], (6, 64, 128, 256, 5, 128), False, True),
                  (_NHWC_EMU[3], (6, 64, 64, 256, 5, 64), False, True),
                  (_NHWC_EMU[3], (6, 128, 64, 256, 5, 32), False, False),
                  (_NHWC_EMU[0], (6, 64, 128, 256, 5, 32), True, False)]


# StagedWgBm32: with wgmma, stages whose channels fit BM 32 run as the WG kernel at BM 64, half its rows past the
# stage's channels (fp16 by default; TUCKER_ONNX_WG_BM32=1 or =0 forces it either way). Ranks <= 32: stage 1 and
# the core at a BM cap of 64, every stage at a cap of 32 (stage 3's 40 channels then in one widened tile), a K split
# of the core, stage 1 (R1 24) writing the split t1 for a pre-split core (R2 72 at BM 64), and fp16.
_R32 = (16, 24, 32, 40, 6, 6, 3, (1, 1), (1, 1, 1, 1), (1, 1))
WG_BM32_CASES = [(_R32, (6, 64, 64, 256, 5, 32), np.float32), (_R32, (6, 32, 128, 256, 5, 32), np.float32),
                 (_R32, (6, 64, 128, 256, 5, 64), np.float32), (_R1_24, (6, 64, 64, 256, 5, 32), np.float32),
                 (_R32, (6, 64, 128, 256, 4, 32), np.float16), (_R32, (6, 32, 64, 256, 4, 32), np.float16)]


@pytest.mark.parametrize("shape,cfg,dtype", WG_BM32_CASES,
                         ids=[f"{i}-{','.join(map(str, c))}-{d.__name__}" for i, (_, c, d) in enumerate(WG_BM32_CASES)])
def test_emulated_wg_bm32_matches_reference(emulator, tmp_path, monkeypatch, shape, cfg, dtype):
    rng = np.random.default_rng()
    x, w_in, w_core, w_out, b, z = _case(rng, shape, 2, True, dtype)
    s, p, d = shape[7], shape[8], shape[9]
    want = tucker_conv(x, w_in, w_core, w_out, b, z, s, p, d, "relu")
    monkeypatch.setenv("TUCKER_ONNX_WG_BM32", "1")
    got = run_emulated(emulator, tmp_path, x, w_in, w_core, w_out, b, z, s, p, d, True, cfg, wgmma=True)
    assert (tmp_path / "wg_bm32.txt").read_text().strip() == "1"
    assert np.isfinite(got.astype(np.float64)).all()
    tol = TOL[dtype] if dtype == np.float32 else dict(atol=5e-2, rtol=5e-2)
    np.testing.assert_allclose(got.astype(np.float64), want, **tol)
    monkeypatch.setenv("TUCKER_ONNX_WG_BM32", "0")
    run_emulated(emulator, tmp_path, x, w_in, w_core, w_out, b, z, s, p, d, True, cfg, wgmma=True)
    assert (tmp_path / "wg_bm32.txt").read_text().strip() == "0"
    monkeypatch.delenv("TUCKER_ONNX_WG_BM32")  # the default: widened at fp16 only
    got = run_emulated(emulator, tmp_path, x, w_in, w_core, w_out, b, z, s, p, d, True, cfg, wgmma=True)
    assert (tmp_path / "wg_bm32.txt").read_text().strip() == ("1" if dtype == np.float16 else "0")
    np.testing.assert_allclose(got.astype(np.float64), want, **tol)


# StagedCoreSwap: with wgmma, a core stage whose channels fit BM 32 runs as the WG kernel at BM 32 with the operands'
# roles swapped (fp32 by default; TUCKER_ONNX_SWAP32=1, =2 with the operands pre-split, or =0 forces it). Here the
# body is the WMMA form, so this checks the launcher's side: the kernel, its shared memory, and mode 2's scratch (t1's
# and the packed weights' low parts, NaN until written). R2 32 and 16, both BN, a K split, a strided 5x5 core, fp16.
_R2_16 = (24, 32, 16, 40, 9, 8, 5, (2, 1), (2, 2, 1, 2), (1, 1))
SWAP_CASES = [(_R32, (6, 64, 128, 256, 5, 32), np.float32), (_R32, (6, 64, 64, 256, 5, 32), np.float32),
              (_R32, (6, 64, 128, 256, 5, 64), np.float32), (_R2_16, (6, 32, 64, 256, 5, 32), np.float32),
              (_R32, (6, 64, 128, 256, 4, 32), np.float16), (_R2_16, (6, 64, 64, 256, 4, 64), np.float16)]


@pytest.mark.parametrize("shape,cfg,dtype", SWAP_CASES,
                         ids=[f"{i}-{','.join(map(str, c))}-{d.__name__}" for i, (_, c, d) in enumerate(SWAP_CASES)])
def test_emulated_core_swap_matches_reference(emulator, tmp_path, monkeypatch, shape, cfg, dtype):
    rng = np.random.default_rng()
    x, w_in, w_core, w_out, b, z = _case(rng, shape, 2, True, dtype)
    s, p, d = shape[7], shape[8], shape[9]
    want = tucker_conv(x, w_in, w_core, w_out, b, z, s, p, d, "relu")
    tol = TOL[dtype] if dtype == np.float32 else dict(atol=5e-2, rtol=5e-2)
    monkeypatch.delenv("TUCKER_ONNX_WG_BM32", raising=False)
    for mode in (None, "0", "1", "2"):
        if mode is None:
            monkeypatch.delenv("TUCKER_ONNX_SWAP32", raising=False)
        else:
            monkeypatch.setenv("TUCKER_ONNX_SWAP32", mode)
        got = run_emulated(emulator, tmp_path, x, w_in, w_core, w_out, b, z, s, p, d, True, cfg, wgmma=True)
        ran = int((tmp_path / "swap32.txt").read_text())
        assert ran == (int(mode) if mode is not None else 1 if dtype == np.float32 else 0), (mode, ran)
        pre = int((tmp_path / "presplit.txt").read_text())
        assert pre == int(ran == 2 and dtype == np.float32), (mode, pre)
        assert np.isfinite(got.astype(np.float64)).all(), mode
        np.testing.assert_allclose(got.astype(np.float64), want, **tol, err_msg=str(mode))


@pytest.mark.parametrize("shape,cfg,tf32,split", PRESPLIT_CASES,
                         ids=[f"{i}-{','.join(map(str, c))}-{'tf32' if t else 'fp32'}"
                              for i, (_, c, t, _) in enumerate(PRESPLIT_CASES)])
def test_emulated_presplit_core_equals_split_in_place(emulator, tmp_path, shape, cfg, tf32, split):
    rng = np.random.default_rng()
    x, w_in, w_core, w_out, b, z = _case(rng, shape, 2, True, np.float32)
    s, p, d = shape[7], shape[8], shape[9]
    args = (x, w_in, w_core, w_out, b, z, s, p, d, True, cfg)
    got = run_emulated(emulator, tmp_path, *args, tf32=tf32, wgmma=True)
    assert (tmp_path / "presplit.txt").read_text().strip() == str(int(split))
    base = run_emulated(emulator, tmp_path, *args, tf32=tf32, wgmma=False)
    assert (tmp_path / "presplit.txt").read_text().strip() == "0"
    assert np.isfinite(got).all()
    np.testing.assert_array_equal(got, base)
    if not tf32:
        want = tucker_conv(x, w_in, w_core, w_out, b, z, s, p, d, "relu")
        np.testing.assert_allclose(got.astype(np.float64), want, **TOL[np.float32])


# The grid kernel's fp32 3x3 core stage with each warp's t1 rows and weights staged in shared memory (slices of >= 2
# R1 groups whose window fits; tucker_conv_grid_layout.h): 7x7 maps with column groups that cross images at batch
# 3, stride 2 with asymmetric pads on a non-square map, dilation 2; every grid config, and `stages` says whether the
# launch gets the buffer (where no task fits or every slice is one R1 group, it must not).
GRID_STAGE_CASES = [(sh, b, cfg) for sh in GRID_STAGE_SHAPES for cfg in GRID for b in (1, 3)]


def _grid_stages(shape, batch, cfg):
    """Whether the launch should get the staging buffer: every warp's R1 slice is >= 2 groups of 4, and some group of
    32 columns lies in one image, and every such group's window fits 1152 floats (checked here from first principles,
    not with the kernel's own code)."""
    c, r1, r2, n, h, w, k, (sh, sw), (pt, pl, pb, pr), (dh, dw) = shape
    _, mb, s = cfg[:3]
    slice_ = min(-(-(-(-r1 // s)) // 4) * 4, r1)
    if slice_ < 8:
        return False
    ho = (h + pt + pb - dh * (k - 1) - 1) // sh + 1
    wo = (w + pl + pr - dw * (k - 1) - 1) // sw + 1
    needs = []
    for q0 in range(0, batch * ho * wo, 32):
        q1 = min(q0 + 31, batch * ho * wo - 1)
        if q0 // (ho * wo) != q1 // (ho * wo):
            continue  # columns of two images: loaded from global memory
        o0, o1 = q0 % (ho * wo), q1 % (ho * wo)
        lo, hi = max(0, (o0 // wo) * sh - pt), min(h - 1, (o1 // wo) * sh - pt + (k - 1) * dh)
        needs.append(-(-(slice_ * max(0, hi - lo + 1) * w) // 4) * 4 + mb * slice_ * 12)
    return bool(needs) and max(needs) <= 1152


@pytest.mark.parametrize("shape,batch,cfg", GRID_STAGE_CASES,
                         ids=[f"{i}-b{b}-{','.join(map(str, c))}" for i, (_, b, c) in enumerate(GRID_STAGE_CASES)])
def test_emulated_grid_core_staging(emulator, tmp_path, shape, batch, cfg):
    rng = np.random.default_rng()
    x, w_in, w_core, w_out, b, z = _case(rng, shape, batch, True, np.float32)
    s, p, d = shape[7], shape[8], shape[9]
    want = tucker_conv(x, w_in, w_core, w_out, b, z, s, p, d, "relu")
    got = run_emulated(emulator, tmp_path, x, w_in, w_core, w_out, b, z, s, p, d, True, cfg)
    staged = int((tmp_path / "grid_stage.txt").read_text())
    assert (staged > 0) == _grid_stages(shape, batch, cfg), staged
    assert np.isfinite(got.astype(np.float64)).all()
    np.testing.assert_allclose(got.astype(np.float64), want, **TOL[np.float32])


def test_grid_core_staging_covers_both_paths():
    """The cases above reach both the staged and the global-load path (else the test could not catch a bug in one)."""
    got = {_grid_stages(sh, b, cfg) for sh, b, cfg in GRID_STAGE_CASES}
    assert got == {True, False}
