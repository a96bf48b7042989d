"""Option groups shared by subcommands, and the error boundary that turns failures into one line."""
from __future__ import annotations

import functools
import logging
import sys
import time
import traceback

import click

from ..errors import TuckerOnnxError


def model_in_out(f):
    f = click.argument("output", type=click.Path(dir_okay=False))(f)
    f = click.argument("input", type=click.Path())(f)
    return f


def check_options(f):
    f = click.option("--check", "check_n", type=click.IntRange(min=0), default=1, show_default=True,
                     help="Random-input runs comparing original and output in ONNX Runtime (0 skips).")(f)
    f = click.option("--atol", type=float, default=None, help="Absolute tolerance (default 1e-4 fp32, 1e-2 fp16).")(f)
    f = click.option("--rtol", type=float, default=None, help="Relative tolerance (default 1e-3 fp32, 1e-2 fp16).")(f)
    f = click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Batch size for a symbolic batch dimension in the check.")(f)
    return f


def verbosity(f):
    return click.option("-v", "--verbose", count=True, help="More output; -v also shows tracebacks.")(f)


def guarded(f):
    """Run a command: a user error prints exactly one line (stderr) and exits 1, a bug one line (the traceback with
    -v) and exits 2; a command that succeeds ends with a PASSED line and its time."""
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        verbose = kwargs.get("verbose", 0)
        logging.basicConfig(level=logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING,
                            format="%(levelname)s %(name)s: %(message)s")
        t0 = time.perf_counter()
        name = click.get_current_context().info_name
        try:
            f(*args, **kwargs)
        except TuckerOnnxError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        except Exception as e:  # a bug: still one line unless -v
            if verbose:
                traceback.print_exc()
            click.echo(f"error: internal error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} "
                       "(rerun with -v for the traceback)", err=True)
            sys.exit(2)
        click.echo(f"PASSED | {name} | {time.perf_counter() - t0:.2f}s")
    return wrapper
