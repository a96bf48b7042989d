"""`tucker-onnx decompose IN OUT`: Tucker-2 (HOOI) the KxK convs of a plain ONNX model into Conv triplets."""
from __future__ import annotations

import click

from ..errors import TuckerOnnxError
from .options import guarded, model_in_out, verbosity


def _fmt(n):
    from ..run.check import human
    return "-" if n is None else human(n)


@click.command()
@model_in_out
@click.option("--ratio", type=float, default=None, help="Ranks as a fraction of the channels, e.g. 0.25.")
@click.option("--plan", "plan_path", type=click.Path(dir_okay=False), default=None,
              help="JSON plan: {\"conv node name\": [r_in, r_out], ...}.")
@click.option("--multiple", type=click.IntRange(min=1), default=1, show_default=True,
              help="Round ratio ranks up to a multiple of this (32 suits the GPU kernel).")
@click.option("--min-channels", type=click.IntRange(min=1), default=16, show_default=True,
              help="Leave convs with fewer input or output channels dense (ratio mode).")
@verbosity
@guarded
def decompose(input, output, ratio, plan_path, multiple, min_channels, verbose):
    """Replace each KxK Conv of INPUT by Conv1x1 -> ConvKxK -> Conv1x1 and write OUTPUT."""
    from ..decompose import decompose_model
    from ..decompose.ranks import load_plan
    from ..model_io import check_output_path, load_model, save_model
    from ..run.check import before_after_table
    check_output_path(input, output)
    model = load_model(input)
    plan = load_plan(plan_path) if plan_path else None
    if ratio is None and plan is None:
        raise TuckerOnnxError("give --ratio R or --plan FILE")
    out, reports = decompose_model(model, ratio=ratio, plan=plan, multiple=multiple, min_channels=min_channels,
                                   progress=True)
    rows = [("layer", "weight", "ranks", "rel.err", "params", "MACs", "note")]
    for r in reports:
        if r.status == "decomposed":
            rows.append((r.name, r.shape, f"{r.ranks[0]},{r.ranks[1]}", f"{r.rel_error:.3f}",
                         f"{_fmt(r.params_before)}->{_fmt(r.params_after)}", f"{_fmt(r.macs_before)}->{_fmt(r.macs_after)}", ""))
        elif verbose or plan is not None:
            rows.append((r.name, r.shape, "-", "-", "-", "-", f"skipped: {r.reason}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    done = [r for r in reports if r.status == "decomposed"]
    skipped = len(reports) - len(done)
    click.echo(f"decomposed {len(done)} conv(s), left {skipped} dense" + ("" if verbose else " (-v lists them)"))
    macs_b = sum(r.macs_before or 0 for r in done)
    macs_a = sum(r.macs_after or 0 for r in done)
    extra = {"MACs (decomposed layers)": (_fmt(macs_b), _fmt(macs_a))} if macs_b else {}
    click.echo(before_after_table(model, out, extra))
    save_model(out, output, src=input)
    click.echo(f"wrote {output}")
