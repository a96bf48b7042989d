"""Concat nodes with many inputs -> nested Concats, so that ONNX Runtime can capture the model in a CUDA graph.

Why: ORT's CUDA Concat copies the input pointers of a node with more than 32 inputs to the GPU from the host, which
CUDA-graph capture does not allow; DenseNet-201's third dense block concatenates up to 48 tensors, so the model could
run only without graphs (results/NOTES.md, sessions 2 and 30). Concatenation is a copy, so the nested form gives
bit-identical outputs. Edits the ModelProto directly: the model's functions, metadata and every other node stay as
they are.
"""
from __future__ import annotations

import onnx
from onnx import helper

from ..errors import TuckerOnnxError

ORT_CUDA_CONCAT_CAPTURE_LIMIT = 32


def split_wide_concats(model: onnx.ModelProto, max_inputs: int = ORT_CUDA_CONCAT_CAPTURE_LIMIT,
                       ) -> tuple[onnx.ModelProto, int]:
    """A copy of `model` where no Concat has more than `max_inputs` inputs, and how many Concats were split.

    A wide Concat keeps its name and output; its last inputs move into inner Concats (in order, so the result is the
    same), the fewest needed: the newest, smallest tensors in a dense block, so the extra copy stays small.
    """
    if max_inputs < 2:
        raise TuckerOnnxError(f"a Concat needs at most max_inputs >= 2 inputs; got {max_inputs}")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    nodes, split = [], 0
    taken = {n.name for n in out.graph.node} | {o for n in out.graph.node for o in n.output}
    taken |= {i.name for i in out.graph.input} | {i.name for i in out.graph.initializer}

    def fresh(base: str) -> str:
        name, i = base, 0
        while name in taken:
            i += 1
            name = f"{base}_{i}"
        taken.add(name)
        return name

    for node in out.graph.node:
        if node.op_type != "Concat" or len(node.input) <= max_inputs:
            nodes.append(node)
            continue
        inputs, part = list(node.input), 0
        while len(inputs) > max_inputs:
            k = min(max_inputs, len(inputs) - max_inputs + 1)  # the inner Concat's inputs: the last k
            base = node.name or node.output[0]
            inner = helper.make_node("Concat", inputs[-k:], [fresh(f"{base}/split{part}_out")],
                                     name=fresh(f"{base}/split{part}"))
            inner.attribute.extend(node.attribute)  # (axis)
            nodes.append(inner)
            inputs = inputs[:-k] + [inner.output[0]]
            part += 1
        del node.input[:]
        node.input.extend(inputs)
        nodes.append(node)
        split += 1
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    return out, split
