"""Content instructions: placeholders in square brackets and a postscript."""

from __future__ import annotations

import re
from functools import lru_cache

from ._text import WORD, nfkc
from .registry import instruction

# Bracketed text on one line; ``[text](url)`` is a markdown link, not a placeholder. (One
# unambiguous character class keeps matching linear on hostile input.)
_PLACEHOLDER = re.compile(r"\[([^\[\]\n]+)\](?!\()")


def count_placeholders(response: str) -> int:
    """Number of non-blank ``[placeholder]`` occurrences."""
    return sum(1 for m in _PLACEHOLDER.finditer(response) if m.group(1).strip())


@instruction(
    "detectable_content:number_placeholders",
    params={"num_placeholders": "int"},
    describe=lambda num_placeholders: (
        f"The response must contain at least {num_placeholders} placeholders in square "
        "brackets, such as [address]."
    ),
)
def number_placeholders(response: str, *, num_placeholders: int) -> bool:
    """At least ``num_placeholders`` non-empty square-bracket placeholders."""
    return count_placeholders(response) >= num_placeholders


@lru_cache(maxsize=64)
def marker_pattern(marker: str) -> re.Pattern[str]:
    """A line-start pattern for a postscript marker; "P.S." also matches "p. s." and "**P.S.**"."""
    pieces = []
    for char in marker:
        if char == ".":
            pieces.append(r"\.[ \t]?")
        elif char.isspace():
            pieces.append(r"[ \t]+")
        else:
            pieces.append(re.escape(char))
    body = "".join(pieces)
    if marker[-1].isalnum():
        body += r"\.?"  # "P.P.S" is also written "P.P.S."
    return re.compile(
        r"(?<!\S)[>*_#]*" + body + r"(?!\w)[*_:]*(?P<rest>.*)", re.IGNORECASE | re.DOTALL
    )


@instruction(
    "detectable_content:postscript",
    params={"postscript_marker": "text"},
    describe=lambda postscript_marker: (
        f"At the end of your response, add a postscript starting with {postscript_marker}"
    ),
)
def postscript(response: str, *, postscript_marker: str) -> bool:
    """The marker appears (not inside a word) and some text follows it."""
    pattern = marker_pattern(nfkc(postscript_marker))
    return any(WORD.search(m.group("rest")) for m in pattern.finditer(nfkc(response)))
