"""ONNX export of a (Tucker-format) model, checked: every TuckerConv2d must become a fusable triplet."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from tucker_onnx.errors import TuckerOnnxError
from tucker_onnx.model_io import save_model

from .layers import TuckerConv2d

OPSET = 17


def export_onnx(model: torch.nn.Module, input_shape, path: str | Path, check_rewrite: bool = True) -> dict:
    """Export (IR <= 13, opset 17, dynamic batch); returns {'fused': n, 'max_abs_diff': d} after rewriting."""
    import onnx

    from tucker_onnx.rewrite import rewrite_model
    from tucker_onnx.run.session import make_session
    model = model.eval().cpu()
    path = Path(path)
    x = torch.randn(1, *input_shape)
    tmp = path.with_suffix(".export.tmp.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(tmp), input_names=["input"], output_names=["logits"], opset_version=OPSET,
                          dynamo=False, dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    m = onnx.load(str(tmp))
    tmp.unlink()
    m.ir_version = min(m.ir_version, 13)
    save_model(m, path)
    n_tucker = sum(isinstance(mod, TuckerConv2d) for mod in model.modules())
    info = {"onnx": str(path), "tucker_layers": n_tucker}
    if check_rewrite and n_tucker:
        fused = rewrite_model(m).model
        n_fused = sum(n.op_type == "TuckerConv" for n in fused.graph.node)
        if n_fused != n_tucker:
            raise TuckerOnnxError(f"export: {n_tucker} Tucker layers but rewrite fused {n_fused}")
        xb = np.random.default_rng(0).standard_normal((4, *input_shape)).astype(np.float32)
        with torch.no_grad():
            want = model(torch.from_numpy(xb)).numpy()
        got = make_session(fused, library=True).run(None, {"input": xb})[0]
        fused_path = path.with_name(path.stem + "_fused.onnx")
        save_model(fused, fused_path)
        info |= {"fused_onnx": str(fused_path), "fused": n_fused,
                 "max_abs_diff": float(np.abs(got - want).max()),
                 "same_predictions": bool((got.argmax(1) == want.argmax(1)).all())}
    return info
