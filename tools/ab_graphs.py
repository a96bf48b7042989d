#!/usr/bin/env python3
"""Times several ONNX graphs of one model side by side in ORT's CUDA provider (CUDA graphs on, IOBinding, library
registered), in interleaved rounds whose order flips every round, after checking that their outputs agree with the
first graph's. Why: a graph-level change (a rewrite rule) worth a few percent is below the spread between two runs,
so its before and after must be timed in one process, as bench_models.py times original / unfused / fused.

Usage: python tools/ab_graphs.py a.onnx b.onnx [c.onnx ...] [--batch 1] [--tf32 off] [--rounds 7] [--repeats 30]
       [--out ab.json] [--provider cuda|cpu]   (cpu: no CUDA graphs; for checking the tool itself)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import onnx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--tf32", choices=["off", "ort-default"], default="off")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--repeats", type=int, default=30, help="timed runs per graph and round")
    ap.add_argument("--out")
    ap.add_argument("--provider", choices=["cuda", "cpu"], default="cuda")
    a = ap.parse_args()
    if a.tf32 == "off":  # read by cuDNN when it initialises: before any session exists
        os.environ["NVIDIA_TF32_OVERRIDE"] = "0"
    from tucker_onnx.profile.timing import measure, open_session
    first = onnx.load(a.models[0], load_external_data=False).graph.input[0]
    dims = [d.dim_value or a.batch for d in first.type.tensor_type.shape.dim]
    dims[0] = a.batch
    dt = np.float16 if first.type.tensor_type.elem_type == onnx.TensorProto.FLOAT16 else np.float32
    feeds = {first.name: np.random.default_rng(0).standard_normal(dims).astype(dt)}
    # one session per argument: a graph named twice gets two sessions, the run's control for session-to-session spread
    gpu = a.provider == "cuda"
    sessions = [open_session(p, a.provider, library=True, cuda_graph=gpu) for p in a.models]
    outs = [s.run(None, feeds)[0].astype(np.float64) for s in sessions]  # (a graph session runs once per check)
    errs = [float(np.abs(y - outs[0]).max() / (np.abs(outs[0]).max() + 1e-12)) for y in outs]
    order = list(range(len(sessions)))
    samples = [[] for _ in sessions]
    for r in range(a.rounds):
        for i in (order if r % 2 == 0 else order[::-1]):
            samples[i].append(measure(sessions[i], feeds, 20 if r == 0 else 3, a.repeats, a.provider).median_ms)
    base = float(np.median(samples[0]))
    rows = []
    for i, p in enumerate(a.models):
        ms = float(np.median(samples[i]))
        rows.append({"model": p, "median_ms": ms, "vs_first": base / ms, "rel_err_vs_first": errs[i],
                     "round_medians_ms": samples[i]})
        print(f"{i}: {Path(p).name:36s} {ms:8.4f} ms  x{base / ms:.3f} vs first  (rel err {errs[i]:.1e})", flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps({"batch": a.batch, "tf32": a.tf32, "provider": a.provider, "rows": rows},
                                          indent=1))


if __name__ == "__main__":
    main()
