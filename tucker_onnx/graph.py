"""Small helpers over onnx-graphsurgeon graphs shared by the passes: import, conv attributes, shapes."""
from __future__ import annotations

import logging

import numpy as np
import onnx
import onnx_graphsurgeon as gs

gs.logger.G_LOGGER.severity = gs.logger.G_LOGGER.WARNING
log = logging.getLogger("tucker_onnx")


def import_graph(model: onnx.ModelProto) -> gs.Graph:
    """Import with inferred shapes, and look through Identity-of-initializer nodes.

    PyTorch's exporter deduplicates equal initializers and feeds some of them through Identity
    nodes; the passes need the weights as `gs.Constant`s.
    """
    try:
        model = onnx.shape_inference.infer_shapes(model)
    except Exception as e:  # shapes are a convenience; passes check what they need
        log.debug("shape inference failed: %s", e)
    graph = gs.import_onnx(model)
    for node in list(graph.nodes):
        if node.op == "Identity" and isinstance(node.inputs[0], gs.Constant) and not is_graph_output(graph, node.outputs[0]):
            const, out = node.inputs[0], node.outputs[0]
            for consumer in list(out.outputs):
                for i, t in enumerate(consumer.inputs):
                    if t is out:
                        consumer.inputs[i] = const
            node.outputs.clear()
        elif node.op == "Constant" and "value" in node.attrs and not is_graph_output(graph, node.outputs[0]):
            out = node.outputs[0]
            const = gs.Constant(out.name + "_const", np.asarray(node.attrs["value"].values))
            for consumer in list(out.outputs):
                for i, t in enumerate(consumer.inputs):
                    if t is out:
                        consumer.inputs[i] = const
            node.outputs.clear()
    graph.cleanup().toposort()
    return graph


def is_graph_output(graph: gs.Graph, t: gs.Tensor) -> bool:
    return any(t is o for o in graph.outputs)


def conv_attrs(node: gs.Node, weight: np.ndarray | None = None) -> dict:
    """Conv attributes with ONNX defaults filled in (2-D only)."""
    a = node.attrs
    kshape = list(a.get("kernel_shape", weight.shape[2:] if weight is not None else []))
    nd = len(kshape)
    return {
        "kernel_shape": kshape,
        "strides": list(a.get("strides", [1] * nd)),
        "pads": list(a.get("pads", [0] * (2 * nd))),
        "dilations": list(a.get("dilations", [1] * nd)),
        "group": int(a.get("group", 1)),
        "auto_pad": a.get("auto_pad", "NOTSET") if isinstance(a.get("auto_pad", "NOTSET"), str) else a["auto_pad"].decode(),
    }


def plain_conv_problem(node: gs.Node) -> str | None:
    """Why a Conv is not a dense 2-D conv with a constant weight and explicit padding (None where it is): what both
    the decompose pass and the rewrite's matcher need before they look at kernel sizes."""
    w = node.inputs[1] if len(node.inputs) > 1 else None
    if not isinstance(w, gs.Constant):
        return "weight is not a constant initializer"
    if w.values.ndim != 4:
        return f"not a 2-D conv (weight rank {w.values.ndim})"
    a = conv_attrs(node, w.values)
    if a["group"] != 1:
        return f"grouped/depthwise (group={a['group']})"
    if a["auto_pad"] not in ("NOTSET", ""):
        return f"auto_pad={a['auto_pad']} is not supported"
    return None


def conv_out_hw(h: int, w: int, k, s, p, d) -> tuple[int, int]:
    ho = (h + p[0] + p[2] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    wo = (w + p[1] + p[3] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    return ho, wo


def static_hw(t: gs.Tensor) -> tuple[int, int] | None:
    """Spatial size of an NCHW tensor if known, else None."""
    shape = getattr(t, "shape", None)
    if shape is None or len(shape) != 4 or not all(isinstance(v, int) for v in shape[2:]):
        return None
    return int(shape[2]), int(shape[3])


def conv_macs(node: gs.Node) -> int | None:
    """Multiply-accumulates per image of a Conv node, when its output spatial size is known."""
    w = node.inputs[1]
    if not isinstance(w, gs.Constant):
        return None
    hw = static_hw(node.outputs[0])
    if hw is None:
        return None
    m, cg, kh, kw = w.values.shape
    return int(m * cg * kh * kw * hw[0] * hw[1])


def count_params(model: onnx.ModelProto) -> int:
    return int(sum(np.prod(t.dims) for t in model.graph.initializer))
