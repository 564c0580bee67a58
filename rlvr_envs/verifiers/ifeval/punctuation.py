"""Punctuation instructions: no commas."""

from __future__ import annotations

from .registry import instruction

# ASCII, full-width, ideographic, small-form and Arabic commas: all are commas to a reader.
COMMAS = frozenset(",，、﹐﹑،")


@instruction(
    "punctuation:no_comma",
    describe=lambda: "In your entire response, refrain from the use of any commas.",
)
def no_comma(response: str) -> bool:
    """No comma character of any script."""
    return not any(ch in COMMAS for ch in response)
