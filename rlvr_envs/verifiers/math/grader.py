"""The math verifier pipeline: extraction -> normalisation -> parsing -> equivalence -> verdict."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from fractions import Fraction
from typing import Any

from ...verdict import Status, Verdict
from .compare import Comparer, Form, canonical, form_of
from .evaluate import Evaluator
from .extract import (
    LENIENT_PRIORITY,
    STRICT_PRIORITY,
    Extraction,
    check_mode,
    check_priority,
    extract_answer,
)
from .forms import check_answer_form, echoed_span, form_problem
from .limits import DEFAULT_LIMITS, Deadline, Limits, TooLarge, VerifyTimeout
from .normalize import choice_letter, is_textual, normalize_answer, normalize_text
from .parse import ParseError, parse_answer
from .spans import math_spans

_LIMIT_FIELDS = frozenset(f.name for f in fields(Limits))
OPTIONS = (
    frozenset(
        {
            "extraction",
            "last_number",
            "thinking",
            "limits",
            "mode",
            "answer_form",
            "numeric_digits",
            "question",
        }
    )
    | _LIMIT_FIELDS
)
"""Keyword options accepted by :func:`verify` (and :class:`MathVerifier`)."""

LENIENT_DIGITS = 6
"""Lenient mode's default ``numeric_digits``: a decimal needs 6 significant digits to round."""


@dataclass(frozen=True)
class Settings:
    """The resolved options of one verification."""

    limits: Limits
    priority: tuple[str, ...]
    thinking: bool
    mode: str
    answer_form: str
    numeric_digits: int | None


def resolve_options(options: dict[str, Any]) -> Settings:
    """Validate keyword options and fill in the defaults of the extraction mode."""
    unknown = set(options) - OPTIONS
    if unknown:
        raise TypeError(
            f"unknown math verifier option(s) {sorted(unknown)}; known: {sorted(OPTIONS)}"
        )
    limits = options.get("limits") or DEFAULT_LIMITS
    if not isinstance(limits, Limits):
        raise TypeError("limits must be a Limits record")
    overrides = {k: v for k, v in options.items() if k in _LIMIT_FIELDS}
    if overrides:
        limits = replace(limits, **overrides)
    if not limits.timeout_s > 0:
        raise ValueError(f"timeout_s must be positive, got {limits.timeout_s!r}")
    mode = options.get("mode") or "strict"
    check_mode(mode)
    lenient = mode == "lenient"
    priority = tuple(
        options.get("extraction") or (LENIENT_PRIORITY if lenient else STRICT_PRIORITY)
    )
    check_priority(priority)
    if options.get("last_number") and "last_number" not in priority:
        priority += ("last_number",)
    answer_form = options.get("answer_form") or "any"
    check_answer_form(answer_form)
    digits = options.get("numeric_digits", LENIENT_DIGITS if lenient else None)
    if digits is not None:
        if not lenient:
            raise ValueError("numeric_digits needs mode='lenient': strict mode compares exactly")
        if isinstance(digits, bool) or not isinstance(digits, int) or digits < 1:
            raise ValueError(f"numeric_digits must be a positive integer or None, got {digits!r}")
    question = options.get("question")
    if question is not None and not isinstance(question, str):
        raise TypeError(f"question must be a str, got {type(question).__name__}")
    return Settings(
        limits, priority, bool(options.get("thinking", True)), mode, answer_form, digits
    )


def gold_string(answer: Any) -> str:
    """The gold answer as text (numbers are accepted and written exactly)."""
    if isinstance(answer, str):
        return answer
    if isinstance(answer, bool) or answer is None:
        raise TypeError(f"the gold answer must be a string or a number, got {answer!r}")
    if isinstance(answer, int):
        return str(answer)
    if isinstance(answer, Fraction):
        return (
            str(answer.numerator)
            if answer.denominator == 1
            else f"{answer.numerator}/{answer.denominator}"
        )
    if isinstance(answer, float):
        return repr(answer)
    raise TypeError(f"the gold answer must be a string or a number, got {type(answer).__name__}")


def _valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# Parsed answers are immutable, so they are cached across calls (and shared between threads).
# Only short answers are kept, so a stream of hostile long answers cannot fill memory.
_CACHE_SIZE = 4096
_CACHE_MAX_CHARS = 120
_cache: dict[tuple[str, Limits], Form | Exception] = {}


def parse_form(text: str, limits: Limits, deadline: Deadline) -> Form:
    """The answer form of a normalised answer (ParseError / TooLarge when there is none)."""
    key = (text, limits)
    cached = _cache.get(key)
    if cached is None:
        try:
            node = parse_answer(text, limits, deadline)
            cached = form_of(node, Evaluator(limits, deadline))
        except (ParseError, TooLarge) as error:
            cached = error
        if len(text) <= _CACHE_MAX_CHARS:
            if len(_cache) >= _CACHE_SIZE:
                _cache.clear()
            _cache[key] = cached
    if isinstance(cached, Exception):
        raise cached
    return cached


def restates_answer(text: str, gold: str) -> bool:
    """True when ``text`` writes the same answer as ``gold`` (same normalised text or the same
    parsed structure, ``1/2`` and ``\\frac{1}{2}``), not merely one with the same value."""
    written, expected = normalize_answer(text), normalize_answer(gold)
    if written == expected:
        return True
    deadline = Deadline(DEFAULT_LIMITS.timeout_s)
    try:
        return canonical(parse_form(written, DEFAULT_LIMITS, deadline)) == canonical(
            parse_form(expected, DEFAULT_LIMITS, deadline)
        )
    except (ParseError, TooLarge, VerifyTimeout, RecursionError):
        return False


EQUIVALENCE_MAX_CHARS = 200  # longer answers vote only with identical ones
_EQUIVALENCE_LIMITS = replace(DEFAULT_LIMITS, timeout_s=0.5)


@functools.lru_cache(maxsize=8192)  # a vote over k samples compares the same pairs for every k
def answers_equivalent(a: str, b: str) -> bool:
    """Whether two extracted answers are the same answer by the verifier's own comparison, with
    either one taken as the gold (exact values, any form): ``\\frac{1}{2}`` and ``0.5`` are; how
    majority votes group answers."""
    if a == b:
        return True
    if max(len(a), len(b)) > EQUIVALENCE_MAX_CHARS:
        return False
    for gold, answer in ((a, b), (b, a)):
        try:
            status, _ = judge(answer, gold, _EQUIVALENCE_LIMITS, Deadline(0.5))
        except (VerifyTimeout, RecursionError):
            continue
        if status is Status.CORRECT:
            return True
    return False


def _verdict(status: Status, reason: str, started: float, **fields: Any) -> Verdict:
    return Verdict.make(status, reason, elapsed_s=time.perf_counter() - started, **fields)


def _parse_response_form(text: str, limits: Limits, deadline: Deadline) -> Form:
    """Parse an answer; if it fails and it is a chain of equations, its last side."""
    try:
        return parse_form(text, limits, deadline)
    except ParseError:
        side = text.rpartition("=")[2].strip()
        if not side or side == text:
            raise
        return parse_form(side, limits, deadline)


# "2,74" or "0,111": a decimal comma, read so only when the gold is a single number.
_DECIMAL_COMMA = re.compile(r"-?(?:0,\d+|\d+,\d{1,2}|\d+,\d{4,})")


def _question_forms(question: str, limits: Limits, deadline: Deadline) -> list[Form]:
    """The parsed math spans of a question (those that parse)."""
    forms = []
    for _, _, content in math_spans(question)[:_MAX_QUESTION_SPANS]:
        text = normalize_answer(content)
        if not text or len(text) > limits.max_answer_chars:
            continue
        try:
            forms.append(parse_form(text, limits, deadline))
        except (ParseError, TooLarge):
            continue
    return forms


_MAX_QUESTION_SPANS = 40


def judge(
    extracted: str,
    gold: str,
    limits: Limits,
    deadline: Deadline,
    *,
    answer_form: str = "any",
    numeric_digits: int | None = None,
    question: str | None = None,
) -> tuple[Status, str]:
    """Compare an extracted answer with the gold answer: the normalise/parse/compare stages."""
    if len(extracted) > limits.max_answer_chars:
        return Status.INVALID_INPUT, f"the extracted answer has {len(extracted)} characters"
    if len(gold) > limits.max_answer_chars:
        return Status.ERROR, f"the gold answer has {len(gold)} characters"
    gold_norm = normalize_answer(gold)
    answer_norm = normalize_answer(extracted)
    if not gold_norm:
        return Status.ERROR, "the gold answer is empty"
    if not answer_norm:
        return Status.NO_ANSWER, "the extracted answer is empty"
    if gold_norm == answer_norm:
        return Status.CORRECT, "identical after normalisation"
    letter = choice_letter(gold_norm, gold=True)
    if letter is not None:
        ok = choice_letter(answer_norm) == letter
        return (Status.CORRECT, "same choice") if ok else (Status.WRONG, "a different choice")
    if is_textual(gold_norm):
        ok = normalize_text(answer_norm) == normalize_text(gold_norm)
        return (Status.CORRECT, "same text") if ok else (Status.WRONG, "different text")
    try:
        gold_form = _parse_response_form(gold_norm, limits, deadline)
    except ParseError as error:
        return Status.ERROR, f"the gold answer cannot be parsed: {error}"
    except TooLarge as error:
        return Status.ERROR, f"the gold answer is beyond the limits: {error}"
    if gold_form[0] == "scalar" and _DECIMAL_COMMA.fullmatch(answer_norm):
        answer_norm = answer_norm.replace(",", ".")
    if is_textual(answer_norm):
        response: Form = ("text", normalize_text(answer_norm))
    else:
        try:
            response = _parse_response_form(answer_norm, limits, deadline)
        except ParseError as error:
            return Status.WRONG, f"the answer cannot be parsed: {error}"
        except TooLarge as error:
            return Status.INVALID_INPUT, f"the answer is beyond the limits: {error}"
    comparer = Comparer(limits, deadline, numeric_digits=numeric_digits)
    try:
        ok = comparer.equal(gold_form, response)
    except TooLarge as error:
        if canonical(gold_form) == canonical(response):
            return Status.CORRECT, "structurally identical"
        return Status.INVALID_INPUT, f"a value is beyond the limits: {error}"
    if not ok:
        return Status.WRONG, comparer.reason or "not equivalent"
    problem = form_problem(response, gold_form, answer_form, comparer.evaluator)
    if problem is not None:
        return Status.WRONG_FORM, problem
    if question and echoed_span(response, gold_form, _question_forms(question, limits, deadline)):
        return Status.WRONG_FORM, "unevaluated expression: the answer restates the question"
    return Status.CORRECT, "equivalent"


def verify(response: str, answer: Any, **options: Any) -> Verdict:
    """Grade a model response against a gold math answer.

    Options: ``mode`` ("strict", the default, reads only marked answers: tags, boxes, answer
    phrases, a bare answer; "lenient" also reads the last LaTeX math span or number of prose and
    accepts a long decimal that rounds to the gold), ``answer_form`` ("any", "number",
    "simplified": see :mod:`.forms`), ``numeric_digits`` (lenient only: the fewest significant
    digits a decimal needs to count as a rounding of the gold, default 6; None compares exactly),
    ``question`` (the question's text: an answer that restates one of its expressions is an
    unevaluated echo), ``extraction`` (rule names in priority order, overriding the mode's),
    ``last_number`` (fall back to the last number in the text), ``thinking`` (look only after
    the last ``</think>``, default True), ``limits`` (a :class:`Limits`) or any of its fields
    (``timeout_s``, ``max_response_chars``, ``max_answer_chars``, ...). A non-str response
    raises TypeError; everything else is reported in the verdict's status.
    """
    if not isinstance(response, str):
        raise TypeError(f"response must be a str, got {type(response).__name__}")
    settings = resolve_options(options)
    limits = settings.limits
    started = time.perf_counter()
    try:
        gold = gold_string(answer)
    except TypeError as error:
        return _verdict(Status.ERROR, str(error), started, expected=answer)
    deadline = Deadline(limits.timeout_s)
    extraction: Extraction | None = None
    details: dict[str, Any] = {"mode": settings.mode, "answer_form": settings.answer_form}
    try:
        if len(response) > limits.max_response_chars:
            return _verdict(
                Status.INVALID_INPUT,
                f"the response has {len(response)} characters (limit {limits.max_response_chars})",
                started,
                expected=gold,
                details=details,
            )
        if not _valid_unicode(response) or not _valid_unicode(gold):
            return _verdict(
                Status.INVALID_INPUT,
                "invalid Unicode (lone surrogate)",
                started,
                expected=gold,
                details=details,
            )
        extraction = extract_answer(
            response, settings.priority, thinking=settings.thinking, mode=settings.mode
        )
        if extraction is None:
            return _verdict(
                Status.NO_ANSWER, "no final answer found", started, expected=gold, details=details
            )
        details["method"] = extraction.method
        deadline.check()
        status, reason = judge(
            extraction.answer,
            gold,
            limits,
            deadline,
            answer_form=settings.answer_form,
            numeric_digits=settings.numeric_digits,
            question=options.get("question"),
        )
    except VerifyTimeout:
        status, reason = Status.TIMEOUT, f"verification exceeded {limits.timeout_s} s"
    except RecursionError:
        status, reason = Status.INVALID_INPUT, "the answer is nested too deeply"
    except Exception as error:  # a verifier bug must never look like a wrong answer
        status, reason = Status.ERROR, f"verifier error: {type(error).__name__}: {error}"
    return _verdict(
        status,
        reason,
        started,
        extracted=extraction.answer if extraction else None,
        expected=gold,
        details=details,
    )


def verify_many(pairs: Sequence[tuple[str, Any]], options: dict[str, Any]) -> list[Verdict]:
    """:func:`verify` over ``(response, answer)`` pairs in this process (a batch worker's job)."""
    verdicts = []
    for response, answer in pairs:
        try:
            verdicts.append(verify(response, answer, **options))
        except TypeError as error:
            verdicts.append(Verdict.make(Status.ERROR, str(error), expected=answer))
    return verdicts
