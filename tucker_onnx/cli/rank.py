"""`tucker-onnx rank MODEL -o plan.json`: per-layer ranks chosen by measured latency under a budget."""
from __future__ import annotations

import io
import json
from pathlib import Path

import click

from ..errors import TuckerOnnxError
from ..model_io import write_atomic
from .options import guarded, verbosity

COLS = [("layer", "layer", ""), ("shape", "shape", ""), ("choice", "ranks", ""), ("dense_ms", "dense ms", ".4f"),
        ("fused_ms", "fused ms", ".4f"), ("triplet_ms", "triplet ms", ".4f"), ("chosen_ms", "chosen ms", ".4f"),
        ("energy", "energy kept", ".3f"), ("note", "why", "")]


def _curve_png(curve, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([c[0] for c in curve], [c[1] for c in curve], marker=".")
    ax.set_xlabel("mean energy kept (accuracy proxy)")
    ax.set_ylabel("decomposable layers, ms (measured)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    write_atomic(path, buf.getvalue())  # like every other output: never a half-written file


@click.command()
@click.argument("model_path", metavar="MODEL")
@click.option("-o", "--output", required=True, help="Plan JSON to write (feeds decompose --plan and train --plan).")
@click.option("--energy", type=float, default=None, help="Minimise latency keeping mean energy >= this (e.g. 0.6).")
@click.option("--speedup", type=float, default=None, help="Keep the most energy with model latency <= original / this.")
@click.option("--provider", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--step", type=click.IntRange(min=1), default=32, show_default=True,
              help="Ranks are multiples of this (32 suits the GPU kernel).")
@click.option("--repeats", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--cache", "cache_path", default=None, help="Latency cache file (default ~/.cache/tucker-onnx/latency.json).")
@click.option("--no-cache", is_flag=True)
@click.option("--tune", default=None, help="CUDA: time the fused op with its configs tuned per shape (top<K> or "
              "exhaustive) instead of the analytical model's pick; deploy with `tucker-onnx tune`'s cache to match.")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Build the planned model and measure its speed-up against the original, beside the prediction.")
@verbosity
@guarded
def rank(model_path, output, energy, speedup, provider, batch, step, repeats, cache_path, no_cache, tune, verify,
         verbose):
    """Measure candidate Tucker ranks of each conv of a dense MODEL as small graphs and pick ranks by latency."""
    from ..model_io import load_model, same_file
    from ..profile.profiler import available_provider
    from ..profile.report import markdown, table
    from ..profile.timing import time_model
    from ..rank.latency import default_cache_path
    from ..rank.plan import rank_model
    from ..run.check import random_inputs
    if same_file(model_path, output):
        raise TuckerOnnxError("refusing to overwrite the input model with the plan")
    model = load_model(model_path)
    if provider == "auto":
        provider = available_provider()
    if tune is not None:  # every fused session of this process: rank's timings and the verification
        from ..run.tuning import use_tuner
        use_tuner(tune, provider)
    lat, _, note, _ = time_model(model, random_inputs(model, 0, batch), provider, False, provider == "cuda", 10,
                                 max(repeats, 20))
    if note:
        click.echo(note)
    model_ms = lat.median_ms
    cache = None if no_cache else Path(cache_path) if cache_path else default_cache_path()
    res = rank_model(model, provider, energy=energy, speedup=speedup, step=step, batch=batch, repeats=repeats,
                     cache_path=cache, model_ms=model_ms, progress=True)
    click.echo(table(res["rows"], COLS))
    click.echo(f"model {model_ms:.3f} ms on {provider}; decomposable layers {res['dense_layers_ms']:.3f} -> "
               f"{res['chosen_layers_ms']:.3f} ms; predicted model {res['predicted_model_ms']:.3f} ms "
               f"({res['predicted_speedup']:.2f}x); mean energy kept {res['mean_energy']:.3f}; "
               f"{len(res['plan'])} of {len(res['rows'])} layers decomposed"
               + (f" ({len(res['unfused'])} kept as cuDNN triplets: rewrite --plan leaves them)" if res["unfused"] else "")
               + (f"; {res['fused_pruned_by_model']} fused candidates not measured (the kernel's model rules them out)"
                  if res.get("fused_pruned_by_model") else "")
               + f"; cache {res['cache']['hits']} hits, "
               f"{res['cache']['misses']} measured")
    if verify:
        from ..rank.verify import verify_plan
        res["verify"] = verify_plan(model, res["plan"], res["unfused"], provider, batch)
        v = res["verify"]
        if v["original_ms"] is not None:
            click.echo(f"verified: original {v['original_ms']:.3f} ms, planned model {v['planned_ms']:.3f} ms: "
                       f"{v['measured_speedup']:.2f}x measured vs {res['predicted_speedup']:.2f}x predicted")
    out = Path(output)
    plan = {"layers": res["plan"], "unfused": res["unfused"],
            "meta": {k: v for k, v in res.items() if k not in ("plan", "unfused", "rows", "curve")}}
    write_atomic(out, json.dumps(plan, indent=1))
    stem = out.with_suffix("")
    write_atomic(f"{stem}_report.json", json.dumps(res, indent=1, default=str))
    write_atomic(f"{stem}_report.md", f"# Rank plan for {Path(model_path).name}\n\n" + markdown(res["rows"], COLS))
    _curve_png(res["curve"], f"{stem}_curve.png", f"{Path(model_path).name}: latency vs energy kept ({provider})")
    click.echo(f"wrote {out}, {stem}_report.md/.json, {stem}_curve.png")
