"""Locates the compiled custom-op library (libtucker_onnx_ops.so)."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import TuckerOnnxError

LIB_NAME = "libtucker_onnx_ops.so"
_PKG = Path(__file__).resolve().parent.parent


def _candidates() -> list[Path]:
    env = os.environ.get("TUCKER_ONNX_LIBRARY")
    c = [Path(env)] if env else []
    c += [_PKG / "_lib" / LIB_NAME, _PKG.parent / "build" / "custom_ops" / LIB_NAME]
    return c


def library_available() -> bool:
    return any(p.is_file() for p in _candidates())


_CHECKED: set[str] = set()


def _check_spec_version(path: str) -> None:
    """Refuse a library built from another version of the op spec (stale build)."""
    if path in _CHECKED:
        return
    import ctypes

    from ..op import SPEC
    try:
        lib = ctypes.CDLL(path)
        built = int(lib.TuckerOnnxSpecVersion())
    except (OSError, AttributeError) as e:
        raise TuckerOnnxError(f"{path}: not a tucker-onnx custom-op library ({e})") from None
    if built != SPEC.spec_version:
        raise TuckerOnnxError(f"custom-op library built from spec v{built}, package expects v{SPEC.spec_version}: "
                              "rebuild custom_ops (make lib)")
    _CHECKED.add(path)


def get_library_path() -> str:
    """Absolute path of the custom-op library: $TUCKER_ONNX_LIBRARY, the package's _lib/, or build/."""
    for p in _candidates():
        if p.is_file():
            path = str(p.resolve())
            _check_spec_version(path)
            return path
    raise TuckerOnnxError(f"custom-op library {LIB_NAME} not found (looked in: "
                          + ", ".join(str(p) for p in _candidates())
                          + "); build it with `make lib` or set TUCKER_ONNX_LIBRARY")


def predict_fused_ms(batch: int, c: int, h: int, w: int, r_in: int, r_out: int, n: int, kh: int, kw: int,
                     strides, pads, dilations) -> float | None:
    """The CUDA kernel's analytical model: predicted ms of a TuckerConv shape (expect 0.45-2.2x of the measured time),
    computed on the host, no GPU needed. None without a CUDA build of the library."""
    import ctypes
    try:
        lib = ctypes.CDLL(get_library_path())
        f = lib.TuckerOnnxPredictMicros
    except (TuckerOnnxError, OSError, AttributeError):
        return None
    f.restype, f.argtypes = ctypes.c_double, [ctypes.POINTER(ctypes.c_int64)]
    pt, pl, pb, pr = pads
    vals = [batch, c, h, w, r_in, r_out, kh, kw, n, strides[0], strides[1], pt, pl, pb, pr, dilations[0], dilations[1]]
    us = f((ctypes.c_int64 * 17)(*vals))
    return us / 1e3 if us > 0 else None
