"""`tucker-onnx unfuse IN OUT`: inline TuckerConv nodes back into standard ONNX ops."""
from __future__ import annotations

import click

from .options import check_options, guarded, model_in_out, verbosity


@click.command()
@model_in_out
@check_options
@verbosity
@guarded
def unfuse(input, output, check_n, atol, rtol, batch, verbose):
    """Replace every TuckerConv of INPUT by its Conv -> Conv -> Conv [-> Add] [-> Relu] body; write OUTPUT."""
    from ..model_io import check_output_path, load_model, save_model
    from ..rewrite import unfuse_model
    from ..run.check import before_after_table
    from .rewrite import run_check
    check_output_path(input, output)
    model = load_model(input)
    out = unfuse_model(model)
    click.echo(before_after_table(model, out))
    if check_n:
        run_check(model, out, check_n, atol, rtol, batch, library=False, original_library=True,
                  failure="the unfused model disagrees with the input; no file written")
    save_model(out, output, src=input)
    click.echo(f"wrote {output}")
