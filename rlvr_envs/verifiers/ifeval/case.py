"""Change-case instructions: capitalised-word frequency, all capitals and all lowercase English.

A capitalised word has at least two letters, all upper case: "I" and "A" are always written that
way, so counting them would make "less than N capitalised words" fail ordinary English prose.
"""

from __future__ import annotations

from ._text import WORD, nfkc
from .language import detect_language
from .registry import compare, instruction


def count_capital_words(response: str) -> int:
    """Words of two or more letters written entirely in capitals."""
    return sum(
        1
        for word in WORD.findall(nfkc(response))
        if word.isupper() and sum(ch.isalpha() for ch in word) >= 2
    )


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
