"""Rank plans: a global ratio, or a JSON file mapping node name -> [r_in, r_out]."""
from __future__ import annotations

import json
import math
from pathlib import Path

from ..errors import TuckerOnnxError


def ranks_from_ratio(c: int, n: int, ratio: float, multiple: int = 1) -> tuple[int, int]:
    """(r_in, r_out) = ratio * (C, N), rounded up to `multiple` and clamped to the channel counts."""
    def one(ch: int) -> int:
        r = max(1, math.ceil(ratio * ch))
        r = int(math.ceil(r / multiple) * multiple)
        return min(r, ch)
    return one(c), one(n)


def _read_json(p: Path):
    try:
        return json.loads(p.read_text())
    except FileNotFoundError:
        raise TuckerOnnxError(f"{p}: plan file not found") from None
    except json.JSONDecodeError as e:
        raise TuckerOnnxError(f"{p}: not valid JSON ({e.msg} at line {e.lineno})") from None
    except (IsADirectoryError, UnicodeDecodeError):
        raise TuckerOnnxError(f"{p}: not a JSON plan file") from None


def load_unfused(path: str | Path) -> set[str]:
    """The layers a `rank` plan keeps as three Convs (top-level "unfused": [names]); empty if it has none."""
    p = Path(path)
    raw = _read_json(p)
    names = raw.get("unfused", []) if isinstance(raw, dict) else []
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise TuckerOnnxError(f"{p}: \"unfused\" must be a list of layer names")
    return set(names)


def load_plan(path: str | Path) -> dict[str, tuple[int, int]]:
    """Read a plan file: {"node name": [r_in, r_out], ...} (an optional top-level "layers" key is accepted)."""
    p = Path(path)
    raw = _read_json(p)
    if isinstance(raw, dict) and "layers" in raw and isinstance(raw["layers"], dict):
        raw = raw["layers"]
    if not isinstance(raw, dict):
        raise TuckerOnnxError(f"{p}: expected an object mapping node names to [r_in, r_out]")
    plan = {}
    for name, r in raw.items():
        if isinstance(r, dict):
            r = [r.get("r_in"), r.get("r_out")]
        if not (isinstance(r, (list, tuple)) and len(r) == 2 and all(isinstance(v, int) and v > 0 for v in r)):
            raise TuckerOnnxError(f"{p}: entry {name!r} must be [r_in, r_out] with positive integers, got {r!r}")
        plan[name] = (int(r[0]), int(r[1]))
    return plan
