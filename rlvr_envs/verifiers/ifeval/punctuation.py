"""Punctuation instructions: no commas.

Only the ASCII comma counts, as in IFEval's reference: the instruction is written in English and
asks about English punctuation, and a full-width ``，`` or an ideographic ``、`` in CJK text is
accepted there, so scores stay comparable with published ones.
"""

from __future__ import annotations

from .registry import instruction

COMMAS = frozenset(",")


@instruction(
    "punctuation:no_comma",
    describe=lambda: "In your entire response, refrain from the use of any commas.",
)
def no_comma(response: str) -> bool:
    """No ASCII comma."""
    return not any(ch in COMMAS for ch in response)
