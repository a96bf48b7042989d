"""The TDC paper's rank sets (shared/docs/tdc_paper.md, section 5) as plans for our torchvision exports.

The paper lists [r_out, r_in]; plans are {ONNX Conv node name: [r_in, r_out]} as `decompose --plan` reads.
"""
from __future__ import annotations


def _n(path: str) -> str:
    return "/" + "/".join(path.split("|")) + "/Conv"


def resnet18() -> dict:
    sets = {1: ([32, 64], [32, 32]), 2: ([64, 64], [64, 96]), 3: ([96, 96], [96, 128]), 4: ([160, 160], [160, 192])}
    plan = {}
    for layer, (first, rest) in sets.items():
        for i, (b, c) in enumerate([(0, 1), (0, 2), (1, 1), (1, 2)]):
            r_out, r_in = first if i == 0 else rest
            plan[_n(f"layer{layer}|layer{layer}.{b}|conv{c}")] = [r_in, r_out]
    return plan


def resnet50() -> dict:
    sets = {1: [[32, 64], [32, 32], [32, 32]], 2: [[32, 32]] + [[32, 64]] * 3, 3: [[32, 64]] * 6, 4: [[64, 96]] * 3}
    return {_n(f"layer{l}|layer{l}.{b}|conv2"): [r_in, r_out] for l, rs in sets.items() for b, (r_out, r_in) in enumerate(rs)}


def densenet(blocks: tuple[int, ...], r_out: int, r_in: int) -> dict:
    plan = {}
    for bi, n in enumerate(blocks, start=1):
        for li in range(1, n + 1):
            plan[_n(f"features|denseblock{bi}|denselayer{li}|conv2")] = [r_in, r_out]
    return plan


def vgg16_bn() -> dict:
    ranks = {3: [32, 64], 7: [32, 64], 10: [32, 64], 14: [32, 64], 17: [32, 64], 20: [64, 64], 24: [96, 160],
             27: [96, 160], 30: [96, 192], 34: [96, 192], 37: [96, 192], 40: [96, 192]}
    return {_n(f"features|features.{i}"): [r_in, r_out] for i, (r_out, r_in) in ranks.items()}


PLANS = {"resnet18": resnet18, "resnet50": resnet50, "vgg16_bn": vgg16_bn,
         "densenet121": lambda: densenet((6, 12, 24, 16), 32, 32), "densenet201": lambda: densenet((6, 12, 48, 32), 32, 64)}
