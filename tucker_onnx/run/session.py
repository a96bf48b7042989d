"""Builds onnxruntime InferenceSessions with the custom-op library registered."""
from __future__ import annotations

import onnx

from ..errors import TuckerOnnxError
from .library import get_library_path


def available_providers() -> list[str]:
    import onnxruntime as ort
    return ort.get_available_providers()


def make_session(model, providers: list[str] | None = None, library: bool | str = True,
                 provider_options: list[dict] | None = None, optimize: bool = True,
                 session_options=None):
    """An InferenceSession for `model` (path, bytes or ModelProto).

    library: True registers the project's library, a str registers that path, False registers none
    (TuckerConv nodes then run through their model-local function). providers default to CPU.
    """
    import onnxruntime as ort
    so = session_options or ort.SessionOptions()
    so.log_severity_level = 3
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if library:
        so.register_custom_ops_library(library if isinstance(library, str) else get_library_path())
    if isinstance(model, onnx.ModelProto):
        model = model.SerializeToString()
    providers = providers or ["CPUExecutionProvider"]
    try:
        if provider_options is not None:
            return ort.InferenceSession(model, sess_options=so, providers=providers, provider_options=provider_options)
        return ort.InferenceSession(model, sess_options=so, providers=providers)
    except Exception as e:
        raise TuckerOnnxError(f"onnxruntime could not load the model: {str(e).splitlines()[0]}") from None
