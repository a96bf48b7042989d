"""rank_model: enumerate candidates, measure them, choose ranks, and describe the plan."""
from __future__ import annotations

from pathlib import Path

import onnx

from ..errors import TuckerOnnxError
from ..graph import import_graph
from .candidates import enumerate_layers
from .latency import Timer
from .select import Option, curve, solve


def rank_model(model: onnx.ModelProto, provider: str, energy: float | None = None, speedup: float | None = None,
               step: int = 32, batch: int = 1, repeats: int = 20, cache_path: Path | None = None,
               model_ms: float | None = None, min_channels: int = 16, progress: bool = False,
               library: bool | None = None, prune_with_model: bool | None = None) -> dict:
    """library: run the fused op through the custom-op library (default: on CUDA only; see Timer).
    prune_with_model (default: on CUDA): skip measuring the fused op where the kernel's analytical model predicts
    it cannot beat the dense conv (over PRUNE_FACTOR x its time; the model is within 0.5-2x)."""
    if (energy is None) == (speedup is None):
        raise TuckerOnnxError("give exactly one of --energy or --speedup")
    if energy is not None and not 0 < energy <= 1:
        raise TuckerOnnxError("--energy must be in (0, 1]")
    if speedup is not None and speedup <= 0:
        raise TuckerOnnxError("--speedup must be positive")
    graph = import_graph(model)
    layers = enumerate_layers(graph, step, min_channels)
    if not layers:
        raise TuckerOnnxError("no decomposable conv with static shapes in the model")
    timer = Timer(provider, batch, repeats=repeats, cache_path=cache_path, library=library)
    # With the library (CUDA), each candidate also runs as three Convs (cuDNN), and the faster one counts: where
    # the fused op loses, the plan says so and `rewrite --plan` leaves that triplet alone. Through the function
    # fallback (CPU) the fused op already is those three Convs.
    triplets = timer.library
    prune = (provider == "cuda") if prune_with_model is None else prune_with_model
    pruned_by_model = 0
    total = sum(1 + len(l.candidates) * (2 if triplets else 1) for l in layers)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=total, desc="measure", unit="graph", leave=False, disable=None)
    options, notes, impl = [], {}, {}
    for lay in layers:
        lay.dense_ms = timer.time(lay)
        if bar:
            bar.update(1)
        opts = [Option("dense", lay.dense_ms, 1.0)]
        slower = 0
        for c in lay.candidates:
            pred = _predicted_fused_ms(lay, c, timer.batch) if prune and triplets else None
            if pred is not None and pred > PRUNE_FACTOR * lay.dense_ms:
                fused_ms = float("inf")  # cannot win: only its three Convs are measured
                pruned_by_model += 1
            else:
                fused_ms = timer.time(lay, c.r_in, c.r_out)
            c.ms = fused_ms
            if bar:
                bar.update(1)
            if triplets:
                c.triplet_ms = timer.time(lay, c.r_in, c.r_out, triplet=True)
                c.ms = min(fused_ms, c.triplet_ms)
                impl[(lay.name, f"{c.r_in},{c.r_out}")] = ("triplet" if c.triplet_ms < fused_ms else "fused",
                                                          fused_ms, c.triplet_ms)
                if bar:
                    bar.update(1)
            if c.ms < lay.dense_ms:
                opts.append(Option(f"{c.r_in},{c.r_out}", c.ms, c.energy))
            else:
                slower += 1
        if len(opts) == 1:
            best = min((c.ms for c in lay.candidates), default=None)
            notes[lay.name] = ("no candidate beats the dense conv" + (f" (best Tucker {best:.4f} ms vs dense {lay.dense_ms:.4f} ms)"
                                                                      if best is not None else " (all pruned by MACs)"))
        options.append(opts)
    if bar:
        bar.close()
    timer.cache.save()
    dense_sum = sum(l.dense_ms for l in layers)
    rest_ms = max(0.0, (model_ms or dense_sum) - dense_sum)
    if energy is not None:
        picks = solve(options, energy=energy)
    else:
        target_total = (model_ms or dense_sum) / speedup
        picks = solve(options, max_ms=target_total - rest_ms)
    plan, rows, unfused = {}, [], []
    for lay, opts, k in zip(layers, options, picks):
        o = opts[k]
        how, fused_ms, triplet_ms = impl.get((lay.name, o.label), ("fused", o.ms, None))
        fused_ms = None if fused_ms == float("inf") else fused_ms
        if o.label != "dense":
            r_in, r_out = map(int, o.label.split(","))
            plan[lay.name] = [r_in, r_out]
            if how == "triplet":
                unfused.append(lay.name)
        why = notes.get(lay.name, "kept dense: the budget prefers it" if o.label == "dense" else "")
        if how == "triplet":
            why = ("kept as three Convs: " + (f"fused op slower ({fused_ms:.4f} ms)" if fused_ms is not None else
                                              "the kernel's model predicts the fused op cannot win (not measured)"))
        rows.append({"layer": lay.name, "shape": f"{lay.in_shape[0]}->{lay.weight.shape[0]} k{lay.weight.shape[2]} @{lay.in_shape[1]}x{lay.in_shape[2]}",
                     "choice": o.label + (" triplet" if how == "triplet" else ""), "dense_ms": lay.dense_ms,
                     "chosen_ms": o.ms, "fused_ms": fused_ms if o.label != "dense" else None,
                     "triplet_ms": triplet_ms if o.label != "dense" else None, "energy": o.energy, "note": why})
    chosen_sum = sum(r["chosen_ms"] for r in rows)
    predicted = rest_ms + chosen_sum
    base = model_ms or dense_sum
    return {"plan": plan, "unfused": unfused, "rows": rows, "curve": curve(options), "dense_layers_ms": dense_sum,
            "chosen_layers_ms": chosen_sum, "model_ms": model_ms, "predicted_model_ms": predicted,
            "predicted_speedup": base / predicted if predicted > 0 else None,
            "mean_energy": sum(r["energy"] for r in rows) / len(rows), "cache": {"hits": timer.cache.hits, "misses": timer.cache.misses},
            "provider": provider, "fused_op_via": "custom-op library" if timer.library else "function fallback (ORT convs)",
            "batch": batch, "step": step, "mode": {"energy": energy, "speedup": speedup},
            "fused_pruned_by_model": pruned_by_model}


PRUNE_FACTOR = 4.0  # predicted fused time over the measured dense time beyond which the fused op is not measured


def _predicted_fused_ms(lay, cand, batch: int) -> float | None:
    from ..run.library import predict_fused_ms
    n, c, kh, kw = lay.weight.shape
    a = lay.attrs
    return predict_fused_ms(batch, c, lay.in_shape[1], lay.in_shape[2], cand.r_in, cand.r_out, n, kh, kw,
                            a["strides"], a["pads"], a["dilations"])
