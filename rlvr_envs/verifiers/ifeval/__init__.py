"""IFEval's 25 verifiable instructions, checked deterministically.

``check_instruction(response, id, kwargs)`` checks one instruction; ``verify(response, ids,
kwargs_list, mode=...)`` checks a row and returns a verdict with per-instruction results and
IFEval's prompt-level and instruction-level scores. Instruction ids and keyword-argument names are
IFEval's; the checkers are this project's own, deterministic (``py3langid`` rather than the
sampling ``langdetect``), and agree with IFEval's reference code on 99% of generated cases; the
rest are deliberate (a keyword is not found inside another word, an empty postscript or a bare
repetition of the request follows nothing...): ``docs/ifeval.md`` lists every difference. Each
family lives in its own module and registers itself in :mod:`.registry`.

For training, :func:`verify_for_training` adds what IFEval leaves out: non-answers earn nothing
(:mod:`.nonanswer`) and the request itself must be done (:mod:`.request`).
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
from .nonanswer import non_answer
from .registry import INSTRUCTIONS, RELATIONS, Instruction, InstructionError, get_instruction
from .request import RequestCheck, RequestResult, check_request
from .training import COMBINE_RULES, relevance_check, verify_for_training
from .verifier import IFEvalVerifier
from .verify import (
    MODES,
    check_instruction,
    describe,
    loose_variants,
    parse_instruction_list,
    task_instructions,
    verify,
)

INSTRUCTION_IDS: tuple[str, ...] = tuple(sorted(INSTRUCTIONS))

__all__ = [
    "COMBINE_RULES",
    "INSTRUCTIONS",
    "INSTRUCTION_IDS",
    "MODES",
    "RELATIONS",
    "IFEvalVerifier",
    "Instruction",
    "InstructionError",
    "RequestCheck",
    "RequestResult",
    "check_instruction",
    "check_request",
    "describe",
    "detect_language",
    "get_instruction",
    "loose_variants",
    "non_answer",
    "parse_instruction_list",
    "relevance_check",
    "task_instructions",
    "verify",
    "verify_for_training",
]
