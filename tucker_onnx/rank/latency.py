"""Measures each candidate as a small ONNX graph (fused TuckerConv, its three Convs, or the dense Conv) on the
target provider, with a cache keyed by device, provider, library and shape so reruns are quick.

Each time is net of an empty Run (as the profiler's per-layer times are): an isolated one-layer graph pays ORT's
per-Run cost, which the whole model pays once, so gross times would make small layers look slower than they are
and the layer sums overshoot the model."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from ..model_io import write_atomic
from ..op import SPEC
from ..op.function import FUNCTION_IR_VERSION, build_function
from ..profile.environment import device_signature
from ..profile.timing import measure, open_session
from ..run.library import get_library_path
from ..run.tuning import TUNE_ENV

OPSET = 17


def default_cache_path() -> Path:
    return Path(os.environ.get("TUCKER_ONNX_CACHE", Path.home() / ".cache" / "tucker-onnx")) / "latency.json"


def library_fingerprint() -> str:
    try:
        data = Path(get_library_path()).read_bytes()
    except Exception:
        return "no-library"
    return hashlib.sha256(data).hexdigest()[:16]


class LatencyCache:
    """JSON file: {scope: {shape key: ms}}; the scope (device, provider, library hash) invalidates it."""

    def __init__(self, path: Path | None, scope: str):
        self.path, self.scope = path, scope
        self.data = {}
        if path and path.exists():
            try:
                self.data = json.loads(path.read_text())
            except json.JSONDecodeError:
                self.data = {}
        self.entries = self.data.setdefault(scope, {})
        self.hits = self.misses = 0

    def get(self, key):
        v = self.entries.get(key)
        if v is None:
            self.misses += 1
        else:
            self.hits += 1
        return v

    def put(self, key, ms):
        self.entries[key] = ms

    def save(self):
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, json.dumps(self.data, indent=0))


def _conv_model(c, n, h, w, kh, kw, attrs, batch, r_in=None, r_out=None, rng=None, triplet=False):
    """The dense Conv (r_in None), the fused TuckerConv, or (triplet) the same ranks as three Convs."""
    rng = rng or np.random.default_rng(0)
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [batch, c, h, w])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)
    conv_attrs = {"strides": attrs["strides"], "pads": attrs["pads"], "dilations": attrs["dilations"]}
    if r_in is None:
        inits = [numpy_helper.from_array(rng.standard_normal((n, c, kh, kw)).astype(np.float32), "W"),
                 numpy_helper.from_array(np.zeros(n, np.float32), "B")]
        node = helper.make_node("Conv", ["X", "W", "B"], ["Y"], **conv_attrs)
        return helper.make_model(helper.make_graph([node], "dense", [x], [y], inits),
                                 opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)
    inits = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), nm) for s, nm in
             (((r_in, c, 1, 1), "W_in"), ((r_out, r_in, kh, kw), "W_core"), ((n, r_out, 1, 1), "W_out"), ((n,), "B"))]
    if triplet:
        nodes = [helper.make_node("Conv", ["X", "W_in"], ["T1"]),
                 helper.make_node("Conv", ["T1", "W_core"], ["T2"], **conv_attrs),
                 helper.make_node("Conv", ["T2", "W_out", "B"], ["Y"])]
        return helper.make_model(helper.make_graph(nodes, "triplet", [x], [y], inits),
                                 opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)
    node = helper.make_node(SPEC.name, ["X", "W_in", "W_core", "W_out", "B"], ["Y"], domain=SPEC.domain,
                            activation="none", **conv_attrs)
    node.overload = SPEC.overload("none", False)
    return helper.make_model(helper.make_graph([node], "fused", [x], [y], inits),
                             opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(SPEC.domain, 1)],
                             functions=[build_function("none", False, OPSET)], ir_version=FUNCTION_IR_VERSION)


class Timer:
    def __init__(self, provider: str, batch: int = 1, warmup: int = 5, repeats: int = 20,
                 cache_path: Path | None = None, cuda_graph: bool = True, library: bool | None = None):
        """library None: the fastest way a deployment runs TuckerConv on that provider: the CUDA kernel on
        'cuda'; on 'cpu' the function fallback (ORT's own convs), which beats the library's reference CPU kernel."""
        self.provider, self.batch, self.warmup, self.repeats = provider, batch, warmup, repeats
        self.cuda_graph = cuda_graph and provider == "cuda"
        self.library = (provider == "cuda") if library is None else library
        lib = library_fingerprint() if self.library else "function-fallback"
        tune = os.environ.get(TUNE_ENV, "model") if self.library else "-"  # how the fused op picks configs
        scope = (f"{device_signature(provider)}|lib {lib}|tune {tune}|graph {self.cuda_graph}|b{batch}"
                 "|net of an empty Run")
        self.cache = LatencyCache(cache_path, scope)
        self._empty_ms = None

    def empty_ms(self) -> float:
        """The per-Run cost subtracted from every measurement (measured once per cache scope)."""
        if self._empty_ms is None:
            self._empty_ms = self.cache.entries.get("empty run")
            if self._empty_ms is None:
                from ..profile.per_layer import empty_run_ms
                self._empty_ms = empty_run_ms(self.provider, self.warmup, self.repeats, self.cuda_graph)
                self.cache.put("empty run", self._empty_ms)
        return self._empty_ms

    def time(self, layer, r_in=None, r_out=None, triplet: bool = False) -> float:
        """ms of the dense conv, or of ranks (r_in, r_out) as the fused op or (triplet) as three Convs."""
        c, h, w = layer.in_shape
        n, _, kh, kw = layer.weight.shape
        a = layer.attrs
        key = f"{c}x{h}x{w}->{n} k{kh}x{kw} s{a['strides']} p{a['pads']} d{a['dilations']} " + (
            "dense" if r_in is None else f"r{r_in},{r_out}" + (" triplet" if triplet else ""))
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        m = _conv_model(c, n, h, w, kh, kw, a, self.batch, r_in, r_out, triplet=triplet)
        sess = open_session(m, self.provider, library=self.library and r_in is not None and not triplet,
                            cuda_graph=self.cuda_graph)
        x = np.random.default_rng(1).standard_normal((self.batch, c, h, w)).astype(np.float32)
        gross = measure(sess, {"X": x}, self.warmup, self.repeats, self.provider).median_ms
        ms = max(gross - self.empty_ms(), 0.02 * gross)  # never <= 0, whatever the noise
        self.cache.put(key, ms)
        return ms
