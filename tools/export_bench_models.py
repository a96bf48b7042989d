#!/usr/bin/env python3
"""Writes the graphs tools/bench_models.py times (a torchvision model with the TDC paper's ranks: original, Tucker
unfused, Tucker fused; fp32 or fp16) to a folder, so `tucker-onnx profile FUSED --compare UNFUSED` can say per layer
where a model-level gap comes from (session 9: fp16 batch-32 fused models lost while their layers won alone).
Usage: python tools/export_bench_models.py OUT_DIR [--models resnet18] [--dtype fp16]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_models import to_fp16  # noqa: E402
from tdc_plans import PLANS  # noqa: E402
from tucker_onnx.decompose import decompose_model  # noqa: E402
from tucker_onnx.rewrite import rewrite_model  # noqa: E402
from tucker_onnx.zoo import export_torchvision  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--models", nargs="+", default=["resnet18"], choices=list(PLANS))
    ap.add_argument("--dtype", choices=["fp32", "fp16"], default="fp16")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in a.models:
        path = out / f"{name}_original_fp32.onnx"
        export_torchvision(name, path, image_size=224, num_classes=1000)
        dense = onnx.load(str(path))
        tucker, _ = decompose_model(dense, plan=PLANS[name]())
        conv = to_fp16 if a.dtype == "fp16" else (lambda m: m)
        graphs = {"original": conv(dense), "unfused": conv(tucker)}
        graphs["fused"] = rewrite_model(graphs["unfused"]).model
        for kind, model in graphs.items():
            onnx.save(model, str(out / f"{name}_{kind}_{a.dtype}.onnx"))
            print(out / f"{name}_{kind}_{a.dtype}.onnx")


if __name__ == "__main__":
    main()
