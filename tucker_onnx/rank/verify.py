"""Builds the model a plan describes and measures it against the original, back to back in one process: the
layer-sum prediction is only as good as isolated layers stand for layers inside a model (on the CPU, caches
make them differ), so `rank` reports the measured speed-up beside the predicted one."""
from __future__ import annotations

import onnx

from ..decompose import decompose_model
from ..profile.timing import measure, open_session, time_model
from ..rewrite import rewrite_model
from ..run.check import random_inputs


def planned_model(model: onnx.ModelProto, plan: dict, unfused: list[str]) -> onnx.ModelProto:
    """decompose --plan, then rewrite --plan (the chains the plan keeps unfused stay three Convs)."""
    tucker, _ = decompose_model(model, plan=plan)
    if set(unfused) >= set(plan):
        return tucker
    return rewrite_model(tucker, keep_unfused=set(unfused)).model


def verify_plan(model: onnx.ModelProto, plan: dict, unfused: list[str], provider: str, batch: int = 1,
                repeats: int = 50, rounds: int = 3) -> dict:
    """Median latency of the original and the planned model, alternated `rounds` times; the speed-up."""
    if not plan:
        return {"original_ms": None, "planned_ms": None, "measured_speedup": 1.0}
    planned = planned_model(model, plan, unfused)
    feeds = random_inputs(model, 0, batch)
    # CUDA graphs where ORT can capture both models (time_model says when it cannot), the same for both
    _, graph, _, s_orig = time_model(model, feeds, provider, False, provider == "cuda", 2, 3)
    _, graph_plan, _, s_plan = time_model(planned, feeds, provider, provider == "cuda", graph, 2, 3)
    if graph_plan != graph:  # the planned model could not be captured: the original runs without graphs too
        s_orig = open_session(model, provider, library=False, cuda_graph=False)
    t_orig, t_plan = [], []
    for _ in range(rounds):
        t_orig.append(measure(s_orig, feeds, 5, repeats, provider).median_ms)
        t_plan.append(measure(s_plan, feeds, 5, repeats, provider).median_ms)
    o, p = sorted(t_orig)[rounds // 2], sorted(t_plan)[rounds // 2]
    return {"original_ms": o, "planned_ms": p, "measured_speedup": o / p}
