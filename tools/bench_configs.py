#!/usr/bin/env python3
"""Times forced kernel configs of the fused op side by side on one layer shape, next to the cuDNN triplet and the
model's own pick (and, with --tune, the exhaustive autotuner's): for trying a kernel variant on the GPU in seconds
instead of a full sweep. Same timing as bench_layers.py: a stack of L layers in one graph, CUDA graphs on, IOBinding,
cuDNN EXHAUSTIVE, TF32 off, outputs checked against the triplet first.

Usage: python tools/bench_configs.py --shape 384:192->160:384@7 --configs 3,1,7,512,16,64 3,1,7,512,16,32
       [--batch 1] [--dtype fp32] [--stack 4] [--tune] [--pdl on|off|ab [--rounds 2]] [--out DIR]
A config is variant,th,tw,threads,nsplit,kchunk (TUCKER_ONNX_CONFIG; README, GPU notes).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_common import dump, environment, time_session  # noqa: E402
from bench_layers import stack_models  # noqa: E402
from tucker_onnx.run.tuning import op_env  # noqa: E402

SHAPE = re.compile(r"^(\d+):(\d+)->(\d+):(\d+)@(\d+)(?:/k(\d+))?$")


def parse_shape(text: str) -> dict:
    """'C:R1->R2:N@HW' (optionally '/kK' for a KxK core, 3 by default) -> its fields; C == N so layers chain."""
    m = SHAPE.match(text.replace(" ", ""))
    if m is None:
        raise ValueError(f"--shape must look like 384:192->160:384@7 (C:R1->R2:N@HW[/kK]), got {text!r}")
    c, r1, r2, n, hw = map(int, m.groups()[:5])
    if c != n:
        raise ValueError(f"--shape needs C == N so that the stacked layers chain, got C={c}, N={n}")
    return {"C": c, "R1": r1, "R2": r2, "N": n, "hw": hw, "k": int(m.group(6) or 3)}


def parse_config(text: str) -> tuple[int, ...]:
    parts = text.split(",")
    if len(parts) != 6 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"a config is six integers variant,th,tw,threads,nsplit,kchunk, got {text!r}")
    return tuple(int(p) for p in parts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", required=True)
    ap.add_argument("--configs", nargs="*", default=[])
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--dtype", choices=["fp32", "fp16"], default="fp32")
    ap.add_argument("--stack", type=int, default=4)
    ap.add_argument("--tune", action="store_true", help="also the exhaustive autotuner's pick")
    ap.add_argument("--quick", type=int, nargs="*", default=[], help="also the quick tuner's pick over the model's "
                    "K cheapest configs, per K given (TUCKER_ONNX_TUNE=top<K>)")
    ap.add_argument("--pdl", choices=["on", "off", "ab"], default="on",
                    help="programmatic dependent launch (TUCKER_ONNX_PDL); ab: every run with it on and off, "
                    "alternating, --rounds times")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of --pdl ab")
    ap.add_argument("--out", default=None, help="folder for configs.json / configs.md")
    a = ap.parse_args(argv)
    try:
        sh = parse_shape(a.shape)
        configs = [parse_config(c) for c in a.configs]
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    import onnxruntime as ort
    from tucker_onnx.profile.profiler import available_provider
    if available_provider() != "cuda":
        print("error: no usable CUDA device or provider here: this benchmark runs on the GPU machine", file=sys.stderr)
        return 1
    ort.preload_dlls()
    rng = np.random.default_rng(0)
    fused, trip, _ = stack_models(sh["C"], sh["N"], sh["R1"], sh["R2"], sh["hw"], sh["k"], 1, a.batch, a.dtype,
                                  a.stack, rng)
    np_dt = np.float16 if a.dtype == "fp16" else np.float32
    x = rng.standard_normal((a.batch, sh["C"], sh["hw"], sh["hw"])).astype(np_dt)
    tt = time_session(trip, {"X": x}, library=False)
    ref = tt["output"].astype(np.float64)
    rows = [{"what": "cuDNN triplet", "us_per_layer": tt["median_ms"] * 1e3 / a.stack, "rel_err": 0.0}]
    runs = [(",".join(map(str, c)), {"TUCKER_ONNX_CONFIG": ",".join(map(str, c))}) for c in configs]
    runs.append(("model pick", {}))
    runs += [(f"quick tune, top {k}", {"TUCKER_ONNX_TUNE": f"top{k}"}) for k in a.quick]
    if a.tune:
        runs.append(("exhaustive autotune", {"TUCKER_ONNX_TUNE": "exhaustive"}))
    if a.pdl == "ab":  # on and off side by side, alternating, so drift of the clocks falls on both
        runs = [(f"{name}, PDL {state}", env | {"TUCKER_ONNX_PDL": flag}) for _ in range(a.rounds)
                for name, env in runs for state, flag in (("on", "1"), ("off", "0"))]
    else:
        runs = [(name, env | {"TUCKER_ONNX_PDL": "1" if a.pdl == "on" else "0"}) for name, env in runs]
    for name, env in runs:
        try:
            with op_env({"TUCKER_ONNX_CONFIG": None, "TUCKER_ONNX_TUNE": None, "TUCKER_ONNX_PDL": None} | env):
                tf = time_session(fused, {"X": x}, library=True)
        except Exception as e:  # a config the op refuses (does not fit, cannot launch): one line, go on
            rows.append({"what": name, "error": str(e).splitlines()[-1][:200]})
            continue
        err = float(np.abs(tf["output"].astype(np.float64) - ref).max() / (np.abs(ref).max() + 1e-9))
        rows.append({"what": name, "us_per_layer": tf["median_ms"] * 1e3 / a.stack, "rel_err": err})
    base = rows[0]["us_per_layer"]
    lines = [f"# {a.shape}, batch {a.batch}, {a.dtype}, stack {a.stack}", "", "| run | us per layer | vs triplet | "
             "rel. error |", "|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['what']} | error: {r['error']} | | |")
        else:
            speedup = base / r["us_per_layer"]
            lines.append(f"| {r['what']} | {r['us_per_layer']:.2f} | {speedup:.2f}x | {r['rel_err']:.1e} |")
    print("\n".join(lines))
    if a.out:
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        dump(out / "configs.json", {"environment": environment(), "args": vars(a), "rows": rows})
        (out / "configs.md").write_text("\n".join(lines) + f"\n\n{environment()}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
