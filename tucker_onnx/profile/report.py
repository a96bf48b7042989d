"""Renders a profile as a terminal table, JSON, CSV, Markdown and a PNG bar chart (matplotlib)."""
from __future__ import annotations

import csv
import json
from pathlib import Path


def _cell(r: dict, k: str, f: str) -> str:
    v = r.get(k, "")
    if v is None:
        return "-"
    return f"{v:{f}}" if f and v != "" else str(v)


def table(rows: list[dict], cols: list[tuple[str, str, str]]) -> str:
    """cols: (key, header, format)."""
    cells = [[h for _, h, _ in cols]] + [[_cell(r, k, f) for k, _, f in cols] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(cols))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(rows: list[dict], cols: list[tuple[str, str, str]]) -> str:
    head = "| " + " | ".join(h for _, h, _ in cols) + " |\n|" + "---|" * len(cols) + "\n"
    body = "".join("| " + " | ".join(_cell(r, k, f) for k, _, f in cols) + " |\n" for r in rows)
    return head + body


def write_all(report: dict, rows: list[dict], cols, stem: Path, title: str, compare_rows: list[dict] | None = None):
    stem.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{stem}.json").write_text(json.dumps(report, indent=1, default=str))
    with open(f"{stem}.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=[k for k, _, _ in cols])
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k, _, _ in cols})
    env = report.get("environment", {})
    md = f"# {title}\n\n" + "\n".join(f"- {k}: {v}" for k, v in env.items()) + "\n\n"
    if "latency" in report:
        md += "Model latency: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                            for k, v in report["latency"].items()) + "\n\n"
    md += markdown(rows, cols)
    Path(f"{stem}.md").write_text(md)
    plot(rows, f"{stem}.png", title, compare_rows)


def plot(rows: list[dict], path: str, title: str, compare_rows: list[dict] | None = None, top: int = 40):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = sorted(rows, key=lambda r: -r["ms"])[:top]
    fig, ax = plt.subplots(figsize=(10, max(3, 0.28 * len(rows) + 1)))
    names = [r["name"][-40:] for r in rows][::-1]
    ax.barh(range(len(rows)), [r["ms"] for r in rows][::-1], color="#4c72b0", label="model")
    ax.set_yticks(range(len(rows)), names, fontsize=7)
    ax.set_xlabel("ms per run (device time)")
    ax.set_title(title)
    if compare_rows is not None:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_compare(a_rows: list[dict], b_rows: list[dict], a_label: str, b_label: str, path: str, title: str):
    """Side-by-side totals per op type, with the speed-up in the title."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ops = sorted({r["op"] for r in a_rows} | {r["op"] for r in b_rows})
    at = [sum(r["ms"] for r in a_rows if r["op"] == o) for o in ops]
    bt = [sum(r["ms"] for r in b_rows if r["op"] == o) for o in ops]
    fig, ax = plt.subplots(figsize=(9, 4))
    xs = range(len(ops))
    ax.bar([x - 0.2 for x in xs], at, 0.4, label=a_label)
    ax.bar([x + 0.2 for x in xs], bt, 0.4, label=b_label)
    ax.set_xticks(list(xs), ops, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("ms per run, summed per op type")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
