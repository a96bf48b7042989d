"""Picks per-layer ranks that minimise latency under an energy budget, or keep the most energy under a latency
target: a multiple-choice knapsack solved exactly by dynamic programming over the quantised energy deficit.

Each layer offers 'dense' (energy 1, its measured dense time) and every candidate faster than dense; the model
proxy is the mean energy kept over the decomposable layers. Deficits are rounded up to `unit`, so a returned
plan always satisfies the budget.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import TuckerOnnxError


@dataclass
class Option:
    label: str          # "dense" or "r_in,r_out"
    ms: float
    energy: float


def _deficit_units(options: list[list[Option]], unit: float) -> list[np.ndarray]:
    return [np.array([int(np.ceil(round((1.0 - o.energy) / unit, 9))) for o in opts]) for opts in options]


def frontier(options: list[list[Option]], unit: float = 1e-3):
    """best[d] = least total ms with total deficit units exactly d; plus back-pointers."""
    units = _deficit_units(options, unit)
    size = int(sum(u.max() for u in units)) + 1
    best = np.full(size, np.inf)
    best[0] = 0.0
    back = []
    for opts, us in zip(options, units):
        new = np.full(size, np.inf)
        arg = np.full(size, -1, dtype=np.int32)
        for k, (o, u) in enumerate(zip(opts, us)):
            cand = np.full(size, np.inf)
            cand[u:] = best[: size - u] + o.ms
            better = cand < new
            new[better], arg[better] = cand[better], k
        back.append(arg)
        best = new
    return best, back, units


def _backtrack(back, units, d: int) -> list[int]:
    picks = []
    for arg, us in zip(reversed(back), reversed(units)):
        k = int(arg[d])
        picks.append(k)
        d -= int(us[k])
    return picks[::-1]


def solve(options: list[list[Option]], energy: float | None = None, max_ms: float | None = None,
          unit: float = 1e-3) -> list[int]:
    """Index of the chosen option per layer. energy: mean energy floor (minimise ms); max_ms: total-ms ceiling
    (maximise mean energy, ties to less ms)."""
    if (energy is None) == (max_ms is None):
        raise ValueError("give exactly one of energy or max_ms")
    n = len(options)
    if n == 0:
        return []
    best, back, units = frontier(options, unit)
    d_idx = np.arange(len(best))
    if energy is not None:
        limit = int(np.floor(round(n * (1.0 - energy) / unit, 9)))
        feasible = np.isfinite(best) & (d_idx <= limit)
        if not feasible.any():
            raise TuckerOnnxError(f"no plan keeps mean energy >= {energy}")
        d = int(d_idx[feasible][np.argmin(best[feasible])])
    else:
        feasible = np.isfinite(best) & (best <= max_ms + 1e-12)
        if not feasible.any():
            fastest = float(best[np.isfinite(best)].min())
            raise TuckerOnnxError(f"no plan reaches the latency target ({max_ms:.4f} ms for the decomposable layers; "
                                  f"the fastest plan measured {fastest:.4f} ms); lower --speedup")
        d = int(d_idx[feasible].min())
    return _backtrack(back, units, d)


def curve(options: list[list[Option]], unit: float = 1e-3, points: int = 40) -> list[tuple[float, float]]:
    """(mean energy, least total ms) along the frontier, for the latency-vs-proxy plot."""
    best, _, _ = frontier(options, unit)
    n = max(1, len(options))
    run_min = np.minimum.accumulate(best)
    out = []
    for d in np.unique(np.linspace(0, len(best) - 1, points).astype(int)):
        if np.isfinite(run_min[d]):
            out.append((1.0 - d * unit / n, float(run_min[d])))
    return out
