"""Candidate rank pairs per conv, with the accuracy proxy (energy kept) and a MAC-based prune.

Energy kept by ranks (r_in, r_out) is ||G||^2 / ||W||^2 for the HOOI core G, i.e. 1 - rel_err^2 of the
Tucker-2 approximation: the share of the weight's Frobenius energy the factors keep.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx_graphsurgeon as gs

from ..decompose.conv_pass import _skip_reason
from ..decompose.tucker2 import triplet_macs, tucker2
from ..graph import conv_attrs, static_hw

FRACTIONS = (0.125, 0.25, 0.375, 0.5, 0.625, 0.75)


@dataclass
class Candidate:
    r_in: int
    r_out: int
    energy: float
    macs: int
    ms: float | None = None


@dataclass
class Layer:
    name: str
    weight: np.ndarray
    attrs: dict
    in_shape: list[int]      # [C, H, W]
    out_hw: tuple[int, int]
    dense_macs: int
    dense_ms: float | None = None
    candidates: list[Candidate] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)


def _round(v: float, step: int, cap: int) -> int:
    return int(min(cap, max(step, int(np.ceil(v / step)) * step)))


def rank_grid(c: int, n: int, step: int, fractions=FRACTIONS) -> list[tuple[int, int]]:
    """(r_in, r_out) pairs on a grid of channel fractions, rounded up to multiples of `step`."""
    ins = sorted({_round(f * c, step, c) for f in fractions})
    outs = sorted({_round(f * n, step, n) for f in fractions})
    return [(a, b) for a in ins for b in outs if a < c or b < n]


def enumerate_layers(graph: gs.Graph, step: int, min_channels: int = 16, fractions=FRACTIONS) -> list[Layer]:
    """Every decomposable conv with its candidates; candidates with at least the dense MACs are pruned."""
    layers = []
    for node in graph.nodes:
        if node.op != "Conv" or _skip_reason(node, min_channels) is not None:
            continue
        w = node.inputs[1].values
        hw_in, hw_out = static_hw(node.inputs[0]), static_hw(node.outputs[0])
        if hw_in is None or hw_out is None:
            continue
        n, c, kh, kw = w.shape
        dense = n * c * kh * kw * hw_out[0] * hw_out[1]
        lay = Layer(node.name, w, conv_attrs(node, w), [c, *hw_in], hw_out, dense)
        for r_in, r_out in rank_grid(c, n, step, fractions):
            macs = triplet_macs(c, n, r_in, r_out, kh, kw, hw_in, hw_out)
            if macs >= dense:
                lay.pruned.append(f"{r_in},{r_out}: {macs} MACs >= dense {dense}")
                continue
            _, _, _, err = tucker2(w, r_in, r_out, n_iter_max=2)
            lay.candidates.append(Candidate(r_in, r_out, float(max(0.0, 1.0 - err ** 2)), macs))
        layers.append(lay)
    return layers
