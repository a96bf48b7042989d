"""Exports torchvision CNNs to ONNX (random or given weights) for samples, tests and benchmarks."""
from __future__ import annotations

from pathlib import Path

from .errors import TuckerOnnxError
from .model_io import MAX_OPSET

MODELS = ("resnet18", "resnet50", "vgg16", "vgg16_bn", "densenet121", "densenet201")
EXPORT_OPSET = 17


def build_torchvision(name: str, num_classes: int = 1000, seed: int = 0):
    import torch
    import torchvision
    if name not in MODELS:
        raise TuckerOnnxError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    torch.manual_seed(seed)
    model = getattr(torchvision.models, name)(weights=None, num_classes=num_classes)
    model.eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, so BN folding is really exercised
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    return model


def export_torch(model, path: str | Path, image_size: int = 224, channels: int = 3, dynamic_batch: bool = True,
                 opset: int = EXPORT_OPSET) -> Path:
    """torch.onnx.export (TorchScript exporter, eval mode: BN folds into the preceding conv)."""
    import torch
    if opset > MAX_OPSET:
        raise TuckerOnnxError(f"opset {opset} > {MAX_OPSET}")
    path = Path(path)
    x = torch.randn(1, channels, image_size, image_size)
    kwargs = dict(input_names=["input"], output_names=["output"], opset_version=opset, dynamo=False)
    if dynamic_batch:
        kwargs["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (x,), str(path), **kwargs)
    return path


def export_torchvision(name: str, path: str | Path, image_size: int = 224, num_classes: int = 1000,
                       dynamic_batch: bool = True, seed: int = 0) -> Path:
    return export_torch(build_torchvision(name, num_classes, seed), path, image_size, dynamic_batch=dynamic_batch)
