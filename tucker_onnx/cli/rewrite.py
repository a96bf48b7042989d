"""`tucker-onnx rewrite IN OUT`: fuse Conv triplets (+ BN, residual Add, Relu) into TuckerConv nodes."""
from __future__ import annotations

import click

from ..errors import CheckFailed, TuckerOnnxError
from .options import check_options, guarded, model_in_out, verbosity


def default_tolerances(model, atol, rtol):
    import onnx
    fp16 = any(vi.type.tensor_type.elem_type == onnx.TensorProto.FLOAT16 for vi in model.graph.input) or any(
        t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer)
    return (atol if atol is not None else (1e-2 if fp16 else 1e-4),
            rtol if rtol is not None else (1e-2 if fp16 else 1e-3))


def run_check(original, candidate, n, atol, rtol, batch, library=True, original_library=False,
              failure="the output model disagrees with the input model; no file written "
                      "(loosen --atol/--rtol if the difference is rounding)"):
    """Original vs candidate on n random inputs, each with or without the library; raises CheckFailed."""
    from ..run.check import compare_sessions
    from ..run.session import make_session
    atol, rtol = default_tolerances(original, atol, rtol)
    ref = make_session(original, library=original_library)
    new = make_session(candidate, library=library)
    res = compare_sessions(ref, new, original, n=n, atol=atol, rtol=rtol, batch=batch)
    click.echo(res.line() + f" [atol {atol:g}, rtol {rtol:g}]")
    if not res.ok:
        raise CheckFailed(failure)


@click.command()
@model_in_out
@click.option("--dry-run", is_flag=True, help="List each candidate chain and why it was or was not fused; write nothing.")
@click.option("--plan", "plan_path", default=None,
              help="A `rank` plan: layers it lists as unfused (the cuDNN triplet measured faster) stay three Convs.")
@click.option("--measure", is_flag=True,
              help="Time each chain fused and as three Convs on --provider; fuse only where fusing is faster.")
@click.option("--provider", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="Where --measure times the chains (the custom-op library runs the fused op).")
@click.option("--tune", default=None, help="With --measure on CUDA: time the fused op with per-shape tuned configs "
              "(top<K> or exhaustive), as `tucker-onnx tune` deploys it.")
@click.option("--split-concat", "split_concat", type=int, default=None, metavar="N",
              help="Also split every Concat with more than N inputs into nested Concats (the same outputs): ONNX "
              "Runtime cannot capture a CUDA Concat of more than 32 inputs in a CUDA graph (DenseNet-201: use 32).")
@check_options
@verbosity
@guarded
def rewrite(input, output, dry_run, plan_path, measure, provider, tune, split_concat, check_n, atol, rtol, batch,
            verbose):
    """Fuse every Conv1x1 -> ConvKxK -> Conv1x1 chain of INPUT into one TuckerConv node; write OUTPUT."""
    from ..model_io import check_output_path, load_model, save_model
    from ..rewrite import rewrite_model
    from ..run.check import before_after_table
    if not dry_run:
        check_output_path(input, output)
    if tune is not None and not measure:
        raise TuckerOnnxError("--tune only changes how --measure times the fused op: add --measure")
    if split_concat is not None and split_concat < 2:
        raise TuckerOnnxError(f"--split-concat needs at least 2 (inputs per Concat); got {split_concat}")
    model = load_model(input)
    keep = set()
    if plan_path:
        from ..decompose.ranks import load_unfused
        keep = load_unfused(plan_path)
    if measure:
        from ..profile.profiler import available_provider
        from ..rewrite.measure import measure_chains, slower_fused
        provider = available_provider() if provider == "auto" else provider
        if tune is not None:
            from ..run.tuning import use_tuner
            use_tuner(tune, provider)
        times = measure_chains(model, provider, progress=True)
        slower = slower_fused(times)
        for name, (f, t) in times.items():
            click.echo(f"{name}: fused {f:.4f} ms, three Convs {t:.4f} ms on {provider} -> "
                       f"{'keep' if name in slower else 'fuse'}")
        keep |= slower
    result = rewrite_model(model, dry_run=dry_run, keep_unfused=keep)
    if dry_run:
        for c in result.candidates:
            click.echo(c.describe())
        click.echo(f"{len(result.fused)} of {len(result.candidates)} candidate chain(s) would be fused")
        return
    if verbose:
        for c in result.candidates:
            click.echo(c.describe())
    rejected = len(result.candidates) - len(result.fused)
    click.echo(f"fused {len(result.fused)} chain(s) into TuckerConv"
               + (f"; {rejected} rejected (--dry-run says why)" if rejected else ""))
    if split_concat is not None:
        from ..rewrite import split_wide_concats
        result.model, n_split = split_wide_concats(result.model, split_concat)
        click.echo(f"split {n_split} Concat(s) of more than {split_concat} inputs")
    click.echo(before_after_table(model, result.model))
    if check_n:
        run_check(model, result.model, check_n, atol, rtol, batch)
    save_model(result.model, output, src=input)
    click.echo(f"wrote {output}")
