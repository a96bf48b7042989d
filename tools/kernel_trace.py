#!/usr/bin/env python3
"""GPU kernels of one Tucker layer, one by one: the fused op, the same triplet as three ORT Convs (cuDNN) and the
dense conv, each run alone (CUDA provider, no CUDA graphs) under CUPTI (torch.profiler). Why: wall time per layer
says which side wins, not where its time goes (which stage, which cuDNN kernel, layout transposes).

Usage: python tools/kernel_trace.py --shape 64:64->32:64@56 --shape 512:192->160:512@7 --batch 32 --dtype fp16
       [--config 6,32,128,256,3,32] [--stack 4] [--out trace.json]
       python tools/kernel_trace.py --model a.onnx --model b.onnx --batch 32   (whole models, e.g. the graphs of
       tools/export_bench_models.py: their kernels grouped by name, so a model-level gap can be placed)
A shape is C:R1->R2:N@HW (3x3 core, stride 1, pad 1); N == C is needed for --stack > 1.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import CUDA, busy_us, cuda_options  # noqa: E402
from bench_layers import stack_models  # noqa: E402
from tucker_onnx import make_session  # noqa: E402

SHAPE = re.compile(r"^(\d+):(\d+)->(\d+):(\d+)@(\d+)$")


def parse_shape(s: str) -> tuple[int, int, int, int, int]:
    m = SHAPE.match(s)
    if not m:
        raise SystemExit(f"error: shape {s!r} is not C:R1->R2:N@HW")
    return tuple(int(g) for g in m.groups())


def trace(model, feeds: dict, library: bool, runs: int, sequence: list | None = None, graph: bool = False,
          busy: list | None = None) -> list[dict]:
    """[{name, calls per run, us per run}] of the kernels one Run launches, heaviest first. sequence: a list to fill
    with one more Run's kernels in launch order ({kernel, start_us from the first, us}), so that the launches of one
    kernel in different layers can be told apart. graph: Runs replay a CUDA graph (CUPTI still sees each kernel), so
    that the sequence's gaps between kernels are the GPU's, not the host's launches."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile
    from tucker_onnx.profile.timing import bind_on_device
    fp16 = any(v.dtype == np.float16 for v in feeds.values())
    sess = make_session(model, providers=CUDA, library=library, provider_options=cuda_options(graph, fp16=fp16))
    io, keep = bind_on_device(sess, feeds)
    for _ in range(20):
        sess.run_with_iobinding(io)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(runs):
            sess.run_with_iobinding(io)
    agg = defaultdict(lambda: [0, 0.0])
    for e in prof.events():
        if e.device_type == DeviceType.CUDA:
            agg[e.name][0] += 1
            agg[e.name][1] += e.time_range.elapsed_us()
    rows = [{"kernel": k, "calls": n / runs, "us": us / runs} for k, (n, us) in agg.items()]
    if busy is not None:  # the time at least one kernel ran: PDL's early starts counted once (bench_common.busy_us)
        busy.append(busy_us((e.time_range.start, e.time_range.end) for e in prof.events()
                            if e.device_type == DeviceType.CUDA) / runs)
    if sequence is not None:
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            sess.run_with_iobinding(io)
        ev = sorted((e for e in prof.events() if e.device_type == DeviceType.CUDA), key=lambda e: e.time_range.start)
        t0 = ev[0].time_range.start if ev else 0
        sequence += [{"kernel": e.name, "start_us": e.time_range.start - t0, "us": e.time_range.elapsed_us()} for e in ev]
    return sorted(rows, key=lambda r: -r["us"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", action="append", default=[])
    ap.add_argument("--model", action="append", default=[], help="an ONNX model (input batch taken from --batch)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--dtype", choices=["fp32", "fp16"], default="fp16")
    ap.add_argument("--config", help="force the fused op's config (variant,th,tw,threads,nsplit,kchunk)")
    ap.add_argument("--stack", type=int, default=1)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--sequence", action="store_true", help="--model: also one Run's kernels in launch order")
    ap.add_argument("--graphs", action="store_true", help="--model: Runs replay a CUDA graph")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.config:
        os.environ["TUCKER_ONNX_CONFIG"] = args.config
    import onnxruntime as ort
    ort.preload_dlls()
    rng = np.random.default_rng(0)
    report = []
    for path in args.model:
        import onnx
        model = onnx.load(path)
        inp = model.graph.input[0]
        dims = [d.dim_value or args.batch for d in inp.type.tensor_type.shape.dim]
        dims[0] = args.batch
        dt = np.float16 if inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT16 else np.float32
        seq, busy = ([] if args.sequence else None), []
        rows = trace(model, {inp.name: rng.standard_normal(dims).astype(dt)}, True, args.runs, seq, args.graphs, busy)
        total = sum(r["us"] for r in rows)
        print(f"{Path(path).name} b{args.batch}: {total:.1f} us of kernels per run ({sum(r['calls'] for r in rows):.0f} "
              f"launches), {busy[0]:.1f} us with a kernel running")
        for r in rows[:25]:
            print(f"    {r['us']:9.2f} us  x{r['calls']:.0f}  {r['kernel'][:150]}")
        report.append({"model": path, "batch": args.batch, "kernels": rows, "busy_us": busy[0]})
        if seq is not None:
            print("  one Run in launch order (start us, us, gap after the previous kernel's end us, kernel):")
            end = 0.0
            for r in seq:
                print(f"    {r['start_us']:9.1f} {r['us']:8.2f} {r['start_us'] - end:7.2f}  {r['kernel'][:100]}")
                end = max(end, r["start_us"] + r["us"])
            report[-1]["sequence"] = seq
    for s in args.shape:
        c, r1, r2, n, hw = parse_shape(s)
        L = args.stack if c == n else 1
        fused, trip, dense = stack_models(c, n, r1, r2, hw, 3, 1, args.batch, args.dtype, L, rng)
        x = rng.standard_normal((args.batch, c, hw, hw)).astype(np.float16 if args.dtype == "fp16" else np.float32)
        entry = {"shape": s, "batch": args.batch, "dtype": args.dtype, "stack": L, "config": args.config}
        for name, model, lib in (("fused", fused, True), ("triplet", trip, False), ("dense", dense, False)):
            rows = trace(model, {"X": x}, lib, args.runs)
            entry[name] = rows
            total = sum(r["us"] for r in rows) / L
            print(f"{s} b{args.batch} {args.dtype} {name}: {total:.1f} us of kernels per layer "
                  f"({sum(r['calls'] for r in rows) / L:.0f} launches)")
            for r in rows:
                print(f"    {r['us'] / L:9.2f} us  x{r['calls'] / L:.0f}  {r['kernel'][:150]}")
        report.append(entry)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
