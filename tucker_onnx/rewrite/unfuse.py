"""The inverse of rewrite: inline every TuckerConv back into standard ops from its own function body."""
from __future__ import annotations

import onnx
import onnx.inliner

from ..errors import TuckerOnnxError
from ..op import SPEC


def unfuse_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """Replace TuckerConv nodes by Conv -> Conv -> Conv [-> Add] [-> Relu]; drop the functions."""
    nodes = [n for n in model.graph.node if n.op_type == SPEC.name and n.domain == SPEC.domain]
    if not nodes:
        raise TuckerOnnxError(f"the model has no {SPEC.name} nodes to unfuse")
    have = {(f.domain, f.name, f.overload) for f in model.functions}
    missing = {n.overload for n in nodes if (SPEC.domain, SPEC.name, n.overload) not in have}
    if missing:
        raise TuckerOnnxError(f"{SPEC.name} nodes reference function overloads missing from the model: {sorted(missing)}")
    out = onnx.inliner.inline_selected_functions(model, [(SPEC.domain, SPEC.name)], inline_schema_functions=False)
    del out.functions[:]
    keep = [o for o in out.opset_import if o.domain != SPEC.domain]
    del out.opset_import[:]
    out.opset_import.extend(keep)
    return onnx.shape_inference.infer_shapes(out)
