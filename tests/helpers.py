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
