"""Reasoning format: one ``<think>…</think>`` block at the start, then the answer, nothing else.

Strict by default, unlike the common regex checks that accept trailing text, repeated blocks or
empty blocks: the response must hold exactly one non-empty reasoning block, first (only whitespace
before it), followed by a non-empty answer (text made only of tags, such as ``<answer></answer>``,
is empty), which with ``answer_tag="answer"`` must be exactly one non-empty ``<answer>…</answer>``
with nothing after it. Tag names are configurable; with
``prefilled_think=True`` the opening tag is taken to be in the prompt (as DeepSeek-R1 and Qwen3
chat templates do) and must not be repeated in the response.

:func:`split_reasoning` returns the reasoning and answer parts, so a task verifier can score only
the answer; ``partial_credit=True`` gives a reward per well-formed part instead of all-or-nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..tasks import Task
from ..verdict import Status, Verdict

_TAG_NAME = re.compile(r"[A-Za-z][\w.\-]*")
# Any opening, closing or self-closing tag: an answer made only of tags says nothing.
_ANY_TAG = re.compile(r"</?[A-Za-z][\w.\-]*\s*/?>")


class FormatError(ValueError):
    """The response does not follow the reasoning format; the message lists every problem."""

    def __init__(self, problems: list[str], scores: dict[str, float]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.scores = scores


@dataclass(frozen=True)
class ReasoningParts:
    """A well-formed response split into its reasoning and its answer (both stripped)."""

    reasoning: str
    answer: str


def _check_tag(name: str, what: str) -> None:
    if not isinstance(name, str) or not _TAG_NAME.fullmatch(name):
        raise ValueError(f"{what} must be a tag name such as 'think', got {name!r}")


def _block(text: str, tag: str, problems: list[str]) -> tuple[int, int] | None:
    """Span of the one ``<tag>…</tag>`` content in ``text``; records problems when malformed."""
    opens = [m.start() for m in re.finditer(re.escape(f"<{tag}>"), text)]
    closes = [m.start() for m in re.finditer(re.escape(f"</{tag}>"), text)]
    if len(opens) != 1 or len(closes) != 1:
        problems.append(
            f"expected one <{tag}> and one </{tag}>, found {len(opens)} and {len(closes)}"
        )
        return None
    start, end = opens[0] + len(tag) + 2, closes[0]
    if end < start:
        problems.append(f"</{tag}> comes before <{tag}>")
        return None
    if not text[start:end].strip():
        problems.append(f"the <{tag}> block is empty")
        return None
    return start, end


def _analyse(
    response: str, think_tag: str, answer_tag: str | None, prefilled_think: bool
) -> tuple[list[str], dict[str, float], ReasoningParts | None]:
    """Problems, per-part scores and (when well formed) the parts of ``response``."""
    _check_tag(think_tag, "think_tag")
    if answer_tag is not None:
        _check_tag(answer_tag, "answer_tag")
        if answer_tag == think_tag:
            raise ValueError("think_tag and answer_tag must differ")
    problems: list[str] = []
    close_think = f"</{think_tag}>"

    # The reasoning block.
    if prefilled_think:
        think_problems: list[str] = []
        if f"<{think_tag}>" in response:
            think_problems.append(f"<{think_tag}> is already in the prompt; do not repeat it")
        closes = response.count(close_think)
        if closes != 1:
            think_problems.append(f"expected one {close_think}, found {closes}")
        reasoning_end = response.find(close_think)
        reasoning = response[:reasoning_end] if reasoning_end >= 0 else ""
        if closes == 1 and not reasoning.strip():
            think_problems.append(f"the <{think_tag}> block is empty")
        think_span = None if think_problems else (0, reasoning_end)
        problems += think_problems
        layout_ok = True  # the block starts the response by construction
    else:
        think_span = _block(response, think_tag, problems)
        layout_ok = (
            think_span is not None and not response[: think_span[0] - len(think_tag) - 2].strip()
        )
        if think_span is not None and not layout_ok:
            problems.append(f"text before <{think_tag}>")

    # The answer after the reasoning.
    after = (
        response[response.rfind(close_think) + len(close_think) :]
        if close_think in response
        else ""
    )
    answer: str | None = None
    if answer_tag is None:
        if _ANY_TAG.sub("", after).strip():
            answer = after.strip()
        elif after.strip():
            problems.append(f"the answer after {close_think} is empty (only tags)")
        else:
            problems.append(f"no answer after {close_think}")
    else:
        span = _block(response, answer_tag, problems)
        if span is not None:
            answer = response[span[0] : span[1]].strip()
            open_at = span[0] - len(answer_tag) - 2
            close_end = span[1] + len(answer_tag) + 3
            if think_span is not None and open_at < think_span[1]:
                problems.append(f"<{answer_tag}> is not after {close_think}")
                layout_ok, answer = False, None
            else:
                between = response[response.find(close_think) + len(close_think) : open_at]
                if close_think in response and between.strip():
                    problems.append(f"text between {close_think} and <{answer_tag}>")
                    layout_ok = False
                if response[close_end:].strip():
                    problems.append(f"text after </{answer_tag}>")
                    layout_ok = False

    scores = {
        "think": 1.0 if think_span is not None else 0.0,
        "answer": 1.0 if answer is not None else 0.0,
    }
    if answer_tag is not None or not prefilled_think:
        scores["layout"] = 1.0 if layout_ok and think_span is not None else 0.0
    parts = None
    if not problems and think_span is not None and answer is not None:
        parts = ReasoningParts(
            reasoning=response[think_span[0] : think_span[1]].strip(), answer=answer
        )
    return problems, scores, parts


def split_reasoning(
    response: str,
    *,
    think_tag: str = "think",
    answer_tag: str | None = None,
    prefilled_think: bool = False,
) -> ReasoningParts:
    """The reasoning and answer of a well-formed response; :class:`FormatError` otherwise."""
    if not isinstance(response, str):
        raise TypeError(f"response must be a str, got {type(response).__name__}")
    problems, scores, parts = _analyse(response, think_tag, answer_tag, prefilled_think)
    if parts is None:
        raise FormatError(problems or ["malformed response"], scores)
    return parts


def extract_answer(response: str, **options: Any) -> str | None:
    """The answer part of a well-formed response, or None (options as :func:`split_reasoning`)."""
    try:
        return split_reasoning(response, **options).answer
    except FormatError:
        return None


def check_reasoning_format(
    response: str,
    *,
    think_tag: str = "think",
    answer_tag: str | None = None,
    prefilled_think: bool = False,
    partial_credit: bool = False,
) -> Verdict:
    """Correct when the response follows the format; with ``partial_credit`` a wrong one earns
    the mean of its per-part scores (``details["parts"]``: think, answer, layout) instead of 0."""
    if not isinstance(response, str):
        raise TypeError(f"response must be a str, got {type(response).__name__}")
    problems, scores, parts = _analyse(response, think_tag, answer_tag, prefilled_think)
    if parts is not None:
        return Verdict.make(
            Status.CORRECT,
            "well-formed reasoning and answer",
            extracted=parts.answer,
            details={"parts": scores, "reasoning_chars": len(parts.reasoning)},
        )
    status = Status.NO_ANSWER if not response.strip() else Status.FORMAT_ERROR
    partial = sum(scores.values()) / len(scores) if partial_credit else 0.0
    return Verdict.make(
        status,
        problems[0] if problems else "malformed response",
        reward=partial,
        details={"parts": scores, "problems": problems},
    )


class FormatVerifier:
    """``verifier(completion, task)`` that checks only the reasoning format (the task is unused)."""

    def __init__(self, **options: Any) -> None:
        check_reasoning_format("<think>x</think>y", **options)  # reject bad options now
        self.options = options

    def __call__(self, completion: str, task: Task) -> Verdict:
        return check_reasoning_format(completion, **self.options)

    def __repr__(self) -> str:
        return f"FormatVerifier({self.options!r})"
