"""The `tucker-onnx` command group."""
from __future__ import annotations

import click

from .. import __version__
from .decompose import decompose
from .profile import profile
from .rank import rank
from .rewrite import rewrite
from .train import train
from .tune import tune
from .unfuse import unfuse
from .zoo import zoo


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tucker-onnx")
def cli():
    """Tucker-decompose CNNs and fuse each Tucker conv triplet into one fast TuckerConv op."""


cli.add_command(train)
cli.add_command(zoo)
cli.add_command(decompose)
cli.add_command(rewrite)
cli.add_command(unfuse)
cli.add_command(profile)
cli.add_command(rank)
cli.add_command(tune)


def main():
    cli(prog_name="tucker-onnx")


if __name__ == "__main__":
    main()
