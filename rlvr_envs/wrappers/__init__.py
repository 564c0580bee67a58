"""Thin wrappers that add behaviour to any rlvr-envs environment."""

from .curriculum import Curriculum, CurriculumStats
from .length import OverlongPenalty, overlong_penalty
from .reasoning import ReasoningFormat
from .token_level import CharTokenizer, HFTokenizerCodec, TokenLevel
from .tool_use import ToolUse

__all__ = [
    "CharTokenizer",
    "Curriculum",
    "CurriculumStats",
    "HFTokenizerCodec",
    "OverlongPenalty",
    "ReasoningFormat",
    "TokenLevel",
    "ToolUse",
    "overlong_penalty",
]
