"""`tucker-onnx profile MODEL.onnx`: model latency and per-layer device time, as tables, JSON, CSV, MD and PNG."""
from __future__ import annotations

from pathlib import Path

import click

from .options import guarded, verbosity

COLS = [("name", "layer", ""), ("op", "op", ""), ("shape", "shape", ""), ("ranks", "ranks", ""),
        ("ms", "ms", ".4f"), ("share_pct", "share %", ".1f")]


def _rows(report):
    rows = []
    for r in report["layers"]:
        rows.append(r | {"share_pct": 100 * r["share"]})
    return rows


def _show(report, label):
    env, lat = report["environment"], report["latency"]
    click.echo(f"[{label}] device {env.get('device')} | provider {env['provider']} | ORT {env['onnxruntime']}"
               + (f" | driver {env['driver']} | CUDA {env.get('cuda')} | cuDNN {env.get('cudnn')}" if env['provider'] == 'cuda' else "")
               + f" | options {env.get('provider_options')}"
               + (f" | TuckerConv fp32 {env['tucker_conv_fp32']}" if "tucker_conv_fp32" in env else "")
               + (f" | wgmma {env['tucker_conv_wgmma']}" if "tucker_conv_wgmma" in env else ""))
    if env.get("note"):
        click.echo(f"[{label}] note: {env['note']}")
    click.echo(f"[{label}] latency over {lat['repeats']} runs after {lat['warmup']} warm-up: min {lat['min_ms']:.3f} ms, "
               f"median {lat['median_ms']:.3f}, p90 {lat['p90_ms']:.3f}, p99 {lat['p99_ms']:.3f}")
    if lat["noisy"]:
        click.echo(f"[{label}] warning: high spread (cv {lat['cv']:.2f}); close other work or raise --repeats")
    rows = _rows(report)
    convs = [r for r in rows if r["op"] in ("Conv", "TuckerConv")]
    other = [r for r in rows if r["op"] not in ("Conv", "TuckerConv")]
    from ..profile.report import table
    show = sorted(convs, key=lambda r: -r["ms"])
    if other:
        show.append({"name": f"({len(other)} other nodes)", "op": "other", "shape": "", "ranks": "",
                     "ms": sum(r["ms"] for r in other), "share_pct": sum(r["share_pct"] for r in other)})
    click.echo(table(show, COLS))
    click.echo(f"[{label}] per-layer sum {report['layers_sum_ms']:.3f} ms = {100 * report['layers_sum_vs_model']:.0f}% "
               "of the model's median (each layer timed alone, minus an empty Run)")


@click.command()
@click.argument("model_path", metavar="MODEL")
@click.option("--compare", "compare_path", default=None, help="A second model to profile side by side (speed-up).")
@click.option("--provider", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--warmup", type=click.IntRange(min=0), default=10, show_default=True)
@click.option("--repeats", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--layer-repeats", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--no-cuda-graph", is_flag=True, help="Time the CUDA provider without CUDA graphs.")
@click.option("--threads", type=click.IntRange(min=0), default=0, show_default=True,
              help="CPU intra-op threads (0: ONNX Runtime's default); 1 gives the steadiest per-layer sums.")
@click.option("--no-library", is_flag=True, help="Do not register the custom-op library (TuckerConv runs as its function).")
@click.option("--out", default=None, help="Write STEM.json/.csv/.md/.png (default: next to the model).")
@verbosity
@guarded
def profile(model_path, compare_path, provider, batch, warmup, repeats, layer_repeats, no_cuda_graph, threads, no_library,
            out, verbose):
    """Run MODEL in ONNX Runtime (CUDA when available, else CPU; library registered) and report where time goes."""
    from ..model_io import load_model
    from ..profile.profiler import profile_model
    from ..profile.report import plot_compare, write_all
    kw = dict(provider=provider, batch=batch, warmup=warmup, repeats=repeats, layer_repeats=layer_repeats,
              cuda_graph=not no_cuda_graph, progress=True, library=not no_library, threads=threads)
    model = load_model(model_path)
    rep = profile_model(model, **kw)
    _show(rep, Path(model_path).name)
    stem = Path(out) if out else Path(model_path).with_suffix("").with_name(Path(model_path).stem + "_profile")
    write_all(rep, _rows(rep), COLS, stem, f"profile of {Path(model_path).name}")
    outputs = [f"{stem}.{e}" for e in ("json", "csv", "md", "png")]
    if compare_path:
        other = load_model(compare_path)
        rep2 = profile_model(other, **kw)
        _show(rep2, Path(compare_path).name)
        stem2 = Path(f"{stem}_compare")
        write_all(rep2, _rows(rep2), COLS, stem2, f"profile of {Path(compare_path).name}")
        speed = rep2["latency"]["median_ms"] / rep["latency"]["median_ms"]
        click.echo(f"speed-up of {Path(model_path).name} over {Path(compare_path).name}: {speed:.2f}x (median latency)")
        plot_compare(rep["layers"], rep2["layers"], Path(model_path).name, Path(compare_path).name,
                     f"{stem}_vs.png", f"{Path(model_path).name} vs {Path(compare_path).name}: {speed:.2f}x")
        outputs += [f"{stem2}.json", f"{stem}_vs.png"]
    click.echo("wrote " + ", ".join(outputs))
