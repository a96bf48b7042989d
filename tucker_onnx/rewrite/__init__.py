"""Stage 3: Conv1x1 -> ConvKxK -> Conv1x1 triplets <-> one TuckerConv node."""
from .concat import split_wide_concats
from .fuse import rewrite_model
from .match import Candidate, find_candidates
from .unfuse import unfuse_model

__all__ = ["rewrite_model", "find_candidates", "Candidate", "unfuse_model", "split_wide_concats"]
