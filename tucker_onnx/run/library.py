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
