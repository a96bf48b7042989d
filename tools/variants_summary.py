"""Table of ADMM variants against decompose+fine-tune, paired by seed (the runs of tools/gpu_admm_variants.sh):
reads ROOT/base/seed*/results.json (dense, decompose+FT) and ROOT/<variant>/seed*/results.json (ADMM + FT).

Usage: python tools/variants_summary.py ROOT
"""
from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def _load(folder: Path) -> dict[int, dict]:
    return {int(f.parent.name[len("seed"):]): json.loads(f.read_text())["results"]
            for f in sorted(folder.glob("seed*/results.json"))}


def table(root: Path) -> str:
    base = _load(root / "base")
    if not base:
        raise SystemExit(f"error: no base/seed*/results.json under {root}")
    seeds = sorted(base)
    mean = lambda v: f"{statistics.mean(v):.2f}" if v else "-"
    rows = [f"| run | mean % | {' | '.join(f'seed {s}' for s in seeds)} | vs decompose+FT (paired) | vs dense |",
            "|---|---|" + "---|" * len(seeds) + "---|---|"]
    dense = {s: base[s]["dense"]["test_acc"] for s in seeds}
    dec = {s: base[s]["decompose_ft"]["test_acc"] for s in seeds if "decompose_ft" in base[s]}
    for label, acc in (("dense", dense), ("decompose + FT", dec)):
        rows.append(f"| {label} | {mean(list(acc.values()))} | "
                    f"{' | '.join(f'{acc[s]:.2f}' if s in acc else '-' for s in seeds)} | | |")
    from trainer.train import seeds_summary
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "base"):
        runs = {s: r for s, r in _load(folder).items() if "admm_ft" in r and s in base}
        if not runs:
            continue
        # Each variant seed joined with its seed's dense and decompose+FT: `train --seeds`' own aggregate.
        agg = seeds_summary({s: {**base[s], "admm_ft": r["admm_ft"]} for s, r in runs.items()})
        admm, gap = agg["methods"]["admm_ft"], agg.get("admm_minus_decompose")
        cells = [f"{runs[s]['admm_ft']['test_acc']:.2f} ({runs[s]['admm_ft'].get('start_acc', float('nan')):.2f})"
                 if s in runs else "-" for s in seeds]
        paired = f"{gap['mean']:+.2f} ({gap['admm_wins']}/{len(runs)} ahead)" if gap else "-"
        rows.append(f"| ADMM {folder.name} | {admm['mean']:.2f} | {' | '.join(cells)} | {paired} | "
                    f"{-agg['dense_minus_admm']:+.2f} |")
    return "\n".join(rows) + "\n\nADMM cells: final accuracy (accuracy right after the conversion, before fine-tuning)."


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(table(Path(sys.argv[1])))
