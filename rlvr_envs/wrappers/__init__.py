"""Thin wrappers that add behaviour to any rlvr-envs environment."""

from .length import OverlongPenalty, overlong_penalty
from .reasoning import ReasoningFormat

__all__ = ["OverlongPenalty", "ReasoningFormat", "overlong_penalty"]
