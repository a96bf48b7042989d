"""Replaces each fusable triplet (plus BN / residual Add / Relu) with one TuckerConv node and its function."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
import onnx_graphsurgeon as gs

from ..errors import TuckerOnnxError
from ..graph import conv_attrs, import_graph
from ..model_io import MAX_OPSET, default_opset
from ..op import SPEC
from ..op.function import FUNCTION_IR_VERSION, build_function
from .match import Candidate, find_candidates


@dataclass
class RewriteResult:
    model: onnx.ModelProto | None
    candidates: list[Candidate]

    @property
    def fused(self) -> list[Candidate]:
        return [c for c in self.candidates if c.fused]


def _fold(c: Candidate):
    """Returns (w_out, bias) with the core bias and BatchNormalization folded into the last 1x1 conv, and the bias of
    the Conv that produces the residual (c.shortcut) added: relu(y + b + (conv(x) + b_s)) = relu(y + (b + b_s) +
    conv(x)). Why the last: ORT's CUDA Conv adds its bias in a kernel of its own (cuDNN's add-tensor), 3 of a fused
    ResNet-18's 45 launches at batch 1 (session 26's traces)."""
    w_out = c.last.inputs[1].values.astype(np.float64)
    n = w_out.shape[0]
    bias = c.last.inputs[2].values.astype(np.float64) if len(c.last.inputs) > 2 else np.zeros(n)
    if len(c.core.inputs) > 2:
        b_core = c.core.inputs[2].values.astype(np.float64)
        bias = bias + w_out[:, :, 0, 0] @ b_core
    if c.bn is not None:
        scale, beta, mean, var = (t.values.astype(np.float64) for t in c.bn.inputs[1:5])
        eps = float(c.bn.attrs.get("epsilon", 1e-5))
        k = scale / np.sqrt(var + eps)
        w_out = w_out * k[:, None, None, None]
        bias = (bias - mean) * k + beta
    if c.shortcut is not None:
        bias = bias + c.shortcut.inputs[2].values.astype(np.float64)
    return w_out, bias


PLAN_KEEPS = "kept unfused: its three Convs measured faster than the fused op (rewrite --plan / --measure)"


def rewrite_model(model: onnx.ModelProto, dry_run: bool = False, keep_unfused: set[str] | frozenset = frozenset()
                  ) -> RewriteResult:
    """Fuse every eligible Conv triplet of `model` into TuckerConv; `dry_run` only reports candidates.
    keep_unfused: layer names (as `decompose` named them, `<layer>/tucker_core`) whose triplet measured faster
    than the fused op (a `rank` plan's "unfused" list): they stay three Convs."""
    opset = default_opset(model)
    if opset > MAX_OPSET:
        raise TuckerOnnxError(f"model uses opset {opset}; ONNX Runtime 1.31 supports at most {MAX_OPSET}")
    graph = import_graph(model)
    cands = find_candidates(graph)
    kept = 0
    for c in cands:
        layer = c.core.name.removesuffix("/tucker_core")
        if c.fused and (layer in keep_unfused or c.core.name in keep_unfused):
            c.fused, c.reason = False, PLAN_KEEPS
            kept += 1
    if dry_run:
        return RewriteResult(None, cands)
    fused = [c for c in cands if c.fused]
    if not fused and kept:  # the plan measured every fusable chain faster as three Convs: nothing to change
        out = onnx.ModelProto()
        out.CopyFrom(model)
        return RewriteResult(out, cands)
    if not fused:
        raise TuckerOnnxError("no fusable Conv1x1 -> ConvKxK -> Conv1x1 chain found"
                              + (f" ({len(cands)} rejected; run with --dry-run for reasons)" if cands else
                                 "; decompose the model first (tucker-onnx decompose)"))
    variants = set()
    for i, c in enumerate(fused):
        dt = c.last.inputs[1].values.dtype
        w_out, bias = _fold(c)
        a = conv_attrs(c.core, c.core.inputs[1].values)
        activation = "relu" if c.relu is not None else "none"
        out_t = (c.relu or c.add or c.bn or c.last).outputs[0]
        base = c.core.name or f"tucker_{i}"
        inputs = [c.first.inputs[0], c.first.inputs[1], c.core.inputs[1],
                  gs.Constant(f"{base}/fused_W_out", w_out.astype(dt)),
                  gs.Constant(f"{base}/fused_B", bias.astype(dt))]
        if c.residual is not None:
            inputs.append(c.residual)
        if c.shortcut is not None:  # its bias is in `bias` now (_fold)
            c.shortcut.inputs.pop()
        for n in c.nodes:
            n.outputs.clear()
        node = gs.Node(SPEC.name, name=f"{base}/TuckerConv", domain=SPEC.domain,
                       attrs={"strides": a["strides"], "pads": a["pads"], "dilations": a["dilations"],
                              "activation": activation},
                       inputs=inputs, outputs=[out_t])
        graph.nodes.append(node)
        variants.add((activation, c.residual is not None))
    graph.cleanup().toposort()
    out = gs.export_onnx(graph)
    # Set each node's function overload and attach one function per variant used.
    for node in out.graph.node:
        if node.op_type == SPEC.name and node.domain == SPEC.domain:
            act = next(a.s.decode() for a in node.attribute if a.name == "activation")
            node.overload = SPEC.overload(act, len(node.input) == len(SPEC.inputs))
    del out.functions[:]
    out.functions.extend(build_function(act, res, opset) for act, res in sorted(variants))
    out.ir_version = max(FUNCTION_IR_VERSION, min(model.ir_version, 13))
    del out.opset_import[:]
    out.opset_import.extend(o for o in model.opset_import if o.domain != SPEC.domain)
    out.opset_import.append(onnx.helper.make_opsetid(SPEC.domain, SPEC.since_version))
    out.producer_name = "tucker-onnx"
    out = onnx.shape_inference.infer_shapes(out)
    return RewriteResult(out, cands)
