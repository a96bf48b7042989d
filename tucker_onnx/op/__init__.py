"""The TuckerConv contract: one JSON spec, and everything derived from it."""
from .spec import SPEC, OpSpec

__all__ = ["SPEC", "OpSpec"]
