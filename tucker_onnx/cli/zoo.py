"""`tucker-onnx zoo NAME OUT`: export a torchvision CNN (random weights) to ONNX."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import TuckerOnnxError
from .options import guarded, verbosity


@click.command()
@click.argument("name")
@click.argument("output", type=click.Path(dir_okay=False))
@click.option("--image-size", type=click.IntRange(min=8), default=224, show_default=True)
@click.option("--num-classes", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--static-batch", is_flag=True, help="Fix the batch dimension to 1.")
@verbosity
@guarded
def zoo(name, output, image_size, num_classes, static_batch, verbose):
    """Export torchvision model NAME (resnet18, resnet50, vgg16, densenet121, ...) to OUTPUT."""
    import os
    import tempfile
    from ..zoo import export_torchvision
    out = Path(output)
    if not out.parent.exists():
        raise TuckerOnnxError(f"{out.parent}: output directory does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        export_torchvision(name, tmp, image_size, num_classes, dynamic_batch=not static_batch)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    click.echo(f"exported {name} ({image_size}x{image_size}, {num_classes} classes) to {out}")
