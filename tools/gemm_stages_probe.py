#!/usr/bin/env python3
"""How fast could the staged kernel's stages run? Times, on the GPU with torch (CUDA events around CUDA-graph replays,
the median of several), each stage of a Tucker layer done by NVIDIA's libraries in the layouts the
channels-last family uses: stage 1 as a cuBLAS batched GEMM from the model's channels-first input to channels-last
t1, the core as a cuDNN conv in channels_last memory format, stage 3 as a cuBLAS batched GEMM from channels-last t2
to the channels-first output, with the residual folded in (baddbmm). Why (session 18): at batch 32 the staged
kernel loses to the cuDNN triplet on the large-rank 28x28 shapes, and session 11 measured cuBLAS's 1x1 GEMMs ~2.5x
faster than ours; this says which stage a library call would win back before any op code is written.

Usage: python tools/gemm_stages_probe.py --shape 384:192->96:384@28 [--shape ...] [--batch 32] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

SHAPE = re.compile(r"^(\d+):(\d+)->(\d+):(\d+)@(\d+)$")


def time_us(fn, iters: int = 50, repeats: int = 7) -> float:
    """Per call, from a CUDA graph of `iters` calls replayed `repeats` times: launched one by one from Python, every
    call here took ~30 us whatever its size (torch's per-op CPU cost, not the GPU's; session 18, call 3)."""
    import torch
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            fn()  # warm-up outside capture (cuDNN's benchmark search, cuBLAS workspaces)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(iters):
            fn()
    graph.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) * 1e3 / iters)
    return statistics.median(times)


def probe(shape: str, batch: int) -> dict:
    import torch
    import torch.nn.functional as F
    m = SHAPE.match(shape)
    if m is None:
        raise SystemExit(f"--shape must look like 384:192->96:384@28, got {shape!r}")
    c, r1, r2, n, hw = map(int, m.groups())
    dev, dt = "cuda", torch.float16
    x = torch.randn(batch, c, hw, hw, device=dev, dtype=dt)
    z = torch.randn(batch, n, hw * hw, device=dev, dtype=dt)
    w_in = torch.randn(r1, c, device=dev, dtype=dt) / c ** 0.5
    w_core = torch.randn(r2, r1, 3, 3, device=dev, dtype=dt) / (9 * r1) ** 0.5
    w_out = torch.randn(n, r2, device=dev, dtype=dt) / r2 ** 0.5
    xv = x.view(batch, c, hw * hw)
    t1 = torch.matmul(xv.transpose(1, 2), w_in.t())  # [batch, HW, R1]: channels-last t1
    t1_cl = t1.view(batch, hw, hw, r1).permute(0, 3, 1, 2)  # NCHW view of channels_last memory
    assert t1_cl.is_contiguous(memory_format=torch.channels_last)
    w_core_cl = w_core.contiguous(memory_format=torch.channels_last)
    t2 = F.conv2d(t1_cl, w_core_cl, padding=1)
    t2_cl = t2.contiguous(memory_format=torch.channels_last).permute(0, 2, 3, 1).reshape(batch, hw * hw, r2)
    w_out_b = w_out.expand(batch, n, r2)
    out = {
        "shape": shape, "batch": batch,
        "stage1_cublas_us": time_us(lambda: torch.matmul(xv.transpose(1, 2), w_in.t())),
        "core_cudnn_channels_last_us": time_us(lambda: F.conv2d(t1_cl, w_core_cl, padding=1)),
        "stage3_cublas_us": time_us(lambda: torch.matmul(w_out, t2_cl.transpose(1, 2))),
        "stage3_cublas_residual_us": time_us(lambda: torch.baddbmm(z, w_out_b, t2_cl.transpose(1, 2))),
        "triplet_torch_nchw_us": time_us(lambda: F.conv2d(F.conv2d(F.conv2d(x, w_in[:, :, None, None]), w_core,
                                                                          padding=1), w_out[:, :, None, None])),
    }
    out["library_stages_sum_us"] = (out["stage1_cublas_us"] + out["core_cudnn_channels_last_us"] +
                                    out["stage3_cublas_residual_us"])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", action="append", required=True)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--out")
    a = ap.parse_args()
    import torch
    if not torch.cuda.is_available():
        print("no CUDA device: this probe times GPU kernels", file=sys.stderr)
        return 1
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False
    rows = [probe(s, a.batch) for s in a.shape]
    env = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "cuda": torch.version.cuda,
           "cudnn": torch.backends.cudnn.version()}
    lines = [f"{env}", "", "| shape | batch | stage 1 cuBLAS | core cuDNN (NHWC) | stage 3 cuBLAS | + residual | sum | "
             "torch NCHW triplet |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['shape']} | {r['batch']} | {r['stage1_cublas_us']:.1f} | {r['core_cudnn_channels_last_us']:.1f} "
                     f"| {r['stage3_cublas_us']:.1f} | {r['stage3_cublas_residual_us']:.1f} | "
                     f"{r['library_stages_sum_us']:.1f} | {r['triplet_torch_nchw_us']:.1f} |")
    print("\n".join(lines))
    if a.out:
        Path(a.out).mkdir(parents=True, exist_ok=True)
        (Path(a.out) / "gemm_stages.json").write_text(json.dumps({"env": env, "rows": rows}, indent=1))
        (Path(a.out) / "gemm_stages.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
