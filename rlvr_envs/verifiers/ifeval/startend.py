"""Start/end instructions: a fixed closing phrase, and wrapping in double quotation marks."""

from __future__ import annotations

from ._text import nfkc
from .registry import instruction

# Closing marks that may follow the phrase: they are not words ("No other words should follow").
_CLOSERS = "\"'”’»*_` \t\r\n"
# Double quotation mark pairs: ASCII, typographic and full-width.
QUOTE_PAIRS = (('"', '"'), ("“", "”"), ("＂", "＂"))


@instruction(
    "startend:end_checker",
    params={"end_phrase": "text"},
    describe=lambda end_phrase: (
        f"Finish your response with this exact phrase: {end_phrase} No other words should "
        "follow this phrase."
    ),
)
def end_checker(response: str, *, end_phrase: str) -> bool:
    """The response ends with the phrase (case aside, as in IFEval's reference), only closing
    marks after it."""
    phrase = nfkc(end_phrase).strip().casefold()
    text = nfkc(response).rstrip().casefold()
    for candidate in (text, text.rstrip(_CLOSERS)):
        if candidate.endswith(phrase):
            before = candidate[: -len(phrase)][-1:]
            # The phrase must start a word: "XAny other questions?" does not end with it.
            return not (before.isalnum() and phrase[:1].isalnum())
    return False


@instruction(
    "startend:quotation",
    describe=lambda: "Wrap your entire response with double quotation marks.",
)
def quotation(response: str) -> bool:
    """The stripped response starts and ends with a matching double quotation mark pair."""
    text = response.strip()
    return any(
        len(text) > len(left) + len(right)
        and text.startswith(left)
        and text.endswith(right)
        and text[len(left) : -len(right)].strip() != ""
        for left, right in QUOTE_PAIRS
    )
