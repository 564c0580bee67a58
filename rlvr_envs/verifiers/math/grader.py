"""The math verifier pipeline: extraction -> normalisation -> parsing -> equivalence -> verdict."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import fields, replace
from fractions import Fraction
from typing import Any

from ...verdict import Status, Verdict
from .compare import Comparer, Form, answer_form, canonical
from .evaluate import Evaluator
from .extract import DEFAULT_PRIORITY, Extraction, check_priority, extract_answer
from .limits import DEFAULT_LIMITS, Deadline, Limits, TooLarge, VerifyTimeout
from .normalize import choice_letter, is_textual, normalize_answer, normalize_text
from .parse import ParseError, parse_answer

_LIMIT_FIELDS = frozenset(f.name for f in fields(Limits))
OPTIONS = frozenset({"extraction", "last_number", "thinking", "limits"}) | _LIMIT_FIELDS
"""Keyword options accepted by :func:`verify` (and :class:`MathVerifier`)."""


def resolve_options(options: dict[str, Any]) -> tuple[Limits, tuple[str, ...], bool]:
    """Validate keyword options; return the limits, the extraction order and ``thinking``."""
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
    priority = tuple(options.get("extraction") or DEFAULT_PRIORITY)
    check_priority(priority)
    if options.get("last_number") and "last_number" not in priority:
        priority += ("last_number",)
    return limits, priority, bool(options.get("thinking", True))


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
            cached = answer_form(node, Evaluator(limits, deadline))
        except (ParseError, TooLarge) as error:
            cached = error
        if len(text) <= _CACHE_MAX_CHARS:
            if len(_cache) >= _CACHE_SIZE:
                _cache.clear()
            _cache[key] = cached
    if isinstance(cached, Exception):
        raise cached
    return cached


def _verdict(status: Status, reason: str, started: float, **fields: Any) -> Verdict:
    return Verdict.make(status, reason, elapsed_s=time.perf_counter() - started, **fields)


def judge(extracted: str, gold: str, limits: Limits, deadline: Deadline) -> tuple[Status, str]:
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
        gold_form = parse_form(gold_norm, limits, deadline)
    except ParseError as error:
        return Status.ERROR, f"the gold answer cannot be parsed: {error}"
    except TooLarge as error:
        return Status.ERROR, f"the gold answer is beyond the limits: {error}"
    if is_textual(answer_norm):
        answer_form_: Form = ("text", normalize_text(answer_norm))
    else:
        try:
            answer_form_ = parse_form(answer_norm, limits, deadline)
        except ParseError as error:
            return Status.WRONG, f"the answer cannot be parsed: {error}"
        except TooLarge as error:
            return Status.INVALID_INPUT, f"the answer is beyond the limits: {error}"
    comparer = Comparer(limits, deadline)
    try:
        ok = comparer.equal(gold_form, answer_form_)
    except TooLarge as error:
        if canonical(gold_form) == canonical(answer_form_):
            return Status.CORRECT, "structurally identical"
        return Status.INVALID_INPUT, f"a value is beyond the limits: {error}"
    if ok:
        return Status.CORRECT, "equivalent"
    return Status.WRONG, comparer.reason or "not equivalent"


def verify(response: str, answer: Any, **options: Any) -> Verdict:
    """Grade a model response against a gold math answer.

    Options: ``extraction`` (rule names in priority order, default :data:`DEFAULT_PRIORITY`),
    ``last_number`` (fall back to the last number in the text), ``thinking`` (look only after
    the last ``</think>``, default True), ``limits`` (a :class:`Limits`) or any of its fields
    (``timeout_s``, ``max_response_chars``, ``max_answer_chars``, ...). A non-str response
    raises TypeError; everything else is reported in the verdict's status.
    """
    if not isinstance(response, str):
        raise TypeError(f"response must be a str, got {type(response).__name__}")
    limits, priority, thinking = resolve_options(options)
    started = time.perf_counter()
    try:
        gold = gold_string(answer)
    except TypeError as error:
        return _verdict(Status.ERROR, str(error), started, expected=answer)
    deadline = Deadline(limits.timeout_s)
    extraction: Extraction | None = None
    try:
        if len(response) > limits.max_response_chars:
            return _verdict(
                Status.INVALID_INPUT,
                f"the response has {len(response)} characters (limit {limits.max_response_chars})",
                started,
                expected=gold,
            )
        if not _valid_unicode(response) or not _valid_unicode(gold):
            return _verdict(
                Status.INVALID_INPUT, "invalid Unicode (lone surrogate)", started, expected=gold
            )
        extraction = extract_answer(response, priority, thinking=thinking)
        if extraction is None:
            return _verdict(Status.NO_ANSWER, "no final answer found", started, expected=gold)
        deadline.check()
        status, reason = judge(extraction.answer, gold, limits, deadline)
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
        details={"method": extraction.method} if extraction else {},
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
