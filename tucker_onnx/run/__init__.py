"""Stage 4: run models in ONNX Runtime with the custom-op library, and check them numerically."""
from .library import get_library_path, library_available
from .session import make_session

__all__ = ["get_library_path", "library_available", "make_session"]
