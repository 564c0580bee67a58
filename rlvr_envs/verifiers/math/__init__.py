"""Math answer verifier: ``verify(response, answer) -> Verdict``.

Stages (each a module that can be tested on its own): :mod:`.extract` finds the final answer,
:mod:`.normalize` canonicalises its text, :mod:`.parse` builds a small AST, :mod:`.compare` decides
equivalence with :mod:`.evaluate` (exact rationals first, complex floats only for irrational
values), under the bounds of :mod:`.limits`. :mod:`.batch` spreads calls over a process pool.
"""

from __future__ import annotations

from typing import Any

from ..__init__ import AnswerVerifier
from .batch import verify_batch
from .extract import DEFAULT_PRIORITY, Extraction, extract_answer
from .grader import OPTIONS, judge, resolve_options, verify
from .limits import DEFAULT_LIMITS, Limits
from .normalize import normalize_answer


def MathVerifier(**options: Any) -> AnswerVerifier:  # noqa: N802 - a factory named like the class it makes
    """An environment-side verifier ``(completion, task) -> Verdict`` checking ``task.answer``."""
    resolve_options(options)  # reject bad options now, not at the first step
    return AnswerVerifier(verify, "math", **options)


__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_PRIORITY",
    "OPTIONS",
    "Extraction",
    "Limits",
    "MathVerifier",
    "extract_answer",
    "judge",
    "normalize_answer",
    "verify",
    "verify_batch",
]
