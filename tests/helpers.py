"""Builders for tiny test models: single TuckerConv nodes and hand-made Conv chains."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tucker_onnx.op import SPEC
from tucker_onnx.op.function import FUNCTION_IR_VERSION, build_function

OPSET = 17
_TP = {np.float32: TensorProto.FLOAT, np.float16: TensorProto.FLOAT16}


def tucker_node_model(x_shape, w_in, w_core, w_out, b, residual=False, strides=(1, 1), pads=(0, 0, 0, 0),
                      dilations=(1, 1), activation="none", dtype=np.float32, batch_symbolic=False):
    """A model whose only node is TuckerConv, weights as initializers, X (and Z) as inputs."""
    tp = _TP[dtype]
    inits = [numpy_helper.from_array(np.asarray(a, dtype), n)
             for a, n in ((w_in, "W_in"), (w_core, "W_core"), (w_out, "W_out"), (b, "B"))]
    ins = ["X", "W_in", "W_core", "W_out", "B"] + (["Z"] if residual else [])
    node = helper.make_node(SPEC.name, ins, ["Y"], domain=SPEC.domain, name="tc", strides=list(strides),
                            pads=list(pads), dilations=list(dilations), activation=activation)
    node.overload = SPEC.overload(activation, residual)
    b0 = "batch" if batch_symbolic else x_shape[0]
    g_in = [helper.make_tensor_value_info("X", tp, [b0, *x_shape[1:]])]
    if residual:
        g_in.append(helper.make_tensor_value_info("Z", tp, None))
    graph = helper.make_graph([node], "tucker", g_in, [helper.make_tensor_value_info("Y", tp, None)], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(SPEC.domain, 1)],
                          functions=[build_function(activation, residual, OPSET)], ir_version=FUNCTION_IR_VERSION)
    m = onnx.shape_inference.infer_shapes(m)
    return m


def conv_node(name, x, w, y, bias=None, **attrs):
    return helper.make_node("Conv", [x, w] + ([bias] if bias else []), [y], name=name, **attrs)


def chain_model(nodes, inits, in_shape, out_names, dtype=np.float32):
    tp = _TP[dtype]
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("X", tp, list(in_shape))],
                              [helper.make_tensor_value_info(n, tp, None) for n in out_names],
                              [numpy_helper.from_array(np.asarray(v, dtype), k) for k, v in inits.items()])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)
    return onnx.shape_inference.infer_shapes(m)


def triplet_inits(rng, c=8, r1=4, r2=5, n=6, k=3, prefix=""):
    return {f"{prefix}w1": rng.standard_normal((r1, c, 1, 1)) * 0.3,
            f"{prefix}w2": rng.standard_normal((r2, r1, k, k)) * 0.3,
            f"{prefix}w3": rng.standard_normal((n, r2, 1, 1)) * 0.3,
            f"{prefix}b3": rng.standard_normal(n) * 0.1}


def tucker_chain_model(rng, layers, c=64, r=32, hw=14, k=3, batch=1, dtype=np.float32, computed_weights=False):
    """A stack of `layers` TuckerConv nodes (C -> C, 'same' padding, Relu), layer i >= 2 adding layer i-2's output:
    consecutive kernels of the op that read what the previous one wrote and overwrite what an earlier one read (what
    the CUDA kernels' programmatic dependent launch must order). computed_weights: every weight comes out of a Mul by
    the graph input S (fed 1.0), so a kernel writes it and it is no constant initializer.

    Returns (model, x, params), params[i] = (w_in, w_core, w_out, b) of layer i, for the float64 reference."""
    tp = _TP[dtype]
    x = rng.standard_normal((batch, c, hw, hw)).astype(dtype)
    nodes, inits, params, funcs = [], [], [], {}
    prev, prev2 = "X", None
    for i in range(layers):
        ws = ((rng.standard_normal((r, c, 1, 1)) / np.sqrt(c)).astype(dtype),
              (rng.standard_normal((r, r, k, k)) / np.sqrt(r * k * k)).astype(dtype),
              (rng.standard_normal((c, r, 1, 1)) * 0.5 / np.sqrt(r)).astype(dtype),
              (rng.standard_normal(c) * 0.1).astype(dtype))
        params.append(ws)
        names = [f"l{i}_{n}" for n in ("w_in", "w_core", "w_out", "b")]
        if computed_weights:
            inits += [numpy_helper.from_array(w, n + "_0") for w, n in zip(ws, names)]
            nodes += [helper.make_node("Mul", [n + "_0", "S"], [n], name=f"scale_{n}") for n in names]
        else:
            inits += [numpy_helper.from_array(w, n) for w, n in zip(ws, names)]
        residual = prev2 is not None
        node = helper.make_node(SPEC.name, [prev, *names] + ([prev2] if residual else []), [f"y{i}"],
                                domain=SPEC.domain, name=f"tc{i}", strides=[1, 1], pads=[k // 2] * 4,
                                dilations=[1, 1], activation="relu")
        node.overload = SPEC.overload("relu", residual)
        funcs[residual] = build_function("relu", residual, OPSET)
        nodes.append(node)
        prev2, prev = prev, f"y{i}"
    g_in = [helper.make_tensor_value_info("X", tp, list(x.shape))]
    if computed_weights:
        g_in.append(helper.make_tensor_value_info("S", tp, []))
    graph = helper.make_graph(nodes, "tucker_chain", g_in, [helper.make_tensor_value_info(prev, tp, None)], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(SPEC.domain, 1)],
                          functions=list(funcs.values()), ir_version=FUNCTION_IR_VERSION)
    return onnx.shape_inference.infer_shapes(m), x, params


def tucker_chain_reference(x, params, k=3):
    """float64 output of tucker_chain_model's stack."""
    from tucker_onnx.op.reference import tucker_conv
    prev, prev2 = np.asarray(x, np.float64), None
    for ws in params:
        y = tucker_conv(prev, *ws, prev2, (1, 1), (k // 2,) * 4, (1, 1), "relu")
        prev2, prev = prev, y
    return prev
