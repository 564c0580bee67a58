"""Extraction stage: find the final answer in a model's response.

Each rule looks for one kind of answer marker and returns the *last* such answer in the text (a
model may revise itself; the final statement counts). The rules are tried in a configurable
priority order and the first that finds something wins.

Boxes get special care. Only the final group of boxes is used: the last ``\\boxed{}`` / ``\\fbox{}``
plus the boxes right before it that are joined to it only by connectors (commas, "and", "or",
dollar signs). An earlier box separated by prose ("... \\boxed{10}. Wait, that is wrong ...
\\boxed{12}") is a discarded attempt and is ignored; several adjacent boxes ("\\boxed{2} or
\\boxed{3}") are several answers, which the comparison stage then treats as a list: right when the
gold is that list, a hedge otherwise.

Every rule runs in time linear in the response length (no backtracking-prone patterns, one pass
over the braces), so a hostile response cannot stall extraction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .spans import NUMBER, focus, join_group, last_candidate, number_text, prose_words


@dataclass(frozen=True)
class Extraction:
    """An extracted answer: its text, the rule that found it, and its parts when several boxes."""

    answer: str
    method: str
    parts: tuple[str, ...] = ()
    end: int | None = None  # where the answer ends in the text, when a rule records it


STRICT_PRIORITY: tuple[str, ...] = (
    "answer_tag",
    "boxed",
    "final_answer",
    "hash",
    "answer_line",
    "answer_is",
    "whole",
)
"""Strict mode (training): only marked answers (tags, boxes, answer phrases) or a bare answer."""

LENIENT_PRIORITY: tuple[str, ...] = (*STRICT_PRIORITY, "math_span")
"""Lenient mode (evaluation): as strict, then the last LaTeX math span or number, as Math-Verify."""

DEFAULT_PRIORITY = STRICT_PRIORITY
"""Rules tried by default, in order. ``last_number`` is available but off by default."""

MODES = ("strict", "lenient")

_BOX_START = re.compile(r"\\(?:boxed|fbox|framebox)(?![a-zA-Z])")
_BRACE_TOKEN = re.compile(r"\\.|[{}]", re.DOTALL)


def _brace_matches(text: str, start: int) -> dict[int, int]:
    """Map each ``{`` at or after ``start`` to its matching ``}`` (escaped braces ignored)."""
    stack: list[int] = []
    matches: dict[int, int] = {}
    for token in _BRACE_TOKEN.finditer(text, start):
        char = token.group()
        if char == "{":
            stack.append(token.start())
        elif char == "}" and stack:
            matches[stack.pop()] = token.start()
    return matches


def _boxes(text: str) -> list[tuple[int, int, str]]:
    """Top-level boxes as ``(start, end, content)``, in order; unclosed boxes are skipped."""
    starts = [m for m in _BOX_START.finditer(text)]
    if not starts:
        return []
    matches = _brace_matches(text, starts[0].start())
    boxes: list[tuple[int, int, str]] = []
    for match in starts:
        position = match.end()
        while position < len(text) and text[position] in " \t":
            position += 1
        if position < len(text) and text[position] == "{":
            close = matches.get(position)
            if close is None:
                continue
            start, end, content = match.start(), close + 1, text[position + 1 : close]
        else:
            # "\boxed 5": TeX takes the next token as the argument.
            token = re.match(r"[^\s${}\\]+|\\[a-zA-Z]+", text[position : position + 200])
            if token is None:
                continue
            start, end, content = match.start(), position + token.end(), token.group()
        if boxes and start < boxes[-1][1]:
            continue  # nested inside the previous box: part of its content
        if content.strip():
            boxes.append((start, end, content.strip()))
    return boxes


def extract_boxed(text: str) -> Extraction | None:
    """The final group of ``\\boxed{}`` / ``\\fbox{}`` answers."""
    boxes = _boxes(text)
    if not boxes:
        return None
    group = join_group(boxes, text)
    parts = tuple(content for _, _, content in group)
    return Extraction(", ".join(parts), "boxed", parts, end=group[-1][1])


def extract_answer_tag(text: str) -> Extraction | None:
    """The content of the last ``<answer>...</answer>``, or the box inside it."""
    # rfind rather than a regex: a lazy ``.*?`` over many unclosed tags would be quadratic.
    lowered = text.lower()
    close = lowered.rfind("</answer>")
    if close == -1:
        return None
    open_ = lowered.rfind("<answer>", 0, close)
    if open_ == -1:
        return None
    content = text[open_ + len("<answer>") : close].strip()
    if not content:
        return None
    boxed = extract_boxed(content)
    if boxed is not None:
        return Extraction(boxed.answer, "answer_tag", boxed.parts)
    return Extraction(content, "answer_tag")


# The end of a sentence: a full stop not inside a number, or the end of the line.
_SENTENCE_END = re.compile(r"\.(?=\s|$)|\n")
_TRAILING_CLAUSE = re.compile(
    r"[,;]\s+(?:since|because|as|which|so|and\s+(?:so|thus|this|that)|but|where|this|that)\b"
    r"|\s+(?:because|since)\b",
    re.IGNORECASE,
)


def _sentence_after(text: str, position: int) -> str:
    """The rest of the sentence that starts at ``position``."""
    rest = text[position : position + 2000].lstrip(" \t*:")
    if rest.startswith("\n"):  # "Answer:\n42": the answer is on the next line
        rest = rest.lstrip()
    # Display math may span lines: keep a $$...$$ or \[...\] block whole.
    for opener, closer in (("$$", "$$"), ("\\[", "\\]")):
        if rest.startswith(opener):
            end = rest.find(closer, len(opener))
            if end != -1:
                return rest[: end + len(closer)]
    end = _SENTENCE_END.search(rest)
    sentence = rest[: end.start()] if end else rest
    clause = _TRAILING_CLAUSE.search(sentence)
    if clause:
        sentence = sentence[: clause.start()]
    return sentence.strip().rstrip("*").strip()


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    """The last non-overlapping match of ``pattern`` in ``text``."""
    found = None
    for found in pattern.finditer(text):  # noqa: B007 - the loop keeps the last match
        pass
    return found


def _last_match_sentence(pattern: re.Pattern[str], text: str, method: str) -> Extraction | None:
    last = _last(pattern, text)
    if last is None:
        return None
    sentence = _sentence_after(text, last.end())
    return Extraction(sentence, method) if sentence else None


_FINAL_ANSWER = re.compile(r"final\s+answer\s*(?:is|:|=)", re.IGNORECASE)
_ANSWER_LINE = re.compile(r"^[ \t*#>_]*answer[ \t*_]*:[ \t*_]*", re.IGNORECASE | re.MULTILINE)
_ANSWER_IS = re.compile(
    r"\banswer\s*(?:is|=|would\s+be|should\s+be|will\s+be|must\s+be)\s*:?", re.IGNORECASE
)


def extract_final_answer(text: str) -> Extraction | None:
    """The sentence after the last "final answer is" / "Final Answer:"."""
    return _last_match_sentence(_FINAL_ANSWER, text, "final_answer")


def extract_hash(text: str) -> Extraction | None:
    """The line after the last ``####`` (GSM8K style)."""
    position = text.rfind("####")
    if position == -1:
        return None
    line = text[position + 4 :].strip().split("\n", 1)[0].strip()
    return Extraction(line, "hash") if line else None


def extract_answer_line(text: str) -> Extraction | None:
    """The rest of the last line that starts with ``Answer:``."""
    return _last_match_sentence(_ANSWER_LINE, text, "answer_line")


def extract_answer_is(text: str) -> Extraction | None:
    """The sentence after the last "the answer is"."""
    return _last_match_sentence(_ANSWER_IS, text, "answer_is")


def extract_whole(text: str) -> Extraction | None:
    """The whole response, when it is a short bare answer rather than prose."""
    stripped = text.strip()
    if not stripped or len(stripped) > 120 or "\n" in stripped:
        return None
    if len(prose_words(stripped)) > 2:
        return None
    return Extraction(stripped, "whole")


_CALCULATOR = re.compile(r"<<[^<>]{0,200}>>")


def extract_last_number(text: str) -> Extraction | None:
    """The last number in the text (GSM8K calculator annotations ``<<...>>`` skipped)."""
    last = _last(NUMBER, _CALCULATOR.sub(" ", text[-5000:]))
    return Extraction(number_text(last), "last_number") if last else None


def extract_math_span(text: str) -> Extraction | None:
    """The last LaTeX math span (with spans joined to it), or a number written after it."""
    found = last_candidate(text)
    return Extraction(*found) if found else None


EXTRACTORS: dict[str, Callable[[str], Extraction | None]] = {
    "answer_tag": extract_answer_tag,
    "boxed": extract_boxed,
    "final_answer": extract_final_answer,
    "hash": extract_hash,
    "answer_line": extract_answer_line,
    "answer_is": extract_answer_is,
    "whole": extract_whole,
    "last_number": extract_last_number,
    "math_span": extract_math_span,
}
# Rules whose answer is a sentence: in lenient mode a prose sentence is reduced to its answer.
_SENTENCE_RULES = frozenset(
    {"answer_tag", "final_answer", "hash", "answer_line", "answer_is", "whole"}
)


def strip_thinking(text: str) -> str:
    """The part after the last ``</think>`` (reasoning models answer after their thoughts)."""
    position = text.rfind("</think>")
    return text[position + len("</think>") :] if position != -1 else text


def check_priority(priority: Sequence[str]) -> None:
    """Raise ValueError naming the rules in ``priority`` that are not extraction rules."""
    unknown = [name for name in priority if name not in EXTRACTORS]
    if unknown:
        raise ValueError(f"unknown extraction rule(s) {unknown}; known: {sorted(EXTRACTORS)}")


def check_mode(mode: str) -> None:
    """Raise ValueError unless ``mode`` is an extraction mode."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


def extract_answer(
    text: str,
    priority: Sequence[str] | None = None,
    *,
    thinking: bool = True,
    mode: str = "strict",
) -> Extraction | None:
    """The answer found by the first rule in ``priority`` that finds one, else None.

    ``mode`` picks the default priority (:data:`STRICT_PRIORITY` or :data:`LENIENT_PRIORITY`);
    in lenient mode an answer sentence written as prose ("The largest $n$ is 34") is reduced to
    its last math span or number, and the method says so (``final_answer/last_number``).
    """
    check_mode(mode)
    if priority is None:
        priority = LENIENT_PRIORITY if mode == "lenient" else STRICT_PRIORITY
    check_priority(priority)
    if thinking:
        text = strip_thinking(text)
    for name in priority:
        found = EXTRACTORS[name](text)
        if found is None or not found.answer.strip():
            continue
        if mode == "lenient" and found.end is not None:
            # "... \boxed{255} ... Final Answer: The final answer is $10,455$": the later statement.
            later = extract_final_answer(text[found.end :])
            if later is not None:
                name, found = "final_answer", later
        if mode == "lenient" and name in _SENTENCE_RULES and not found.parts:
            reduced = focus(found.answer)
            if reduced is not None:
                return Extraction(reduced[0], f"{name}/{reduced[1]}", reduced[2])
        return found
    return None
