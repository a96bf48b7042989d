"""Compares two models on the same random inputs, and summarises models for before/after tables."""
from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np
import onnx

from ..errors import TuckerOnnxError
from ..graph import count_params

_NP = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.FLOAT16: np.float16,
       onnx.TensorProto.DOUBLE: np.float64, onnx.TensorProto.INT64: np.int64, onnx.TensorProto.INT32: np.int32}


def input_specs(model: onnx.ModelProto, batch: int = 1) -> list[tuple[str, tuple[int, ...], type]]:
    """Graph inputs as (name, concrete shape, dtype); a symbolic first dim becomes `batch`."""
    inits = {t.name for t in model.graph.initializer}
    specs = []
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        if tt.elem_type not in _NP:
            raise TuckerOnnxError(f"input {vi.name!r}: element type {onnx.TensorProto.DataType.Name(tt.elem_type)} not supported by the check")
        shape = []
        for i, d in enumerate(tt.shape.dim):
            if d.HasField("dim_value") and d.dim_value > 0:
                shape.append(d.dim_value)
            elif i == 0:
                shape.append(batch)
            else:
                raise TuckerOnnxError(f"input {vi.name!r} has a symbolic non-batch dimension {i}; "
                                      "export the model with static spatial sizes or use --no-check")
        specs.append((vi.name, tuple(shape), _NP[tt.elem_type]))
    return specs


def random_inputs(model: onnx.ModelProto, seed: int, batch: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {n: rng.standard_normal(s).astype(dt) if np.issubdtype(dt, np.floating) else rng.integers(0, 2, s).astype(dt)
            for n, s, dt in input_specs(model, batch)}


@dataclass
class CheckResult:
    ok: bool
    max_abs: float
    max_rel: float
    worst_output: str
    runs: int

    def line(self) -> str:
        return (f"check {'PASSED' if self.ok else 'FAILED'}: {self.runs} random input(s), "
                f"max |diff| {self.max_abs:.3g}, max rel {self.max_rel:.3g} (output {self.worst_output!r})")


def compare_sessions(ref_sess, new_sess, model: onnx.ModelProto, n: int = 1, atol: float = 1e-4,
                     rtol: float = 1e-3, batch: int = 1, seed: int = 0) -> CheckResult:
    """Run both sessions on `n` random inputs; mismatch when |a - b| > atol + rtol * |ref| anywhere."""
    ok, max_abs, max_rel, worst = True, 0.0, 0.0, ""
    names = [o.name for o in ref_sess.get_outputs()]
    for i in range(n):
        feeds = random_inputs(model, seed + i, batch)
        ref = ref_sess.run(None, feeds)
        new = new_sess.run(names, feeds)
        for name, r, x in zip(names, ref, new):
            r64, x64 = np.asarray(r, np.float64), np.asarray(x, np.float64)
            if r64.shape != x64.shape:
                raise TuckerOnnxError(f"output {name!r}: shape {x64.shape} differs from the original's {r64.shape}")
            d = np.abs(r64 - x64)
            if d.size:
                if not np.all(np.isfinite(x64) == np.isfinite(r64)):
                    ok = False
                dm = float(np.nanmax(d))
                rel = float(np.nanmax(d / np.maximum(np.abs(r64) + atol, 1e-30)))
                if dm >= max_abs:
                    max_abs, worst = dm, name
                max_rel = max(max_rel, rel)
                if np.any(d > atol + rtol * np.abs(r64)):
                    ok = False
    return CheckResult(ok, max_abs, max_rel, worst, n)


def model_stats(model: onnx.ModelProto) -> dict:
    """Op counts, parameter count and serialized size, for before/after tables."""
    return {"ops": collections.Counter((f"{n.domain}:" if n.domain else "") + n.op_type for n in model.graph.node),
            "params": count_params(model), "bytes": model.ByteSize()}


def _human(n: float, unit: str = "") -> str:
    for suffix in ("", "K", "M", "G"):
        if abs(n) < 1000:
            return f"{n:.4g}{suffix}{unit}"
        n /= 1000
    return f"{n:.4g}T{unit}"


def before_after_table(before: onnx.ModelProto, after: onnx.ModelProto, extra: dict | None = None) -> str:
    """An onnxsim-style table: one row per op type, then params and size."""
    a, b = model_stats(before), model_stats(after)
    ops = sorted(set(a["ops"]) | set(b["ops"]))
    rows = [(op, str(a["ops"].get(op, 0)), str(b["ops"].get(op, 0))) for op in ops]
    rows.append(("Params", _human(a["params"]), _human(b["params"])))
    rows.append(("Model size", _human(a["bytes"], "B"), _human(b["bytes"], "B")))
    for k, (x, y) in (extra or {}).items():
        rows.append((k, x, y))
    w0 = max(len(r[0]) for r in rows + [("", "", "")])
    w1 = max(len(r[1]) for r in rows + [("", "Original", "")])
    w2 = max(len(r[2]) for r in rows + [("", "", "Rewritten")])
    sep = f"+{'-' * (w0 + 2)}+{'-' * (w1 + 2)}+{'-' * (w2 + 2)}+"
    lines = [sep, f"| {'':<{w0}} | {'Original':<{w1}} | {'Rewritten':<{w2}} |", sep]
    lines += [f"| {r[0]:<{w0}} | {r[1]:<{w1}} | {r[2]:<{w2}} |" for r in rows]
    lines.append(sep)
    return "\n".join(lines)


human = _human
