#!/usr/bin/env python3
"""Layer benchmark: fused TuckerConv vs the same triplet as three ORT Conv nodes (cuDNN) vs the dense conv.

Each row times a stack of L identical stride-1 layers in one graph (so ORT's per-Run host overhead is
amortised and the per-layer number is GPU time), CUDA provider, IOBinding, CUDA graphs on, cuDNN
EXHAUSTIVE, TF32 off for fp32 rows (our fp32 kernels keep fp32's accuracy: FFMA, or 3xTF32 on the tensor cores
since session 20) and ORT's default for fp16 rows (use_tf32 0 also
kept cuDNN's fp16 convs off the tensor cores: rows before session 10's call 10 understate cuDNN at fp16). Outputs of
fused and triplet are compared first.
Shapes: the 18 core shapes of the TDC paper (C=r_in -> N=r_out @ HxW); the dense layer around each
core has D = max(64, 2 * max(r_in, r_out)) channels in and out (the paper gives only the cores).
--marginal L2 also times each chain at L2 layers: (Run(L2) - Run(L)) / (L2 - L) is a layer's marginal GPU time in
the captured graph, with ORT's fixed per-Run cost (graph launch, IOBinding, the stream sync) gone from both sides,
which a stack of 4 leaves at a quarter per layer.
--tf32: fp32 rows with TF32 on both sides (TuckerConv's TF32 mode, TUCKER_ONNX_TF32=1, and cuDNN's use_tf32 1, ORT's
default), the comparison a deployment under ORT's defaults makes; ~1e-3 error on both sides.
Usage: python tools/bench_layers.py --out results/layers [--batches 1 32] [--dtypes fp32 fp16] [--stack 16]
       [--marginal 16] [--tf32]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).parent))
from bench_common import dump, environment, measure_bandwidth_gbs, tf32_mode, time_session  # noqa: E402
from tucker_onnx.op import SPEC  # noqa: E402
from tucker_onnx.op.function import FUNCTION_IR_VERSION, build_function  # noqa: E402

TDC_CORES = [(64, 32, 224), (64, 32, 112), (32, 32, 56), (64, 32, 56), (64, 64, 56), (32, 32, 28), (64, 32, 28),
             (96, 64, 28), (160, 96, 28), (192, 96, 28), (32, 32, 14), (64, 32, 14), (128, 96, 14), (192, 96, 14),
             (32, 32, 7), (64, 32, 7), (96, 64, 7), (192, 160, 7)]
OPSET = 17


def stack_models(c, n, r1, r2, hw, k, stride, batch, dtype, L, rng):
    """(fused, triplet, dense) models, each a chain of L Tucker layers C -> N at hw x hw (kernel k, pad k // 2,
    the stride), Relu epilogue; L > 1 needs C == N and stride 1 so the layers chain."""
    assert L == 1 or (c == n and stride == 1)
    np_dt = np.float16 if dtype == "fp16" else np.float32
    tp = TensorProto.FLOAT16 if dtype == "fp16" else TensorProto.FLOAT
    p = k // 2
    conv = dict(pads=[p] * 4, strides=[stride] * 2)
    inits_t, nodes_t, nodes_f, inits_d, nodes_d = [], [], [], [], []
    prev = "X"
    for i in range(L):
        w1 = rng.standard_normal((r1, c, 1, 1)) / np.sqrt(c)
        w2 = rng.standard_normal((r2, r1, k, k)) / np.sqrt(k * k * r1)
        w3 = rng.standard_normal((n, r2, 1, 1)) / np.sqrt(r2)
        b = rng.standard_normal(n) * 0.1
        for a, nm in ((w1, f"w1_{i}"), (w2, f"w2_{i}"), (w3, f"w3_{i}"), (b, f"b_{i}")):
            inits_t.append(numpy_helper.from_array(a.astype(np_dt), nm))
        out = "Y" if i == L - 1 else f"y{i}"
        nodes_t += [helper.make_node("Conv", [prev, f"w1_{i}"], [f"t1_{i}"]),
                    helper.make_node("Conv", [f"t1_{i}", f"w2_{i}"], [f"t2_{i}"], **conv),
                    helper.make_node("Conv", [f"t2_{i}", f"w3_{i}", f"b_{i}"], [f"t3_{i}"]),
                    helper.make_node("Relu", [f"t3_{i}"], [out])]
        node = helper.make_node(SPEC.name, [prev, f"w1_{i}", f"w2_{i}", f"w3_{i}", f"b_{i}"], [out], domain=SPEC.domain,
                                dilations=[1, 1], activation="relu", **conv)
        node.overload = SPEC.overload("relu", False)
        nodes_f.append(node)
        wd = rng.standard_normal((n, c, k, k)) / np.sqrt(k * k * c)
        inits_d += [numpy_helper.from_array(wd.astype(np_dt), f"wd_{i}"), numpy_helper.from_array(b.astype(np_dt), f"bd_{i}")]
        nodes_d += [helper.make_node("Conv", [prev, f"wd_{i}", f"bd_{i}"], [f"c{i}"], **conv),
                    helper.make_node("Relu", [f"c{i}"], [out])]
        prev = out
    ho = (hw + 2 * p - k) // stride + 1
    io = ([helper.make_tensor_value_info("X", tp, [batch, c, hw, hw])], [helper.make_tensor_value_info("Y", tp, [batch, n, ho, ho])])
    mk = lambda nodes, inits, funcs: helper.make_model(
        helper.make_graph(nodes, "stack", *io, inits),
        opset_imports=[helper.make_opsetid("", OPSET)] + ([helper.make_opsetid(SPEC.domain, 1)] if funcs else []),
        functions=funcs, ir_version=FUNCTION_IR_VERSION)
    return (mk(nodes_f, inits_t, [build_function("relu", False, OPSET)]), mk(nodes_t, inits_t, []), mk(nodes_d, inits_d, []))


def model_layer_shapes(names) -> list[dict]:
    """The distinct Tucker layers of torchvision models at 224x224 with the TDC paper's ranks (tools/tdc_plans.py):
    C, R1, R2, N, input map, kernel, stride, and which model layers share the shape."""
    import tempfile
    import onnx
    from tdc_plans import PLANS
    from tucker_onnx.graph import import_graph, static_hw
    from tucker_onnx.zoo import export_torchvision
    shapes = {}
    for name in names:
        with tempfile.TemporaryDirectory() as d:
            path = export_torchvision(name, Path(d) / f"{name}.onnx", image_size=224)
            graph = import_graph(onnx.load(str(path)))
        plan = PLANS[name]()
        for node in graph.nodes:
            if node.op != "Conv" or node.name not in plan:
                continue
            n, c, k, _ = node.inputs[1].values.shape
            r1, r2 = plan[node.name]
            hw = static_hw(node.inputs[0])[0]
            stride = int(node.attrs.get("strides", [1, 1])[0])
            key = (c, r1, r2, n, hw, k, stride)
            shapes.setdefault(key, {"C": c, "R1": r1, "R2": r2, "N": n, "hw": hw, "k": k, "stride": stride, "layers": []})
            shapes[key]["layers"].append(f"{name}:{node.name}")
    return list(shapes.values())


VARIANTS = {0: "tiled4x4", 1: "tiled2x2", 2: "split-K", 3: "cluster", 4: "WMMA", 5: "grid", 6: "staged"}


def fused_config(dtype, batch, c, hw, r1, r2, k, n, stride) -> str | None:
    """The config the op ran for this shape, from its TUCKER_ONNX_CONFIG_LOG (key as the op writes it)."""
    from tucker_onnx.run.tuning import LOG_ENV, read_cache
    log = os.environ.get(LOG_ENV)
    if not log or not Path(log).exists():
        return None
    key = (f"{dtype} b{batch} c{c} h{hw} w{hw} r1={r1} r2={r2} k{k}x{k} n{n} s{stride},{stride} "
           f"p{k // 2},{k // 2} d1,1 res0" + (" tf32" if dtype == "fp32" and tf32_mode() else ""))
    e = read_cache(log).get(key)
    if e is None:
        return None
    how = f", best of {len(e['timings_ms'])} timed" if e.get("timings_ms") else ""
    return f"{VARIANTS.get(e['chosen'][0], '?')} {','.join(map(str, e['chosen']))}{how}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/layers")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--dtypes", nargs="+", default=["fp32", "fp16"])
    ap.add_argument("--stack", type=int, default=16)
    ap.add_argument("--shapes", type=int, default=len(TDC_CORES), help="first N TDC shapes")
    ap.add_argument("--hw", type=int, nargs="+", help="only these map sizes (e.g. 7 14 28)")
    ap.add_argument("--models", nargs="*", default=[], help="also the distinct Tucker layers of these models "
                    "(resnet18 resnet50 vgg16_bn densenet121 densenet201) with the TDC ranks")
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--marginal", type=int, default=0, help="also time chains of this many layers: marginal us per layer")
    ap.add_argument("--kernels", action="store_true", help="also record CUPTI kernel time per Run (torch.profiler)")
    ap.add_argument("--tf32", action="store_true", help="fp32 rows with TF32 on both sides (TuckerConv and cuDNN)")
    ap.add_argument("--ab-env", metavar="VAR=VALUE", help="also time the fused op with this run-time switch of the op "
                    "set (e.g. TUCKER_ONNX_WG_BM32=1), side by side in the same process: the same picks, the switch's "
                    "effect")
    ap.add_argument("--wgmma-ab", action="store_true", help="--ab-env TUCKER_ONNX_WGMMA=0: the same configs on WMMA")
    args = ap.parse_args()
    if args.wgmma_ab:
        args.ab_env = "TUCKER_ONNX_WGMMA=0"
    ab_var, _, ab_val = (args.ab_env or "").partition("=")
    if args.ab_env and (not ab_var or "=" not in args.ab_env or ab_var in os.environ):
        raise SystemExit(f"--ab-env {args.ab_env}: expected VAR=VALUE with VAR not already set")
    if args.tf32:  # read by the op at each Run and by bench_common.cuda_options for the cuDNN sessions
        os.environ["TUCKER_ONNX_TF32"] = "1"
    import onnxruntime as ort
    ort.preload_dlls()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TUCKER_ONNX_CONFIG_LOG", str(out / "configs.jsonl"))
    bw = measure_bandwidth_gbs()
    env = environment() | {"measured_bandwidth_GBs": bw, "stack": args.stack}
    rows = []
    rng = np.random.default_rng(0)
    shapes = []
    for r1, r2, hw in TDC_CORES[: args.shapes]:
        d = max(64, 2 * max(r1, r2))
        shapes.append({"name": f"{r1}->{r2}@{hw}", "C": d, "R1": r1, "R2": r2, "N": d, "hw": hw, "k": 3, "stride": 1})
    for m in model_layer_shapes(args.models):
        m["name"] = f"{m['C']}:{m['R1']}->{m['R2']}:{m['N']}@{m['hw']}" + (f"/s{m['stride']}" if m["stride"] > 1 else "")
        shapes.append(m)
    for dtype in args.dtypes:
        for batch in args.batches:
            for sh in shapes:
                c, r1, r2, n, hw, k, stride = (sh[f] for f in ("C", "R1", "R2", "N", "hw", "k", "stride"))
                if args.hw and hw not in args.hw:
                    continue
                chain = c == n and stride == 1
                L = 1 if not chain else (args.stack if hw <= 56 or batch == 1 else max(2, args.stack // 4))
                fused, trip, dense = stack_models(c, n, r1, r2, hw, k, stride, batch, dtype, L, rng)
                x = rng.standard_normal((batch, c, hw, hw)).astype(np.float16 if dtype == "fp16" else np.float32)
                kw = dict(iters=args.iters, repeats=args.repeats, kernels=args.kernels)
                tf = time_session(fused, {"X": x}, library=True, **kw)
                if ab_var:  # the op reads its switches at each launch; a new session captures its own graph
                    os.environ[ab_var] = ab_val
                    try:
                        tw = time_session(fused, {"X": x}, library=True, **kw)
                    finally:
                        os.environ.pop(ab_var)
                tt = time_session(trip, {"X": x}, library=False, **kw)
                td = time_session(dense, {"X": x}, library=False, **kw)
                ref = tt["output"].astype(np.float64)
                err = float(np.abs(tf["output"].astype(np.float64) - ref).max() / (np.abs(ref).max() + 1e-9))
                esz = 2 if dtype == "fp16" else 4
                ho = (hw + 2 * (k // 2) - k) // stride + 1
                macs = batch * (hw * hw * c * r1 + ho * ho * (k * k * r1 * r2 + r2 * n))
                byts = esz * (batch * (hw * hw * c + ho * ho * n) + c * r1 + k * k * r1 * r2 + r2 * n + n)
                # H100/H200 SXM peaks: fp32 on the CUDA cores (cuDNN runs with TF32 off; our 3xTF32 form's own peak,
                # a third of TF32's ~495e12, is higher: this floor is cuDNN's, not ours);
                # fp16 on the tensor cores, dense (both our kernels and cuDNN use them at fp16). Rows before session 17
                # used the CUDA cores' fp16 peak (134e12), a floor 7x too high where FLOPs bound it.
                peak = 989e12 if dtype == "fp16" else 495e12 if args.tf32 else 67e12  # TF32 on both sides: its peak
                floor_us = max(byts / (bw * 1e9) if bw else 0, 2 * macs / peak) * 1e6
                row = {"core": sh["name"], "D": c, "N": n, "k": k, "stride": stride, "batch": batch, "dtype": dtype,
                       "stack": L, "model_layers": sh.get("layers", []),
                       "fused_us": tf["median_ms"] * 1e3 / L, "triplet_us": tt["median_ms"] * 1e3 / L,
                       "dense_us": td["median_ms"] * 1e3 / L, "floor_us": floor_us, "rel_err_vs_triplet": err}
                for name, t in (("fused", tf), ("triplet", tt), ("dense", td)):
                    kern = t.get("kernels")
                    if kern and "kernel_us" in kern:
                        row[f"{name}_kernel_us"] = kern["kernel_us"] / L
                        row[f"{name}_kernel_busy_us"] = kern["busy_us"] / L  # (PDL overlaps counted once)
                        row[f"{name}_kernels_per_layer"] = kern["kernels_per_run"] / L
                    elif kern:
                        row[f"{name}_kernel_error"] = kern["error"]
                row["fused_config"] = fused_config(dtype, batch, c, hw, r1, r2, k, n, stride)
                if ab_var:  # ab_speedup > 1: the default (switch unset) is faster
                    row["ab_env"] = args.ab_env
                    row["fused_ab_us"] = tw["median_ms"] * 1e3 / L
                    row["ab_speedup"] = row["fused_ab_us"] / row["fused_us"]
                    err_ab = float(np.abs(tw["output"].astype(np.float64) - ref).max() / (np.abs(ref).max() + 1e-9))
                    row["rel_err_ab_vs_triplet"] = err_ab
                    if args.wgmma_ab:  # the names of sessions 17-28's logs
                        row["fused_wmma_us"], row["wgmma_speedup"] = row["fused_ab_us"], row["ab_speedup"]
                row["speedup_vs_triplet"] = row["triplet_us"] / row["fused_us"]
                row["speedup_vs_dense"] = row["dense_us"] / row["fused_us"]
                L2 = args.marginal if chain and args.marginal > L else 0
                if L2:
                    models2 = stack_models(c, n, r1, r2, hw, k, stride, batch, dtype, L2, rng)
                    for name, m, t in zip(("fused", "triplet", "dense"), models2, (tf, tt, td)):
                        t2 = time_session(m, {"X": x}, library=name == "fused", **(kw | {"kernels": False}))
                        row[f"{name}_marg_us"] = (t2["median_ms"] - t["median_ms"]) * 1e3 / (L2 - L)
                    row["marginal_stack"] = L2
                    row["marg_speedup_vs_triplet"] = row["triplet_marg_us"] / row["fused_marg_us"]
                rows.append(row)
                dump(out / "layers.json", {"environment": env, "rows": rows})
                print(f"{dtype} b{batch:<3d} {row['core']:>14s} C={c:<4d} fused {row['fused_us']:8.2f} us  triplet "
                      f"{row['triplet_us']:8.2f}  dense {row['dense_us']:8.2f}  floor {floor_us:6.2f}  "
                      f"x{row['speedup_vs_triplet']:.2f} vs cuDNN triplet  err {err:.1e}"
                      + (f"  marginal fused {row['fused_marg_us']:.2f} triplet {row['triplet_marg_us']:.2f} "
                         f"x{row['marg_speedup_vs_triplet']:.2f}" if "fused_marg_us" in row else "")
                      + (f"  kernels fused {row['fused_kernel_us']:.2f} triplet {row['triplet_kernel_us']:.2f} us"
                         if "fused_kernel_us" in row and "triplet_kernel_us" in row else "")
                      + (f"  {args.ab_env} {row['fused_ab_us']:.2f} (x{row['ab_speedup']:.2f}, err {err_ab:.1e})"
                         if ab_var else ""),
                      flush=True)
    dump(out / "layers.json", {"environment": env, "rows": rows})
    with open(out / "layers.md", "w") as f:
        f.write(f"# Layer benchmark\n\n{env}\n\nPer layer: wall time of a Run / stack; 'kern' columns: GPU kernel time per layer (CUPTI) "
                "and kernels launched per layer, where recorded; 'marginal' columns (--marginal L2): (Run(L2) - Run(L)) / (L2 - L), "
                "a layer's GPU time in the captured graph without ORT's fixed per-Run cost.\n\n"
                "| dtype | batch | core | D | fused us | cuDNN triplet us | dense us | floor us | vs triplet | vs dense "
                "| fused marginal us | triplet marginal us | marginal vs triplet "
                "| fused kern us (n) | triplet kern us (n) | dense kern us (n) | fused config "
                f"| fused, {args.ab_env or 'switch'}, us |\n"
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
        marg = lambda r: (f"{r['fused_marg_us']:.2f} | {r['triplet_marg_us']:.2f} | {r['marg_speedup_vs_triplet']:.2f}x"
                          if "fused_marg_us" in r else "- | - | -")
        kern = lambda r, n: (f"{r[n + '_kernel_us']:.2f} ({r[n + '_kernels_per_layer']:.0f})" if n + "_kernel_us" in r else "-")
        for r in rows:
            f.write(f"| {r['dtype']} | {r['batch']} | {r['core']} | {r['D']} | {r['fused_us']:.2f} | {r['triplet_us']:.2f} | "
                    f"{r['dense_us']:.2f} | {r['floor_us']:.2f} | {r['speedup_vs_triplet']:.2f}x | {r['speedup_vs_dense']:.2f}x "
                    f"| {marg(r)} | {kern(r, 'fused')} | {kern(r, 'triplet')} | {kern(r, 'dense')} | {r.get('fused_config') or '-'} "
                    + (f"| {r['fused_ab_us']:.2f} |\n" if "fused_ab_us" in r else "| - |\n"))
        for dtype in args.dtypes:
            for batch in args.batches:
                sp = [r["speedup_vs_triplet"] for r in rows if r["dtype"] == dtype and r["batch"] == batch]
                if sp:
                    f.write(f"\n{dtype} batch {batch}: median speed-up vs cuDNN triplet {np.median(sp):.2f}x, min {min(sp):.2f}x")
                mp = [r["marg_speedup_vs_triplet"] for r in rows if r["dtype"] == dtype and r["batch"] == batch
                      and "marg_speedup_vs_triplet" in r]
                wg = [r["ab_speedup"] for r in rows if r["dtype"] == dtype and r["batch"] == batch
                      and "ab_speedup" in r]
                if wg:
                    f.write(f"\n{dtype} batch {batch}: default vs {args.ab_env} (x > 1: the default is faster), "
                            f"median {np.median(wg):.2f}x, range {min(wg):.2f}-{max(wg):.2f}x")
                if mp:
                    f.write(f"\n{dtype} batch {batch}, marginal: median speed-up vs cuDNN triplet {np.median(mp):.2f}x, "
                            f"min {min(mp):.2f}x ({len(mp)} rows)")
    print(f"wrote {out}/layers.json and layers.md")


if __name__ == "__main__":
    main()
