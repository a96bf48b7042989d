"""Builds the model-local ONNX function (Conv -> Conv -> Conv [-> Add] [-> Relu]) for one TuckerConv variant.

A model carrying these functions runs in any ONNX runtime without the custom-op library: ORT inlines
the function when no kernel claims the node. `unfuse` inlines the same bodies, so the fallback and
the inverse pass cannot disagree.
"""
from __future__ import annotations

import onnx
from onnx import helper

from .spec import SPEC

# Function overloads need IR >= 10; ORT 1.31 accepts IR <= 13.
FUNCTION_IR_VERSION = 10


def _ref(name: str, attr_type: int) -> onnx.AttributeProto:
    a = onnx.AttributeProto()
    a.name = name
    a.ref_attr_name = name
    a.type = attr_type
    return a


def build_function(activation: str, residual: bool, opset: int) -> onnx.FunctionProto:
    """The function body for (activation, residual), using default-domain `opset`."""
    ins = ["X", "W_in", "W_core", "W_out", "B"] + (["Z"] if residual else [])
    assert ins == SPEC.input_names[: len(ins)], "spec input order changed; update function.py"
    core = helper.make_node("Conv", ["t_in", "W_core"], ["t_core"], name="core")
    for attr in ("strides", "pads", "dilations"):
        core.attribute.append(_ref(attr, onnx.AttributeProto.INTS))
    nodes = [
        helper.make_node("Conv", ["X", "W_in"], ["t_in"], name="conv_in"),
        core,
        helper.make_node("Conv", ["t_core", "W_out", "B"], ["t_out"], name="conv_out"),
    ]
    last = "t_out"
    if residual:
        nodes.append(helper.make_node("Add", [last, "Z"], ["t_res"], name="residual"))
        last = "t_res"
    if activation == "relu":
        nodes.append(helper.make_node("Relu", [last], ["t_act"], name="act"))
        last = "t_act"
    nodes.append(helper.make_node("Identity", [last], ["Y"], name="out"))
    return helper.make_function(
        SPEC.domain, SPEC.name, ins, ["Y"], nodes,
        opset_imports=[helper.make_opsetid("", opset)],
        attributes=SPEC.attribute_names,
        overload=SPEC.overload(activation, residual),
        doc_string=f"TuckerConv fallback: activation={activation}, residual={residual}",
    )
