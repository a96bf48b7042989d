"""Latency of an ONNX model on a provider: warm-up, repeats, percentiles, spread warning.

On CUDA, inputs and outputs are bound on the device (IOBinding) and CUDA graphs can be on, so the time is
the device's, not Python's; on the CPU a Run is the measurement.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from ..run.session import make_session


@dataclass
class Latency:
    warmup: int
    repeats: int
    min_ms: float
    median_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    cv: float  # std / mean

    @property
    def noisy(self) -> bool:
        return self.cv > 0.15

    def to_dict(self):
        return asdict(self) | {"noisy": self.noisy}


def provider_list(provider: str) -> list[str]:
    return ["CUDAExecutionProvider", "CPUExecutionProvider"] if provider == "cuda" else ["CPUExecutionProvider"]


def cuda_provider_options(cuda_graph: bool) -> list[dict]:
    return [{"enable_cuda_graph": "1" if cuda_graph else "0", "cudnn_conv_algo_search": "EXHAUSTIVE"}, {}]


def open_session(model, provider: str = "cpu", library: bool = True, cuda_graph: bool = False, threads: int = 0):
    import onnxruntime as ort
    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
    if provider == "cuda":
        ort.preload_dlls()
        return make_session(model, providers=provider_list("cuda"), library=library,
                            provider_options=cuda_provider_options(cuda_graph), session_options=so)
    return make_session(model, providers=provider_list("cpu"), library=library, session_options=so)


_FLUSH = None


def _flush_cpu_caches():
    """Evict the caches (64 MiB write), so an isolated node reads its weights cold as it does inside the model."""
    global _FLUSH
    if _FLUSH is None:
        _FLUSH = np.ones(16 << 20, np.float32)
    _FLUSH += 1.0


_ORT_NP = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
           "tensor(int64)": np.int64, "tensor(int32)": np.int32}


def bind_on_device(sess, feeds: dict):
    """IOBinding with inputs and outputs in fixed device buffers, made before the first Run: a plain Run on a
    CUDA-graph session could be the one that gets captured, with its temporary buffers."""
    import onnxruntime as ort
    io = sess.io_binding()
    keep = []
    for name, arr in feeds.items():
        v = ort.OrtValue.ortvalue_from_numpy(arr, "cuda", 0)
        keep.append(v)
        io.bind_ortvalue_input(name, v)
    batch = next(iter(feeds.values())).shape[0] if feeds else 1
    for o in sess.get_outputs():
        shape = [d if isinstance(d, int) else (batch if i == 0 else None) for i, d in enumerate(o.shape)]
        if None in shape or o.type not in _ORT_NP:
            io.bind_output(o.name, "cuda")  # ORT allocates it; fine without CUDA graphs
            continue
        v = ort.OrtValue.ortvalue_from_shape_and_type(shape, _ORT_NP[o.type], "cuda", 0)
        keep.append(v)
        io.bind_ortvalue_output(o.name, v)
    return io, keep


def measure(sess, feeds: dict, warmup: int = 10, repeats: int = 50, provider: str = "cpu", cold: bool = False) -> Latency:
    """Time `repeats` runs after `warmup` runs; per-run samples give the percentiles. cold: flush the CPU caches
    before each timed run (not timed)."""
    run = lambda: sess.run(None, feeds)
    if provider == "cuda":
        io, keep = bind_on_device(sess, feeds)
        run = lambda: sess.run_with_iobinding(io)
    for _ in range(warmup):
        run()
    samples = []
    for _ in range(repeats):
        if cold and provider == "cpu":
            _flush_cpu_caches()
        t0 = time.perf_counter()
        run()
        samples.append((time.perf_counter() - t0) * 1e3)
    a = np.asarray(samples)
    return Latency(warmup, repeats, float(a.min()), float(np.median(a)), float(np.percentile(a, 90)),
                   float(np.percentile(a, 99)), float(a.mean()), float(a.std() / a.mean()) if a.mean() > 0 else 0.0)


def _graph_capture_failure(e: Exception) -> bool:
    msg = str(e)
    return "CUDA Graph" in msg or "cuda graph" in msg.lower() or "capture" in msg.lower()


def time_model(model, feeds: dict, provider: str, library: bool, cuda_graph: bool, warmup: int = 10,
               repeats: int = 50, threads: int = 0) -> tuple[Latency, bool, str | None, object]:
    """measure() on a fresh session; where ORT cannot capture the model into a CUDA graph (e.g. its CUDA Concat
    takes at most 32 inputs under capture: DenseNet-201), times it again without graphs and says so.
    Returns (latency, CUDA graphs used, note, the session)."""
    sess = open_session(model, provider, library=library, cuda_graph=cuda_graph, threads=threads)
    try:
        return measure(sess, feeds, warmup, repeats, provider), cuda_graph, None, sess
    except Exception as e:
        if not (cuda_graph and provider == "cuda" and _graph_capture_failure(e)):
            raise
        note = f"CUDA graphs off for this model: ORT could not capture it ({str(e).splitlines()[0][-160:]})"
    sess = open_session(model, provider, library=library, cuda_graph=False, threads=threads)
    return measure(sess, feeds, warmup, repeats, provider), False, note, sess
