"""Keyword instructions: existence, frequency, forbidden words, letter frequency.

Keywords are matched as whole words, ignoring case (``cat`` is not in "category", "Cat" is
"cat"), with an inflectional ending allowed for existence and frequency ("engines" has "engine",
as in IFEval's reference, which matches substrings) but not for forbidden words (IFEval's
reference matches those as whole words); a multi-word keyword matches across any whitespace.
Letters are counted case-insensitively after compatibility normalisation, so a full-width "Ａ"
counts as "a".
"""

from __future__ import annotations

from ._text import count_phrase, nfkc
from .registry import compare, instruction


def _quoted(words: tuple[str, ...]) -> str:
    return ", ".join(f'"{w}"' for w in words)


@instruction(
    "keywords:existence",
    params={"keywords": "text_list"},
    describe=lambda keywords: f"Include the keywords {_quoted(keywords)} in your response.",
)
def keywords_existence(response: str, *, keywords: tuple[str, ...]) -> bool:
    """Every keyword occurs at least once as a whole word."""
    return all(count_phrase(response, keyword, endings=True) > 0 for keyword in keywords)


@instruction(
    "keywords:frequency",
    params={"keyword": "text", "frequency": "int", "relation": "relation"},
    describe=lambda keyword, frequency, relation: (
        f'In your response, the word "{keyword}" should appear {relation} {frequency} times.'
    ),
)
def keyword_frequency(response: str, *, keyword: str, frequency: int, relation: str) -> bool:
    """The keyword's whole-word count satisfies the relation."""
    return compare(count_phrase(response, keyword, endings=True), relation, frequency)


@instruction(
    "keywords:forbidden_words",
    params={"forbidden_words": "text_list"},
    describe=lambda forbidden_words: (
        f"Do not include the words {_quoted(forbidden_words)} in your response."
    ),
)
def forbidden_words(response: str, *, forbidden_words: tuple[str, ...]) -> bool:
    """None of the forbidden words occurs as a whole word."""
    return all(count_phrase(response, word) == 0 for word in forbidden_words)


@instruction(
    "keywords:letter_frequency",
    params={"letter": "letter", "let_frequency": "int", "let_relation": "relation"},
    describe=lambda letter, let_frequency, let_relation: (
        f'In your response, the letter "{letter}" should appear {let_relation} '
        f"{let_frequency} times."
    ),
)
def letter_frequency(response: str, *, letter: str, let_frequency: int, let_relation: str) -> bool:
    """The letter's case-insensitive count satisfies the relation."""
    return compare(nfkc(response).casefold().count(letter), let_relation, let_frequency)
