"""Which fusable chains run faster as one TuckerConv than as their three Convs, measured on a provider.

Each chain is timed as small graphs on its real shapes (the same Timer and cache as `rank`): the fused op through
the custom-op library, and the three Convs. The epilogue (BN, residual, Relu) is left out of both: it costs the
same either way, to first order."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx

from ..graph import conv_attrs, static_hw
from .fuse import rewrite_model


def measure_chains(model: onnx.ModelProto, provider: str, batch: int = 1, repeats: int = 20,
                   cache_path: Path | None = None, progress: bool = False) -> dict[str, tuple[float, float]]:
    """{core Conv name: (fused ms, three Convs ms)} for every chain `rewrite` would fuse whose input size is known."""
    from ..rank.latency import Timer
    timer = Timer(provider, batch, repeats=repeats, cache_path=cache_path, library=True)
    chains = [c for c in rewrite_model(model, dry_run=True).candidates if c.fused]
    if progress:
        from tqdm import tqdm
        chains = tqdm(chains, desc="measure", unit="chain", leave=False, disable=None)
    out = {}
    for c in chains:
        hw = static_hw(c.first.inputs[0])
        if hw is None:
            continue
        w_in, w_core, w_out = (n.inputs[1].values for n in (c.first, c.core, c.last))
        cin, (r1, r2, kh, kw), n = w_in.shape[1], w_core.shape, w_out.shape[0]
        layer = SimpleNamespace(in_shape=[cin, *hw], weight=np.empty((n, cin, kh, kw), np.float32),
                                attrs=conv_attrs(c.core, w_core))
        out[c.core.name] = (timer.time(layer, r1, r2), timer.time(layer, r1, r2, triplet=True))
    timer.cache.save()
    return out


def slower_fused(times: dict[str, tuple[float, float]]) -> set[str]:
    """The chains of `measure_chains` whose three Convs ran faster than the fused op: the ones to keep unfused."""
    return {name for name, (fused_ms, triplet_ms) in times.items() if triplet_ms < fused_ms}
