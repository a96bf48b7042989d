"""tucker-onnx: Tucker-decompose CNNs, fuse each Tucker conv triplet into one TuckerConv op, run it fast.

Pipeline: train (trainer/) -> decompose -> rewrite -> run -> profile/rank.
"""
from .errors import CheckFailed, TuckerOnnxError
from .run.library import get_library_path
from .run.session import make_session

__version__ = "0.1.0"


def decompose_model(*args, **kwargs):
    from .decompose import decompose_model as f
    return f(*args, **kwargs)


def rewrite_model(*args, **kwargs):
    from .rewrite import rewrite_model as f
    return f(*args, **kwargs)


def unfuse_model(*args, **kwargs):
    from .rewrite import unfuse_model as f
    return f(*args, **kwargs)


def tune_model(*args, **kwargs):
    from .run.tuning import tune_model as f
    return f(*args, **kwargs)


__all__ = ["TuckerOnnxError", "CheckFailed", "get_library_path", "make_session", "decompose_model",
           "rewrite_model", "unfuse_model", "tune_model", "__version__"]
