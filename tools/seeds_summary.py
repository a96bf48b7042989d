"""Aggregate seed runs made as separate processes (e.g. in parallel on one GPU), the way `train --seeds` does:
reads OUT/seed*/results.json and writes OUT/results.json and OUT/results.md (mean, std, paired ADMM gap).

Usage: python tools/seeds_summary.py OUT
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def summarize(out: Path) -> dict:
    from trainer.train import seeds_summary
    per_seed = {}
    for f in sorted(out.glob("seed*/results.json")):
        per_seed[int(f.parent.name[len("seed"):])] = json.loads(f.read_text())["results"]
    if not per_seed:
        raise SystemExit(f"error: no seed*/results.json under {out}")
    agg = seeds_summary(per_seed)
    (out / "results.json").write_text(json.dumps(agg, indent=1, default=str))
    (out / "results.md").write_text(agg["table"] + "\n")
    return agg


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(summarize(Path(sys.argv[1]))["table"])
