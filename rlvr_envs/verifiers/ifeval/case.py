"""Change-case instructions: capitalised-word frequency, all capitals and all lowercase English.

A capital word is counted as IFEval's reference counts it: every word token whose cased letters
are all upper case, single letters included ("I" and "A" count, so do "NASA", "COVID-19" and
"U.S."). Tokens split where NLTK's word tokenizer splits them: at spaces and punctuation, and
before a contraction's apostrophe ("DON'T" is "DO" and "N'T", two capital words), but not at
hyphens or inner periods.
"""

from __future__ import annotations

import re

from .language import detect_language
from .registry import compare, instruction

_CASE_TOKEN = re.compile(r"\w+(?:[.\-]\w+)*")


def count_capital_words(response: str) -> int:
    """Word tokens whose cased characters are all upper case (single letters included)."""
    return sum(1 for token in _CASE_TOKEN.findall(response) if token.isupper())


@instruction(
    "change_case:capital_word_frequency",
    params={"capital_frequency": "int", "capital_relation": "relation"},
    describe=lambda capital_frequency, capital_relation: (
        f"In your response, words written in all capital letters should appear "
        f"{capital_relation} {capital_frequency} times."
    ),
)
def capital_word_frequency(response: str, *, capital_frequency: int, capital_relation: str) -> bool:
    """The number of all-capital words satisfies the relation."""
    return compare(count_capital_words(response), capital_relation, capital_frequency)


@instruction(
    "change_case:english_capital",
    describe=lambda: "Your entire response should be in English, and in all capital letters.",
)
def english_capital(response: str) -> bool:
    """No lowercase letter, some uppercase letter, and identified as English."""
    return response.isupper() and detect_language(response) == "en"


@instruction(
    "change_case:english_lowercase",
    describe=lambda: (
        "Your entire response should be in English, and in all lowercase letters. No capital "
        "letters are allowed."
    ),
)
def english_lowercase(response: str) -> bool:
    """No uppercase letter, some lowercase letter, and identified as English."""
    return response.islower() and detect_language(response) == "en"
