"""Stage 2: dense KxK Conv -> Conv1x1 / core Conv / Conv1x1 triplets (Tucker-2)."""
from .conv_pass import decompose_model, LayerReport
from .tucker2 import tucker2

__all__ = ["decompose_model", "LayerReport", "tucker2"]
