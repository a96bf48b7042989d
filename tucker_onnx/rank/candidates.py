"""Candidate rank pairs per conv, with the accuracy proxy (energy kept) and a MAC-based prune.

Energy kept by ranks (r_in, r_out) is the truncated HOSVD's ||G||^2 / ||W||^2: rotate W once into the
eigenbases of its two channel Gram matrices, W' = U_out^T W U_in, and sum |W'[a, b]|^2 over a < r_out, b < r_in
(a 2-D prefix sum gives every candidate at once). It is the share of the weight's Frobenius energy the factors keep.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx_graphsurgeon as gs

from ..decompose.conv_pass import _skip_reason
from ..decompose.tucker2 import triplet_macs
from ..graph import conv_attrs, static_hw

FRACTIONS = (0.125, 0.25, 0.375, 0.5, 0.625, 0.75)


@dataclass
class Candidate:
    r_in: int
    r_out: int
    energy: float
    macs: int
    ms: float | None = None
    triplet_ms: float | None = None  # the same ranks as three Convs (measured where the library runs the op)


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


def hosvd_energy_table(w: np.ndarray) -> np.ndarray:
    """E[r_out, r_in] = energy kept by the truncated HOSVD with those ranks (E[0, :] = E[:, 0] = 0)."""
    w = np.asarray(w, np.float64)
    n, c = w.shape[:2]
    a0 = w.reshape(n, -1)
    a1 = w.transpose(1, 0, 2, 3).reshape(c, -1)
    u_out = np.linalg.eigh(a0 @ a0.T)[1][:, ::-1]
    u_in = np.linalg.eigh(a1 @ a1.T)[1][:, ::-1]
    rot = np.einsum("acij,cb->abij", np.einsum("ncij,na->acij", w, u_out, optimize=True), u_in, optimize=True)
    e = (rot ** 2).sum(axis=(2, 3))
    table = np.zeros((n + 1, c + 1))
    table[1:, 1:] = e.cumsum(0).cumsum(1)
    total = (w ** 2).sum()
    return table / total if total > 0 else table


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
        energy = hosvd_energy_table(w)
        for r_in, r_out in rank_grid(c, n, step, fractions):
            macs = triplet_macs(c, n, r_in, r_out, kh, kw, hw_in, hw_out)
            if macs >= dense:
                lay.pruned.append(f"{r_in},{r_out}: {macs} MACs >= dense {dense}")
                continue
            lay.candidates.append(Candidate(r_in, r_out, float(min(1.0, energy[r_out, r_in])), macs))
        layers.append(lay)
    return layers
