"""IFEval's 25 verifiable instructions, checked deterministically.

``check_instruction(response, id, kwargs)`` checks one instruction; ``verify(response, ids,
kwargs_list, mode=...)`` checks a row and returns a verdict with per-instruction results and
IFEval's prompt-level and instruction-level scores. Instruction ids and keyword-argument names are
IFEval's; the checkers are this project's own, stricter where IFEval's code is looser than its
instruction text (whole-word keywords, exact section and response counts, a divider line for
paragraphs). Each family lives in its own module and registers itself in :mod:`.registry`.
"""

from __future__ import annotations

# Importing the family modules registers their instructions.
from . import (  # noqa: F401
    case,
    combination,
    content,
    formatting,
    keywords,
    language,
    length,
    punctuation,
    startend,
)
from .language import detect_language
from .registry import INSTRUCTIONS, RELATIONS, Instruction, InstructionError, get_instruction
from .verify import (
    MODES,
    IFEvalVerifier,
    check_instruction,
    describe,
    loose_variants,
    parse_instruction_list,
    task_instructions,
    verify,
)

INSTRUCTION_IDS: tuple[str, ...] = tuple(sorted(INSTRUCTIONS))

__all__ = [
    "INSTRUCTIONS",
    "INSTRUCTION_IDS",
    "MODES",
    "RELATIONS",
    "IFEvalVerifier",
    "Instruction",
    "InstructionError",
    "check_instruction",
    "describe",
    "detect_language",
    "get_instruction",
    "loose_variants",
    "parse_instruction_list",
    "task_instructions",
    "verify",
]
