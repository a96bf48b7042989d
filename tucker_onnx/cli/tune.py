"""`tucker-onnx tune MODEL CACHE`: autotune a fused model's TuckerConv shapes on this GPU, save the configs."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import TuckerOnnxError
from .options import guarded, verbosity


@click.command()
@click.argument("model", type=click.Path())
@click.argument("cache", type=click.Path(dir_okay=False))
@click.option("--mode", default="top16", show_default=True,
              help="exhaustive (every candidate config) or top<K> (the analytical model's K cheapest).")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Batch size for a symbolic batch dimension (configs are tuned per batch size).")
@click.option("--replace", is_flag=True, help="Start a new cache instead of adding to an existing one.")
@verbosity
@guarded
def tune(model, cache, mode, batch, replace, verbose):
    """Time TuckerConv configs for every shape in MODEL on this GPU and write the best to CACHE (JSON lines).

    Deploy with TUCKER_ONNX_CONFIG_CACHE=CACHE: the op then runs the tuned configs from its first run, with no
    measuring in the session (the default picks come from the analytical model)."""
    from ..model_io import load_model, same_file
    from ..profile.report import table
    from ..run.tuning import CACHE_ENV, check_mode, read_cache, summary_rows, tune_model, write_cache
    check_mode(mode)
    if not Path(cache).parent.exists():
        raise TuckerOnnxError(f"{Path(cache).parent}: output directory does not exist")
    if same_file(model, cache):
        raise TuckerOnnxError(f"{cache}: refusing to overwrite the input model; choose another cache path")
    if Path(cache).exists() and not replace:
        read_cache(cache)  # fail now, not after tuning, if the cache to add to is broken
    m = load_model(model)
    entries = tune_model(m, mode, batch)
    if not entries:
        raise TuckerOnnxError("the op logged no shape: was the custom-op library's CUDA kernel used?")
    rows = summary_rows(entries)
    click.echo(table(rows, [("shape", "shape", "s"), ("model", "model pick", "s"), ("tuned", "tuned", "s"),
                            ("timed", "timed", "d"), ("model_us", "model us", ".1f"), ("tuned_us", "tuned us", ".1f"),
                            ("gain", "gain", ".2f")]))
    total = write_cache(entries, cache, merge=not replace)
    click.echo(f"wrote {cache}: {len(entries)} shape(s) tuned, {len(total)} in the cache; "
               f"deploy with {CACHE_ENV}={cache}")
