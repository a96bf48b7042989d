"""Tuned execution configs for a model's TuckerConv shapes, saved to a cache file the CUDA kernel reads.

The CUDA op picks each shape's config by its analytical model. `tune` runs the model once on the GPU with an
autotuner on (TUCKER_ONNX_TUNE: `exhaustive`, or `top<K>` = the model's K cheapest configs), collects what the op
logs per shape (TUCKER_ONNX_CONFIG_LOG) and writes it as a cache; a deployment that sets TUCKER_ONNX_CONFIG_CACHE
to that file runs the tuned configs without measuring anything at its first run (like TensorRT's timing cache).
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

import onnx

from ..errors import TuckerOnnxError
from ..model_io import write_atomic
from ..op.spec import SPEC

TUNE_ENV, LOG_ENV, CACHE_ENV = "TUCKER_ONNX_TUNE", "TUCKER_ONNX_CONFIG_LOG", "TUCKER_ONNX_CONFIG_CACHE"


@contextmanager
def op_env(settings: dict[str, str | None]):
    """The op reads its settings from the environment at a shape's first run: set (str) or unset (None) each
    named variable for the block, and put back what was there after it."""
    saved = {k: os.environ.get(k) for k in settings}
    try:
        for k, v in settings.items():
            os.environ.pop(k, None)
            if v is not None:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None)
            if v is not None:
                os.environ[k] = v


def check_mode(mode: str, option: str = "--mode") -> str:
    if mode != "exhaustive" and not re.fullmatch(r"top([1-9][0-9]{0,3})", mode):
        raise TuckerOnnxError(f"{option} must be exhaustive or top<K> with K in 1..4096 (e.g. top16), got {mode!r}")
    return mode


def use_tuner(mode: str, provider: str, option: str = "--tune") -> None:
    """Every fused op this process runs from now on picks its configs by timing them (TUCKER_ONNX_TUNE): for
    `rank --tune`, `rewrite --measure --tune` and the benchmarks, so the fused op is judged as `tune` deploys it."""
    check_mode(mode, option)
    if provider != "cuda":
        raise TuckerOnnxError(f"{option} tunes the CUDA kernel: it needs the cuda provider")
    os.environ[TUNE_ENV] = mode


def read_cache(path: str | os.PathLike) -> dict[str, dict]:
    """Cache entries by shape key (a later line for a key replaces an earlier one, as in the C++ reader)."""
    out = {}
    for i, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            e = json.loads(line)
            out[e["key"]] = e
        except (ValueError, KeyError, TypeError):
            raise TuckerOnnxError(f"{path}:{i}: not a config-log line (JSON with a 'key' and a 'chosen' config)")
    return out


def tune_model(model: onnx.ModelProto, mode: str, batch: int = 1, seed: int = 0) -> dict[str, dict]:
    """Runs the model once on the CUDA provider with the autotuner on; returns what the op logged, per shape."""
    from ..profile.profiler import available_provider
    from ..profile.timing import open_session
    from .check import random_inputs
    check_mode(mode)
    if not any(n.op_type == SPEC.name and n.domain == SPEC.domain for n in model.graph.node):
        raise TuckerOnnxError("the model has no TuckerConv node: nothing to tune (run `tucker-onnx rewrite` first)")
    if available_provider() != "cuda":
        raise TuckerOnnxError("tuning needs a CUDA GPU and onnxruntime-gpu's CUDA provider; none is usable here")
    with tempfile.TemporaryDirectory() as d:
        log = Path(d) / "configs.jsonl"
        with op_env({TUNE_ENV: mode, LOG_ENV: str(log), CACHE_ENV: None}):
            open_session(model, provider="cuda", library=True).run(None, random_inputs(model, seed, batch))
        return read_cache(log) if log.exists() else {}


def write_cache(entries: dict[str, dict], path: str | os.PathLike, merge: bool = True) -> dict[str, dict]:
    """Writes the cache atomically; with merge, entries of an existing cache for other shapes are kept."""
    old = read_cache(path) if merge and Path(path).exists() else {}
    allx = old | entries
    write_atomic(path, "".join(json.dumps(e) + "\n" for e in allx.values()))
    return allx


def summary_rows(entries: dict[str, dict]) -> list[dict]:
    """Per shape: the model's pick, the tuned config, and their measured times where the tuner timed both."""
    rows = []
    for key, e in entries.items():
        t = {tuple(x[:6]): x[6] for x in e.get("timings_ms", [])}
        model_ms, best_ms = t.get(tuple(e["model"])), t.get(tuple(e["chosen"]))
        rows.append({"shape": key, "model": ",".join(map(str, e["model"])), "tuned": ",".join(map(str, e["chosen"])),
                     "timed": len(t), "model_us": model_ms * 1e3 if model_ms is not None else None,
                     "tuned_us": best_ms * 1e3 if best_ms is not None else None,
                     "gain": model_ms / best_ms if model_ms and best_ms else None})
    return rows
