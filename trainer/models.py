"""torchvision CNNs adapted to small images (3x3 stride-1 stem, no max-pool, class count, grey input)."""
from __future__ import annotations

import torch
from torch import nn

from tucker_onnx.errors import TuckerOnnxError

MODELS = ("resnet18", "resnet50", "vgg16", "densenet121", "smallcnn")


class SmallCNN(nn.Module):
    """A 4-conv CNN for fast tests."""

    def __init__(self, in_ch: int, num_classes: int, width: int = 32):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(in_ch, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(2 * w, num_classes)

    def forward(self, x):
        return self.fc(self.features(x))


def build_model(name: str, in_ch: int, num_classes: int) -> nn.Module:
    import torchvision
    if name == "smallcnn":
        return SmallCNN(in_ch, num_classes)
    if name in ("resnet18", "resnet50"):
        m = getattr(torchvision.models, name)(weights=None, num_classes=num_classes)
        m.conv1 = nn.Conv2d(in_ch, 64, 3, 1, 1, bias=False)
        m.maxpool = nn.Identity()
        return m
    if name == "vgg16":
        m = torchvision.models.vgg16_bn(weights=None, num_classes=num_classes)
        m.features[0] = nn.Conv2d(in_ch, 64, 3, padding=1)
        m.avgpool = nn.AdaptiveAvgPool2d(1)
        m.classifier = nn.Sequential(nn.Linear(512, 512), nn.ReLU(True), nn.Dropout(0.3), nn.Linear(512, num_classes))
        return m
    if name == "densenet121":
        m = torchvision.models.densenet121(weights=None, num_classes=num_classes)
        m.features.conv0 = nn.Conv2d(in_ch, 64, 3, 1, 1, bias=False)
        m.features.pool0 = nn.Identity()
        return m
    raise TuckerOnnxError(f"unknown model {name!r}: {', '.join(MODELS)}")


def conv_macs(model: nn.Module, input_shape) -> int:
    """Multiply-accumulates of every Conv2d for one image (hooks on a dummy forward)."""
    total = 0

    def hook(mod, inp, out):
        nonlocal total
        total += out.shape[1] * out.shape[2] * out.shape[3] * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    was = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *input_shape, device=next(model.parameters()).device))
    model.train(was)
    for h in hs:
        h.remove()
    return total
