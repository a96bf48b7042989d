"""Replaces chosen dense KxK Conv nodes of an ONNX graph with Tucker-2 Conv triplets."""
from __future__ import annotations

from dataclasses import dataclass, field

import onnx
import onnx_graphsurgeon as gs

from ..errors import TuckerOnnxError
from ..graph import conv_attrs, import_graph, plain_conv_problem, static_hw
from ..op import SPEC
from ..model_io import MAX_IR_VERSION
from .ranks import ranks_from_ratio
from .tucker2 import triplet_macs, tucker2


@dataclass
class LayerReport:
    name: str
    shape: str
    status: str  # "decomposed" or "skipped"
    reason: str = ""
    ranks: tuple[int, int] | None = None
    rel_error: float | None = None
    params_before: int = 0
    params_after: int = 0
    macs_before: int | None = None
    macs_after: int | None = None
    extra: dict = field(default_factory=dict)


def _skip_reason(node: gs.Node, min_channels: int) -> str | None:
    problem = plain_conv_problem(node)
    if problem is not None:
        return problem
    w = node.inputs[1]
    n, c, kh, kw = w.values.shape
    if kh == 1 and kw == 1:
        return "1x1 conv (Tucker-2 of a 1x1 kernel is a plain low-rank split)"
    if max(kh, kw) > SPEC.max_kernel:  # the fused op's limit: a larger core could never be rewritten
        return f"kernel {kh}x{kw} larger than {SPEC.max_kernel}"
    if min(c, n) < min_channels:
        return f"too small (C={c}, N={n} < {min_channels} channels)"
    return None


def decompose_model(model: onnx.ModelProto, ratio: float | None = None, plan: dict | None = None,
                    multiple: int = 1, min_channels: int = 16, n_iter_max: int = 5,
                    progress: bool = False) -> tuple[onnx.ModelProto, list[LayerReport]]:
    """Tucker-2 decompose the KxK convs of `model`; returns the new model and a per-layer report.

    Ranks come from `plan` (node name -> (r_in, r_out)) when given, else from `ratio`. Layers whose
    triplet would not reduce MACs are left dense, as are 1x1, grouped and small convs.
    """
    if (ratio is None) == (plan is None):
        raise TuckerOnnxError("give exactly one of --ratio or --plan")
    if ratio is not None and not (0 < ratio <= 1):
        raise TuckerOnnxError(f"--ratio must be in (0, 1], got {ratio}")
    from ..model_io import MAX_OPSET, default_opset
    if default_opset(model) > MAX_OPSET:
        raise TuckerOnnxError(f"model uses opset {default_opset(model)}; ONNX Runtime 1.31 supports at most {MAX_OPSET}")
    graph = import_graph(model)
    convs = [n for n in graph.nodes if n.op == "Conv"]
    if plan is not None:
        names = {n.name for n in convs}
        unknown = sorted(set(plan) - names)
        if unknown:
            raise TuckerOnnxError(f"plan names Conv nodes not in the model: {', '.join(unknown[:5])}"
                                  + (" ..." if len(unknown) > 5 else ""))
    reports: list[LayerReport] = []
    it = convs
    if progress:
        from tqdm import tqdm
        it = tqdm(convs, desc="decompose", unit="conv", leave=False, disable=None)
    for node in it:
        w = node.inputs[1]
        shape = "x".join(map(str, w.values.shape)) if isinstance(w, gs.Constant) else "?"
        reason = _skip_reason(node, min_channels if plan is None else 1)
        if plan is not None and node.name not in plan and reason is None:
            reason = "not in the plan"
        if reason:
            reports.append(LayerReport(node.name, shape, "skipped", reason))
            continue
        wv = w.values
        n, c, kh, kw = wv.shape
        r_in, r_out = plan[node.name] if plan is not None else ranks_from_ratio(c, n, ratio, multiple)
        if not (1 <= r_in <= c and 1 <= r_out <= n):
            raise TuckerOnnxError(f"{node.name}: ranks ({r_in}, {r_out}) exceed the channels (C={c}, N={n})")
        a = conv_attrs(node, wv)
        hw_in, hw_out = static_hw(node.inputs[0]), static_hw(node.outputs[0])
        dense_macs = n * c * kh * kw * hw_out[0] * hw_out[1] if hw_out else None
        tri_macs = triplet_macs(c, n, r_in, r_out, kh, kw, hw_in, hw_out) if hw_in and hw_out else None
        dense_params = wv.size
        tri_params = c * r_in + r_in * r_out * kh * kw + r_out * n
        worse = (tri_macs >= dense_macs) if tri_macs is not None else (tri_params >= dense_params)
        if plan is None and worse:
            reports.append(LayerReport(node.name, shape, "skipped", f"ranks ({r_in}, {r_out}) would not reduce MACs"))
            continue
        w_in, w_core, w_out, err = tucker2(wv, r_in, r_out, n_iter_max=n_iter_max)
        dt = wv.dtype
        bias = node.inputs[2] if len(node.inputs) > 2 else None
        x, y = node.inputs[0], node.outputs[0]
        t1 = gs.Variable(f"{node.name}/tucker_in_out", dtype=y.dtype)
        t2 = gs.Variable(f"{node.name}/tucker_core_out", dtype=y.dtype)
        n1 = gs.Node("Conv", f"{node.name}/tucker_in", attrs={"kernel_shape": [1, 1], "strides": [1, 1], "pads": [0, 0, 0, 0], "dilations": [1, 1], "group": 1},
                     inputs=[x, gs.Constant(f"{node.name}/W_in", w_in.astype(dt))], outputs=[t1])
        n2 = gs.Node("Conv", f"{node.name}/tucker_core", attrs={"kernel_shape": [kh, kw], "strides": a["strides"], "pads": a["pads"], "dilations": a["dilations"], "group": 1},
                     inputs=[t1, gs.Constant(f"{node.name}/W_core", w_core.astype(dt))], outputs=[t2])
        out_inputs = [t2, gs.Constant(f"{node.name}/W_out", w_out.astype(dt))] + ([bias] if bias is not None else [])
        node.outputs.clear()
        n3 = gs.Node("Conv", f"{node.name}/tucker_out", attrs={"kernel_shape": [1, 1], "strides": [1, 1], "pads": [0, 0, 0, 0], "dilations": [1, 1], "group": 1},
                     inputs=out_inputs, outputs=[y])
        graph.nodes.extend([n1, n2, n3])
        reports.append(LayerReport(node.name, shape, "decomposed", ranks=(r_in, r_out), rel_error=err,
                                   params_before=int(dense_params), params_after=int(tri_params),
                                   macs_before=dense_macs, macs_after=tri_macs))
    if not any(r.status == "decomposed" for r in reports):
        raise TuckerOnnxError("no conv was decomposed: " + (
            "; ".join(sorted({r.reason for r in reports})) if reports else "the model has no Conv nodes"))
    graph.cleanup().toposort()
    out = gs.export_onnx(graph)
    out.ir_version = min(model.ir_version, MAX_IR_VERSION)
    del out.opset_import[:]
    out.opset_import.extend(model.opset_import)
    out.producer_name = "tucker-onnx"
    return out, reports
