"""Builds the model a plan describes and measures it against the original, one after the other in one process: the
layer-sum prediction is only as good as isolated layers stand for layers inside a model (on the CPU, caches
make them differ), so `rank` reports the measured speed-up beside the predicted one."""
from __future__ import annotations

import gc

import onnx

from ..decompose import decompose_model
from ..profile.timing import measure, time_model
from ..rewrite import rewrite_model
from ..run.check import random_inputs


def planned_model(model: onnx.ModelProto, plan: dict, unfused: list[str]) -> onnx.ModelProto:
    """decompose --plan, then rewrite --plan (the chains the plan keeps unfused stay three Convs)."""
    tucker, _ = decompose_model(model, plan=plan)
    if set(unfused) >= set(plan):
        return tucker
    return rewrite_model(tucker, keep_unfused=set(unfused)).model


def _time_alone(model, feeds, provider: str, library: bool, cuda_graph: bool, repeats: int, rounds: int):
    """Median over `rounds` of a session opened for this model alone, then closed: on the GPU at batch 32 a session
    opened while others were open ran up to 1.9x slower than its kernels (session 29, tools/bench_models.py), so the
    two models are not timed side by side. Returns (ms, whether CUDA graphs were used)."""
    lat, graph, _, sess = time_model(model, feeds, provider, library, cuda_graph, 5, repeats)
    t = [lat.median_ms] + [measure(sess, feeds, 2, repeats, provider).median_ms for _ in range(rounds - 1)]
    del sess
    gc.collect()
    return sorted(t)[rounds // 2], graph


def verify_plan(model: onnx.ModelProto, plan: dict, unfused: list[str], provider: str, batch: int = 1,
                repeats: int = 50, rounds: int = 3) -> dict:
    """Median latency of the original and the planned model, each in a session of its own; the speed-up."""
    if not plan:
        return {"original_ms": None, "planned_ms": None, "measured_speedup": 1.0}
    planned = planned_model(model, plan, unfused)
    feeds = random_inputs(model, 0, batch)
    # CUDA graphs where ORT can capture both models (time_model says when it cannot), the same for both
    cuda = provider == "cuda"
    p, graph = _time_alone(planned, feeds, provider, cuda, cuda, repeats, rounds)
    o, graph_orig = _time_alone(model, feeds, provider, False, graph, repeats, rounds)
    if graph_orig != graph:  # the original could not be captured: the planned model runs without graphs too
        p, _ = _time_alone(planned, feeds, provider, cuda, False, repeats, rounds)
    return {"original_ms": o, "planned_ms": p, "measured_speedup": o / p}
