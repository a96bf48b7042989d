#!/usr/bin/env python3
"""Splits a kernel's SASS at its block and cluster barriers and sums Nsight Compute's per-instruction counts per phase:
instructions per warp, warp-stall samples, the commonest stall reasons (where the export has the per-reason columns)
and the commonest opcodes of each phase. Input: the source page of an ncu
report as CSV (`ncu -i REPORT.ncu-rep --page source --csv > SOURCE.csv`; tools/gpu_common.sh `ncu_layer` writes it
next to the report). Why: a latency-bound kernel's time follows its per-warp instruction chain, and the phases show
where that chain goes (session 15: ~1100 of the WMMA kernel's ~1830 instructions per warp were set-up and X loads);
the stall reasons say what each phase waits on (session 16: NCU_SAMPLING=0 in tools/gpu_common.sh samples a short
kernel every 32 cycles).

Usage: python tools/ncu_phases.py SOURCE.csv [--warps N]   (N: warps launched; default: the count of the first
instruction, which every warp executes once)
"""
from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

# Opcodes that end a phase: block barriers, the cluster barrier's wait, and the exit.
BOUNDARIES = ("BAR", "UCGABAR_WAIT", "EXIT")


def _number(text: str) -> float:
    text = text.replace(",", "").strip()
    try:
        return float(text)
    except ValueError:
        return 0.0


def read_source(path: Path) -> list[tuple[str, str, float, float, dict]]:
    """(address, SASS, instructions executed, stall samples, {stall reason: samples}) of the report's first kernel, in
    address order."""
    rows = list(csv.reader(path.open(newline="")))
    try:
        head = next(i for i, r in enumerate(rows) if r and r[0] == "Address")
    except StopIteration:
        raise ValueError(f"{path}: no 'Address' header: not an ncu source page exported with --csv") from None
    cols = rows[head]
    try:
        executed = cols.index("Instructions Executed")
        samples = cols.index("Warp Stall Sampling (All Samples)")
    except ValueError as e:
        raise ValueError(f"{path}: missing column ({e})") from None
    reasons = {c[len("stall_"):]: i for i, c in enumerate(cols) if c.startswith("stall_") and "(" not in c}
    out, seen = [], set()
    for r in rows[head + 1:]:
        if len(r) != len(cols) or not r[0].startswith("0x"):
            continue
        if r[0] in seen:  # a second profiled kernel starts over at the same addresses
            break
        seen.add(r[0])
        stalls = {k: _number(r[i]) for k, i in reasons.items()}
        out.append((r[0], r[1].strip(), _number(r[executed]), _number(r[samples]), {k: v for k, v in stalls.items() if v}))
    if not out:
        raise ValueError(f"{path}: no instructions")
    return out


def opcode(sass: str) -> str:
    """The opcode without its predicate and modifiers: '@!P0 BRA 0x..' -> 'BRA', 'IMAD.WIDE R2' -> 'IMAD'."""
    words = sass.split()
    if words and words[0].startswith("@"):
        words = words[1:]
    return words[0].split(".")[0] if words else ""


def phases(instrs, warps: float) -> list[dict]:
    """Consecutive runs of instructions, each ending at a boundary; counts per warp."""
    out, cur = [], None
    for addr, sass, executed, samples, stalls in instrs:
        if cur is None:
            cur = {"start": addr, "end": addr, "instructions": 0.0, "samples": 0.0, "ops": Counter(),
                   "stalls": Counter()}
        cur["end"] = addr
        cur["instructions"] += executed / warps
        cur["samples"] += samples
        cur["stalls"].update(stalls)
        cur["ops"][opcode(sass)] += executed / warps
        if opcode(sass) in BOUNDARIES:
            cur["boundary"] = sass.split()[-1] if sass.startswith("@") else sass.split()[0]
            out.append(cur)
            cur = None
    if cur is not None:
        cur["boundary"] = "-"
        out.append(cur)
    return [p for p in out if p["instructions"] > 0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path)
    ap.add_argument("--warps", type=float, help="warps launched (default: the first instruction's count)")
    ap.add_argument("--top", type=int, default=5, help="opcodes listed per phase")
    a = ap.parse_args(argv)
    try:
        instrs = read_source(a.source)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    warps = a.warps or instrs[0][2]
    if warps <= 0:
        print("error: the first instruction never ran; pass --warps", file=sys.stderr)
        return 1
    table = phases(instrs, warps)
    total = sum(p["instructions"] for p in table)
    print(f"{warps:.0f} warps, {total:.0f} instructions per warp, "
          f"{sum(p['samples'] for p in table):.0f} stall samples")
    print("| phase (first address) | ends at | instructions per warp | share | stall samples | top stall reasons "
          "| top opcodes |")
    print("|---|---|---|---|---|---|---|")
    for p in table:
        ops = ", ".join(f"{k} {v:.0f}" for k, v in p["ops"].most_common(a.top))
        stalls = ", ".join(f"{k} {v:.0f}" for k, v in p["stalls"].most_common(3)) or "-"
        print(f"| {p['start']} | {p['boundary']} | {p['instructions']:.1f} | {100 * p['instructions'] / total:.0f}% "
              f"| {p['samples']:.0f} | {stalls} | {ops} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
