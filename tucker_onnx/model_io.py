"""Loads models defensively and writes them atomically; the input file is never touched."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import onnx

from .errors import TuckerOnnxError

# What ONNX Runtime 1.31 accepts.
MAX_IR_VERSION = 13
MAX_OPSET = 26


def load_model(path: str | os.PathLike) -> onnx.ModelProto:
    """Load and validate an ONNX model, turning every failure into a one-line TuckerOnnxError."""
    p = Path(path)
    if not p.exists():
        raise TuckerOnnxError(f"{p}: no such file")
    if p.is_dir():
        raise TuckerOnnxError(f"{p}: is a directory, expected an .onnx file")
    if p.stat().st_size == 0:
        raise TuckerOnnxError(f"{p}: file is empty")
    try:
        model = onnx.load(str(p))
    except Exception as e:  # protobuf DecodeError, external-data errors, ...
        raise TuckerOnnxError(f"{p}: not a readable ONNX model ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'parse error'})") from None
    if model.ir_version == 0 or not model.opset_import or len(model.graph.node) == 0:
        raise TuckerOnnxError(f"{p}: not a valid ONNX model (no IR version, opset or nodes; truncated or not ONNX?)")
    try:
        onnx.checker.check_model(model)
    except Exception as e:
        raise TuckerOnnxError(f"{p}: ONNX checker rejected the model: {str(e).splitlines()[0]}") from None
    return model


def default_opset(model: onnx.ModelProto) -> int:
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return o.version
    raise TuckerOnnxError("model has no default-domain opset import")


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    pa, pb = Path(a), Path(b)
    if pa.exists() and pb.exists():
        return os.path.samefile(pa, pb)
    return pa.resolve() == pb.resolve()


def check_output_path(src: str | os.PathLike, out: str | os.PathLike) -> None:
    """Refuse an output that is the input model or lies in a missing folder. The commands call it before any work, so
    a bad path fails at once instead of after the rewrite and its check; save_model checks again."""
    out = Path(out)
    if same_file(src, out):
        raise TuckerOnnxError(f"{out}: refusing to overwrite the input model; choose another output path")
    if not out.parent.exists():
        raise TuckerOnnxError(f"{out.parent}: output directory does not exist")


def save_model(model: onnx.ModelProto, out: str | os.PathLike, src: str | os.PathLike | None = None) -> None:
    """Check, then write `model` to `out` atomically (temp file + rename); refuse to overwrite `src`."""
    out = Path(out)
    if src is not None:
        check_output_path(src, out)
    elif not out.parent.exists():
        raise TuckerOnnxError(f"{out.parent}: output directory does not exist")
    if model.ir_version > MAX_IR_VERSION:
        raise TuckerOnnxError(f"IR version {model.ir_version} > {MAX_IR_VERSION} (ONNX Runtime 1.31's limit)")
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:
        raise TuckerOnnxError(f"internal error: the output model fails the ONNX checker: {str(e).splitlines()[0]}") from None
    write_atomic(out, model.SerializeToString())


def write_atomic(out: str | os.PathLike, data: bytes | str) -> None:
    """Write through a temporary file in the same folder and rename it: readers never see a half-written file."""
    out = Path(out)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
