"""Math answer verifier: ``verify(response, answer, **options) -> Verdict``.

Stages, each a module that can be tested on its own:

1. :mod:`.extract` finds the final answer (priority configurable: ``<answer>`` tags, the last group
   of ``\\boxed{}``/``\\fbox{}``, "final answer is", ``####``, "Answer:", "the answer is", a bare
   answer, optionally the last number); in ``mode="lenient"`` also the last LaTeX math span or
   number of prose, found by :mod:`.spans`;
2. :mod:`.normalize` canonicalises its text (Unicode, delimiters, spacing, thousands separators,
   units, degrees, percent);
3. :mod:`.parse` builds a small immutable AST with a hand-written Pratt parser (LaTeX and plain);
4. :mod:`.compare` reads it as an answer form (scalar, set, tuple, intervals, matrix, equation,
   assignment, text) and decides equivalence with :mod:`.evaluate`;
5. :mod:`.forms` checks that a right answer is in the form the task asks for (``answer_form``:
   "any", "number", "simplified") and is not an echo of the question;
6. :mod:`.grader` runs the pipeline under :mod:`.limits` and returns a :class:`Verdict`;
   :mod:`.batch` spreads calls over a process pool (:func:`verify_batch`).

Statuses: ``correct``, ``wrong``, ``wrong_form`` (the right value with work left in it, or an echo
of the question), ``no_answer`` (nothing extracted), ``invalid_input`` (too long, lone surrogates,
a value beyond the size limits), ``timeout``, and ``error`` for a gold answer that cannot be
parsed or a verifier fault (never reported as ``wrong``). docs/math_verifier.md has the modes, the
forms, the equivalences and where this grader deliberately disagrees with Math-Verify.

Why no sympy, no ANTLR and no Lark at run time (measured with ``benchmarks/math_parser_choice.py``
on the 500 MATH-500 gold answers, 2-core shared machine; mean / worst per answer):

=========================================  ======  =========  ==========
parser                                     parsed  mean       worst
=========================================  ======  =========  ==========
this package (normalise + parse)           500     0.034 ms   0.5 ms
latex2sympy2_extended (Math-Verify's)      492     3.8 ms     196 ms
sympy ``parse_latex``, Lark backend        425     20.7 ms    176 ms
sympy ``parse_latex``, ANTLR backend       0       (the installed ANTLR runtime does not match)
=========================================  ======  =========  ==========

A sympy equivalence check (``simplify(expand(a) - a)``) adds 0.44 ms on average and 147 ms in the
worst case on the same answers, ``import sympy`` costs 0.24-0.35 s, and sympy can spend unbounded
time in C code (big powers, ``str`` of a power tower) that no thread can interrupt. The usual fix,
a helper process that is killed on timeout, costs a 36 us pipe round trip per call plus pickling,
and 0.1-0.56 s to replace a killed helper (spawn, import sympy); it also needs one helper per
calling thread.

So equivalence is decided without a computer-algebra system. Numbers are exact: integers,
fractions, decimals and Gaussian rationals in Python integers, with every power, factorial and
binomial *sized before it is computed* (``Limits.max_int_bits``), so no single step can run long.
Irrational values (``\\pi``, roots, trigonometry) are compared in complex floating point at a
1e-10 relative tolerance, and a response that contains decimal literals never matches an
irrational gold (3.14 is not ``\\pi``). Expressions with variables are compared by randomised
identity testing (Schwartz-Zippel): evaluated at nine fixed pseudo-random points, exactly in the
rationals where possible, using only points where both sides are real. Because every loop polls a
cooperative deadline and no step is unbounded, the wall-clock bound (``timeout_s``, default 2 s)
holds in any thread and any process without ``signal.alarm``; :func:`verify_batch` adds an outer
bound that kills a pool worker that would not answer.
"""

from __future__ import annotations

from typing import Any

from ...tasks import Task
from ...verdict import Verdict
from .. import AnswerVerifier
from .batch import verify_batch
from .extract import (
    DEFAULT_PRIORITY,
    LENIENT_PRIORITY,
    MODES,
    STRICT_PRIORITY,
    Extraction,
    extract_answer,
)
from .forms import ANSWER_FORMS
from .grader import OPTIONS, answers_equivalent, judge, resolve_options, restates_answer, verify
from .limits import DEFAULT_LIMITS, Limits
from .normalize import normalize_answer


class MathAnswerVerifier(AnswerVerifier):
    """:func:`verify` against ``task.answer``; with ``reject_echo``, the prompt is the question."""

    def __init__(self, *, reject_echo: bool = False, **options: Any) -> None:
        super().__init__(verify, "math", **options)
        self.reject_echo = reject_echo

    def __call__(self, completion: str, task: Task) -> Verdict:
        if self.reject_echo:
            return verify(completion, task.answer, question=task.prompt, **self.options)
        return verify(completion, task.answer, **self.options)


def MathVerifier(**options: Any) -> MathAnswerVerifier:  # noqa: N802 - a factory named like the class it makes
    """An environment-side verifier ``(completion, task) -> Verdict`` checking ``task.answer``.

    Takes :func:`verify`'s options, plus ``reject_echo``: pass the task's prompt as ``question``,
    so an answer that restates one of its expressions is ``wrong_form``.
    """
    reject_echo = bool(options.pop("reject_echo", False))
    resolve_options(options)  # reject bad options now, not at the first step
    return MathAnswerVerifier(reject_echo=reject_echo, **options)


__all__ = [
    "ANSWER_FORMS",
    "DEFAULT_LIMITS",
    "DEFAULT_PRIORITY",
    "LENIENT_PRIORITY",
    "MODES",
    "STRICT_PRIORITY",
    "MathAnswerVerifier",
    "OPTIONS",
    "Extraction",
    "Limits",
    "MathVerifier",
    "answers_equivalent",
    "extract_answer",
    "judge",
    "normalize_answer",
    "restates_answer",
    "verify",
    "verify_batch",
]
