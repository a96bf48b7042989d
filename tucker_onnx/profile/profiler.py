"""profile_model: model latency + per-layer times + environment, as one report dict."""
from __future__ import annotations

from dataclasses import asdict

import onnx

from ..run.check import random_inputs
from .environment import describe
from .per_layer import layer_times
from .timing import cuda_provider_options, time_model


def available_provider() -> str:
    import onnxruntime as ort
    try:
        ort.preload_dlls()
    except Exception:
        pass
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return "cpu"
    try:
        from cuda.bindings import runtime as cudart
        err, n = cudart.cudaGetDeviceCount()
        return "cuda" if int(err) == 0 and n > 0 else "cpu"
    except Exception:
        return "cpu"


def profile_model(model: onnx.ModelProto, provider: str = "auto", batch: int = 1, warmup: int = 10,
                  repeats: int = 50, layer_repeats: int = 20, cuda_graph: bool = True, progress: bool = False,
                  library: bool = True, threads: int = 0) -> dict:
    if provider == "auto":
        provider = available_provider()
    cuda_graph = cuda_graph and provider == "cuda"
    feeds = random_inputs(model, 0, batch)
    lat, cuda_graph, note, sess = time_model(model, feeds, provider, library, cuda_graph, warmup, repeats, threads)
    session_providers = sess.get_providers()
    del sess  # closed before the layers are timed: open sessions slow each other (session 29, tools/bench_models.py)
    rows = layer_times(model, provider, batch, max(3, warmup // 2), layer_repeats, cuda_graph, progress, library, threads)
    opts = cuda_provider_options(cuda_graph)[0] if provider == "cuda" else {}
    sum_ms = sum(r.ms for r in rows)
    env = describe(provider, opts) | {"batch": batch, "session_providers": session_providers,
                                      "intra_op_threads": threads or "onnxruntime default"}
    if note:
        env["note"] = note
    return {"environment": env,
            "latency": lat.to_dict(), "layers": [asdict(r) for r in rows],
            "layers_sum_ms": sum_ms, "layers_sum_vs_model": sum_ms / lat.median_ms if lat.median_ms else None}
