"""Combination instructions: two different responses, and repeating the request first."""

from __future__ import annotations

import re

from ._text import WORD, nfkc
from .registry import instruction

# Exactly six asterisks: a longer run is not the separator the instruction names.
_SEPARATOR = re.compile(r"(?<!\*)\*{6}(?!\*)")


@instruction(
    "combination:two_responses",
    describe=lambda: (
        "Give two different responses. Responses and only responses should be separated by 6 "
        "asterisk symbols: ******."
    ),
)
def two_responses(response: str) -> bool:
    """Exactly one ``******`` separator between two non-empty, different responses."""
    parts = [part.strip() for part in _SEPARATOR.split(response)]
    return len(parts) == 2 and all(parts) and parts[0] != parts[1]


def _squash(text: str) -> str:
    return " ".join(nfkc(text).split()).casefold()


@instruction(
    "combination:repeat_prompt",
    params={"prompt_to_repeat": "text"},
    describe=lambda prompt_to_repeat: (
        "First repeat the request word for word without change, then give your answer (do not "
        "say anything before repeating the request; the request to repeat does not include "
        "this sentence)."
    ),
)
def repeat_prompt(response: str, *, prompt_to_repeat: str) -> bool:
    """The response starts with the request (case and whitespace aside, as IFEval's reference
    compares), then answers it."""
    text, request = _squash(response), _squash(prompt_to_repeat)
    if not text.startswith(request):
        return False
    rest = text[len(request) :]
    if request[-1:].isalnum() and rest[:1].isalnum():
        return False  # the last word was changed ("poem" -> "poems")
    return WORD.search(rest) is not None
