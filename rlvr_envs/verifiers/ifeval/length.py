"""Length instructions: number of sentences, words and paragraphs, and a paragraph's first word.

``less than N`` means strictly fewer than N and ``at least N`` means N or more, as in IFEval.
Words for ``number_words`` are runs of word characters, as IFEval's reference counts them.
Paragraphs for ``number_paragraphs`` are separated by a markdown divider line (``***`` alone on
its line, as the instruction asks); for ``nth_paragraph_first_word`` by blank lines.
"""

from __future__ import annotations

import re

from ._text import WORD, count_sentences, nfkc, split_paragraphs
from .registry import compare, instruction

_DIVIDER_LINE = re.compile(r"^[ \t]*\*\*\*[ \t]*$", re.MULTILINE)
# Words for number_words, as IFEval's reference counts them: runs of word characters, so "can't",
# "well-known" and "3.5" are two words each.
_IFEVAL_WORD = re.compile(r"\w+")
_LEADING_MARKUP = re.compile(r"^[\W_]*")


@instruction(
    "length_constraints:number_sentences",
    params={"num_sentences": "int", "relation": "relation"},
    describe=lambda num_sentences, relation: (
        f"Your response should contain {relation} {num_sentences} sentences."
    ),
)
def number_sentences(response: str, *, num_sentences: int, relation: str) -> bool:
    """The sentence count satisfies the relation."""
    return compare(count_sentences(response), relation, num_sentences)


@instruction(
    "length_constraints:number_words",
    params={"num_words": "int", "relation": "relation"},
    describe=lambda num_words, relation: f"Answer with {relation} {num_words} words.",
)
def number_words(response: str, *, num_words: int, relation: str) -> bool:
    """The word count satisfies the relation."""
    return compare(sum(1 for _ in _IFEVAL_WORD.finditer(response)), relation, num_words)


def divider_paragraphs(response: str) -> list[str] | None:
    """Paragraphs between ``***`` divider lines; None when two dividers enclose nothing."""
    parts = [part.strip() for part in _DIVIDER_LINE.split(response)]
    # Dividers at the very start or end enclose nothing, which IFEval tolerates.
    if parts and not parts[0]:
        parts = parts[1:]
    if parts and not parts[-1]:
        parts = parts[:-1]
    if any(not part for part in parts):
        return None
    return parts


@instruction(
    "length_constraints:number_paragraphs",
    params={"num_paragraphs": "positive_int"},
    describe=lambda num_paragraphs: (
        f"There should be exactly {num_paragraphs} paragraphs, separated from each other by "
        "the markdown divider *** on its own line."
    ),
)
def number_paragraphs(response: str, *, num_paragraphs: int) -> bool:
    """Exactly ``num_paragraphs`` non-empty paragraphs between divider lines."""
    paragraphs = divider_paragraphs(response)
    return paragraphs is not None and len(paragraphs) == num_paragraphs


def paragraph_first_word(paragraph: str) -> str | None:
    """The first word of a paragraph, past leading markup and quotes, in normalised case."""
    rest = _LEADING_MARKUP.sub("", nfkc(paragraph), count=1)
    match = WORD.match(rest)
    return match.group(0).casefold() if match else None


def _nth_within(num_paragraphs: int, nth_paragraph: int, first_word: str) -> None:
    if not 1 <= nth_paragraph <= num_paragraphs:
        raise ValueError(
            f"nth_paragraph must be between 1 and num_paragraphs={num_paragraphs}, "
            f"got {nth_paragraph}"
        )


@instruction(
    "length_constraints:nth_paragraph_first_word",
    params={
        "num_paragraphs": "positive_int",
        "nth_paragraph": "positive_int",
        "first_word": "text",
    },
    validate=_nth_within,
    describe=lambda num_paragraphs, nth_paragraph, first_word: (
        f"There should be exactly {num_paragraphs} paragraphs, separated from each other by one "
        f"blank line (two newlines). Paragraph {nth_paragraph} must start with the word "
        f'"{first_word}".'
    ),
)
def nth_paragraph_first_word(
    response: str, *, num_paragraphs: int, nth_paragraph: int, first_word: str
) -> bool:
    """Exactly ``num_paragraphs`` blank-line paragraphs, the nth starting with ``first_word``."""
    paragraphs = split_paragraphs(response)
    if len(paragraphs) != num_paragraphs:
        return False
    return paragraph_first_word(paragraphs[nth_paragraph - 1]) == nfkc(first_word).casefold()
