"""Detectable-format instructions: bullets, fixed answers, highlights, sections, JSON, title."""

from __future__ import annotations

import re

from ..json_output import JSONOutputError, parse_json_output
from ._text import nfkc, phrase_pattern
from .registry import instruction

CONSTRAINED_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")

_BULLET = re.compile(r"^[ \t]*[*+\-][ \t]+\S.*$", re.MULTILINE)
_THEMATIC_BREAK = re.compile(r"^[ \t]*([*\-_])(?:[ \t]*\1){2,}[ \t]*$")
# *text*, **text** or ***text*** on one line; the text neither starts nor ends with a space.
_HIGHLIGHT = re.compile(r"(?<!\*)(\*{1,3})(?![\s*])([^\n*]*?[^\s*])\1(?!\*)")
_TITLE = re.compile(r"<<([^\n<>]+)>>")


def count_bullets(response: str) -> int:
    """Markdown bullet items (``*``, ``-`` or ``+`` then a space and text), nested ones included."""
    return sum(1 for m in _BULLET.finditer(response) if not _THEMATIC_BREAK.match(m.group(0)))


@instruction(
    "detectable_format:number_bullet_lists",
    params={"num_bullets": "int"},
    describe=lambda num_bullets: (
        f"Your answer must contain exactly {num_bullets} bullet points, using markdown bullets "
        "such as:\n* This is point 1.\n* This is point 2"
    ),
)
def number_bullet_lists(response: str, *, num_bullets: int) -> bool:
    """Exactly ``num_bullets`` bullet items."""
    return count_bullets(response) == num_bullets


# The final period is optional: "My answer is yes" follows the instruction too.
_OPTION_PATTERNS = tuple(phrase_pattern(option.rstrip(".")) for option in CONSTRAINED_OPTIONS)


@instruction(
    "detectable_format:constrained_response",
    describe=lambda: "Answer with one of the following options: " + ", ".join(CONSTRAINED_OPTIONS),
)
def constrained_response(response: str) -> bool:
    """Exactly one of the fixed options appears (the final period may be left out)."""
    text = nfkc(response)
    return sum(1 for pattern in _OPTION_PATTERNS if pattern.search(text)) == 1


def count_highlights(response: str) -> int:
    """Markdown-highlighted spans: ``*text*``, ``**text**`` or ``***text***`` on one line."""
    return len(_HIGHLIGHT.findall(response))


@instruction(
    "detectable_format:number_highlighted_sections",
    params={"num_highlights": "int"},
    describe=lambda num_highlights: (
        f"Highlight at least {num_highlights} sections of your answer with markdown, for "
        "example *highlighted section*."
    ),
)
def number_highlighted_sections(response: str, *, num_highlights: int) -> bool:
    """At least ``num_highlights`` highlighted spans."""
    return count_highlights(response) >= num_highlights


def count_sections(response: str, section_spliter: str) -> int:
    """Lines that start a section: the marker word (exact case) then a number; markdown or an
    opening quotation mark may come first."""
    pattern = re.compile(
        r"^[ \t>#*_\"“']*" + re.escape(section_spliter) + r"[ \t]+\d+(?!\w)", re.MULTILINE
    )
    return len(pattern.findall(response))


@instruction(
    "detectable_format:multiple_sections",
    params={"section_spliter": "text", "num_sections": "positive_int"},
    describe=lambda section_spliter, num_sections: (
        f"Your response must have {num_sections} sections. Mark the beginning of each section "
        f"with {section_spliter} X on its own line, such as:\n{section_spliter} 1\n"
        f"[content of section 1]\n{section_spliter} 2\n[content of section 2]"
    ),
)
def multiple_sections(response: str, *, section_spliter: str, num_sections: int) -> bool:
    """At least ``num_sections`` section headers (IFEval's reference counts "at least" too)."""
    return count_sections(response, section_spliter) >= num_sections


@instruction(
    "detectable_format:json_format",
    describe=lambda: (
        "Your entire output should be wrapped in JSON format. You can use markdown ticks such "
        "as ```."
    ),
)
def json_format(response: str) -> bool:
    """The whole response is one JSON value, optionally inside one markdown code fence."""
    try:
        parse_json_output(response)
    except JSONOutputError:
        return False
    return True


@instruction(
    "detectable_format:title",
    describe=lambda: (
        "Your answer must contain a title, wrapped in double angular brackets, such as "
        "<<poem of joy>>."
    ),
)
def title(response: str) -> bool:
    """A non-empty ``<<title>>`` on one line."""
    return any(m.group(1).strip() for m in _TITLE.finditer(response))
