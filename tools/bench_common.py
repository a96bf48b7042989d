"""Shared benchmark plumbing: CUDA sessions, IOBinding + CUDA-graph timing, environment block."""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time

import numpy as np

from tucker_onnx import make_session
from tucker_onnx.profile.environment import (KERNEL_SWITCHES, switch_description, switch_report_key, tf32_mode,
                                             wgmma_mode)  # tf32_mode: cuDNN's use_tf32

CUDA = ["CUDAExecutionProvider", "CPUExecutionProvider"]


def cuda_options(graph: bool, algo: str = "EXHAUSTIVE", fp16: bool = False) -> list[dict]:
    """use_tf32 0 for fp32 models (TuckerConv keeps fp32's accuracy, FFMA or 3xTF32: cuDNN gets no TF32 either, whose
    ~1e-3 error would be a less accurate baseline), 1 where TuckerConv runs TF32 too (tf32_mode). fp16 models keep
    ORT's default: use_tf32 0 also keeps cuDNN's fp16 convs off the tensor cores (session 10: the triplet's kernels were
    FFMA/SIMT ones, 20-35% slower than in a model under ORT's defaults), an unfair baseline for fp16."""
    return [{"enable_cuda_graph": "1" if graph else "0", "cudnn_conv_algo_search": algo,
             "cudnn_conv_use_max_workspace": "1", "use_tf32": "1" if fp16 or tf32_mode() else "0"}, {}]


def busy_us(intervals) -> float:
    """Length of the union of (start, end) intervals: the time at least one kernel ran. Why (session 30): under
    programmatic dependent launch a kernel starts before its predecessor ends and CUPTI charges it the wait, so a
    plain sum of kernel durations overstates GPU time (the fused ResNet-18 at batch 1: 435 us summed, 384 without
    PDL, 389 us spanned by one graph replay)."""
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def kernel_us_per_run(sess, io, runs: int = 10) -> dict | None:
    """GPU time of the kernels one Run launches (CUPTI, through torch.profiler; graph replays included), so
    per-Run host and launch overhead can be told apart from kernel time: kernel_us sums the kernels' durations,
    busy_us counts the time overlapping kernels share once. None where profiling is unavailable."""
    try:
        from torch.autograd import DeviceType
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(runs):
                sess.run_with_iobinding(io)
        kernels = [e for e in prof.events() if e.device_type == DeviceType.CUDA]
        if not kernels:
            return None
        total = sum(e.time_range.elapsed_us() for e in kernels)
        busy = busy_us((e.time_range.start, e.time_range.end) for e in kernels)
        return {"kernel_us": total / runs, "busy_us": busy / runs, "kernels_per_run": len(kernels) / runs}
    except Exception as e:  # no CUPTI, or an API change: the wall-clock numbers still stand
        return {"error": f"{type(e).__name__}: {e}"}


def time_session(model, feeds: dict, graph: bool = True, library: bool = True, warmup: int = 20,
                 iters: int = 200, repeats: int = 5, budget_s: float = 0.25, kernels: bool = False) -> dict:
    """Median / p90 ms per Run over `repeats` x `iters` runs with IOBinding (outputs pre-allocated); iters
    shrinks so one repeat takes about budget_s. kernels: also the CUPTI kernel time per Run."""
    fp16 = any(v.dtype == np.float16 for v in feeds.values())
    sess = make_session(model, providers=CUDA, library=library, provider_options=cuda_options(graph, fp16=fp16))
    assert sess.get_providers()[0] == "CUDAExecutionProvider"
    # The reference output comes from a separate session without CUDA graphs; the timed session is only ever run
    # through IOBinding on fixed device buffers, so the captured graph uses them.
    ref = make_session(model, providers=CUDA, library=library, provider_options=cuda_options(False, fp16=fp16))
    y = ref.run(None, feeds)[0]
    del ref
    from tucker_onnx.profile.timing import bind_on_device
    io, keep = bind_on_device(sess, feeds)
    for _ in range(warmup):
        sess.run_with_iobinding(io)
    t0 = time.perf_counter()
    for _ in range(3):
        sess.run_with_iobinding(io)
    per_run = (time.perf_counter() - t0) / 3
    iters = max(5, min(iters, int(budget_s / max(per_run, 1e-6))))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iters):
            sess.run_with_iobinding(io)
        samples.append((time.perf_counter() - t0) / iters * 1e3)
    out = {"median_ms": statistics.median(samples), "p90_ms": float(np.percentile(samples, 90)),
           "min_ms": min(samples), "iters": iters, "output": y}
    if kernels:
        out["kernels"] = kernel_us_per_run(sess, io)
    return out


def environment() -> dict:
    import onnxruntime as ort
    env = {"onnxruntime": ort.__version__, "python": platform.python_version()}
    try:
        q = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=20).stdout.strip()
        env["gpu"], env["driver"], env["gpu_memory"] = [s.strip() for s in q.split(",")]
    except Exception:
        pass
    try:
        import torch
        env["torch"] = torch.__version__
        env["cuda_runtime"] = torch.version.cuda
        env["cudnn"] = torch.backends.cudnn.version()
    except Exception:
        pass
    # How the fused op picks its configs (unset: the analytical model).
    env["tucker_onnx_env"] = {k: v for k, v in os.environ.items() if k.startswith("TUCKER_ONNX_") and k != "TUCKER_ONNX_CONFIG_LOG"}
    # Programmatic dependent launch: the op's default on Hopper and later (constant weights); said here because the
    # default leaves no trace in the environment (session 14).
    env["tucker_onnx_pdl"] = "off (TUCKER_ONNX_PDL=0)" if os.environ.get("TUCKER_ONNX_PDL") == "0" else \
        "on where the GPU has it (compute capability 9+) and the weights are constant"
    # The channels-last staged family's wgmma form (session 23): on by default where the library has sm_90a code.
    env["tucker_onnx_wgmma"] = "on (sm_90a code; TUCKER_ONNX_WGMMA=0 for WMMA)" if wgmma_mode() else \
        "off (TUCKER_ONNX_WGMMA=0)"
    for var in KERNEL_SWITCHES:  # the rank-32 stages' forms (each forced or the op's default)
        env[f"tucker_onnx_{switch_report_key(var)}"] = switch_description(var)
    env["session"] = {"providers": CUDA, "provider_options": cuda_options(True)[0] | {"enable_cuda_graph": "on and off per row",
                      "use_tf32": ("1 for every row: fp32 rows compare TuckerConv's TF32 mode (TUCKER_ONNX_TF32=1) "
                                   "with cuDNN's TF32" if tf32_mode() else
                                   "0 for fp32 rows, 1 (ORT's default) for fp16 rows")},
                      "io_binding": True, "graph_optimization_level": "ORT_ENABLE_ALL"}
    return env


def measure_bandwidth_gbs() -> float | None:
    try:
        import torch
        a = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
        b = torch.empty_like(a)
        for _ in range(3):
            b.copy_(a)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(20):
            b.copy_(a)
        torch.cuda.synchronize()
        return 2 * a.numel() * 20 / (time.perf_counter() - t0) / 1e9
    except Exception:
        return None


def dump(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
