#!/usr/bin/env python3
"""Runs one fused Tucker layer a few times on the CUDA provider, without CUDA graphs, so that Nsight Compute can
profile its kernels: python tools/ncu_layer.py --c 384 --r1 192 --r2 96 --hw 28 --batch 32 --config 6,64,64,256,1,32
under `ncu --kernel-name regex:StagedConv ...` (tools/gpu_ncu_layer.sh). The config is forced through
TUCKER_ONNX_CONFIG; without one the model picks."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_layers import stack_models  # noqa: E402
from tucker_onnx import make_session  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--c", type=int, required=True)
    ap.add_argument("--r1", type=int, required=True)
    ap.add_argument("--r2", type=int, required=True)
    ap.add_argument("--n", type=int, help="output channels (default: C)")
    ap.add_argument("--hw", type=int, required=True)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--dtype", choices=["fp32", "fp16"], default="fp32")
    ap.add_argument("--config", help="variant,th,tw,threads,nsplit,kchunk")
    ap.add_argument("--runs", type=int, default=8,
                    help="runs of the layer (gpu_common.sh ncu_layer skips its first 3 kernel launches)")
    args = ap.parse_args()
    if args.config:
        os.environ["TUCKER_ONNX_CONFIG"] = args.config
    import onnxruntime as ort
    ort.preload_dlls()
    rng = np.random.default_rng(0)
    fused, _, _ = stack_models(args.c, args.n or args.c, args.r1, args.r2, args.hw, args.k, 1, args.batch, args.dtype,
                               1, rng)
    sess = make_session(fused, providers=["CUDAExecutionProvider", "CPUExecutionProvider"], library=True)
    x = rng.standard_normal((args.batch, args.c, args.hw, args.hw)).astype(np.float16 if args.dtype == "fp16" else np.float32)
    for _ in range(args.runs):
        sess.run(None, {"X": x})
    print("ran", args.runs, "times")


if __name__ == "__main__":
    main()
