#!/usr/bin/env python3
"""Summarises a TUCKER_ONNX_CONFIG_LOG written under TUCKER_ONNX_TUNE=exhaustive: per shape, how much slower
the analytical model's pick is than the best measured config (TDC's model was ~25% off on average).
Usage: python tools/summarize_configs.py configs.jsonl [--md out.md]"""
import argparse
import json
import statistics


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--md")
    a = ap.parse_args()
    seen, rows = set(), []
    for line in open(a.log):
        r = json.loads(line)
        if not r["timings_ms"] or r["key"] in seen:
            continue
        seen.add(r["key"])
        n = len(r["model"])  # config fields (variant, th, tw, threads, nsplit), then the time
        t = {tuple(x[:n]): x[n] for x in r["timings_ms"]}
        best_cfg = min(t, key=t.get)
        model_t = t.get(tuple(r["model"]))
        if model_t is None:
            continue
        rows.append((r["key"], r["model"], model_t, list(best_cfg), t[best_cfg], model_t / t[best_cfg] - 1))
    lines = ["| shape | model pick (variant,th,tw,threads,nsplit) | model ms | best | best ms | model slower by |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {k} | {m} | {mt:.4f} | {b} | {bt:.4f} | {100 * g:.1f}% |" for k, m, mt, b, bt, g in rows]
    if rows:
        gaps = [g for *_, g in rows]
        lines.append(f"\n{len(rows)} shapes: model pick slower than the tuned best by {100 * statistics.mean(gaps):.1f}% on average, "
                     f"median {100 * statistics.median(gaps):.1f}%, worst {100 * max(gaps):.1f}%")
    text = "\n".join(lines)
    print(text)
    if a.md:
        open(a.md, "w").write(text + "\n")


if __name__ == "__main__":
    main()
