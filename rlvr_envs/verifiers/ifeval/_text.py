"""Text units the instructions count: words, sentences, paragraphs, keyword matches.

All of them are plain regular-expression rules with no model behind them, so they give the same
answer everywhere. They are written for what the instruction texts mean: a keyword is a whole word
(``cat`` is not in "category"), a word keeps its apostrophes and hyphens ("don't", "well-known"),
and a sentence ends at ``.``, ``!``, ``?`` or their full-width forms, not after an abbreviation.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# A word: letters/digits joined by inner apostrophes or hyphens. ``\w`` is Unicode-aware.
WORD = re.compile(r"\w+(?:['’\-]\w+)*")

# Sentence terminators, ASCII and full-width / CJK, plus the single-character ellipsis.
_TERMINATORS = ".!?。！？｡‼⁇⁈⁉…"
_CJK_TERMINATORS = "。！？｡"
# A terminator run, then optional closing quotes, brackets or markdown emphasis; a boundary
# needs whitespace or the end after it, except after CJK terminators, which are not followed by
# spaces in CJK text.
_BOUNDARY = re.compile(
    rf"[{re.escape(_TERMINATORS)}]+[\"'”’»)\]*_]*(?:\s+|$)|[{_CJK_TERMINATORS}]+[\"'”’」』)\]*_]*"
)
# Tokens that end with a period but do not end a sentence (compared case-insensitively).
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st vs etc e.g i.e cf al approx dept est fig inc ltd co corp no
    vol pp ch sec jan feb mar apr jun jul aug sep sept oct nov dec mt ave blvd gen col lt sgt capt
    u.s u.k u.n a.m p.m ph.d""".split()
)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_PARAGRAPH_BREAK = re.compile(r"(?:\n[ \t]*){2,}")


def nfkc(text: str) -> str:
    """Compatibility-normalised text: full-width letters and punctuation become ASCII forms."""
    return unicodedata.normalize("NFKC", text)


def count_words(text: str) -> int:
    """Number of words in ``text``."""
    return sum(1 for _ in WORD.finditer(text))


# Longest token looked at before a period: keeps the abbreviation test constant-time.
_TOKEN_WINDOW = 32


def _ends_with_abbreviation(text: str, period: int) -> bool:
    """True when the word ending at ``text[period]`` (a period) is an abbreviation."""
    window = text[max(0, period - _TOKEN_WINDOW) : period]
    if not window or window[-1].isspace():
        return False
    token = window.split()[-1].lstrip("(\"'“‘[").lower()
    if token in _ABBREVIATIONS:
        return True
    # A single letter ("J. Smith") or a dotted acronym ("U.S.A.") is an abbreviation.
    return bool(re.fullmatch(r"[^\W\d_](?:\.[^\W\d_])*", token))


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``; blank lines also end a sentence; chunks without words are dropped."""
    sentences: list[str] = []
    for block in _BLANK_LINE.split(text):
        start = 0
        for match in _BOUNDARY.finditer(block):
            if match.group(0).startswith(".") and _ends_with_abbreviation(block, match.start()):
                continue
            sentences.append(block[start : match.end()])
            start = match.end()
        sentences.append(block[start:])
    return [s.strip() for s in sentences if WORD.search(s)]


def count_sentences(text: str) -> int:
    """Number of sentences in ``text``."""
    return len(split_sentences(text))


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs separated by one or more blank lines, empty ones dropped."""
    return [p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip()]


# Inflectional endings a keyword may take ("engine" in "engines", "walk" in "walked").
ENDINGS = r"(?:s|es|d|ed|ing|er|ers|ly)?"


@lru_cache(maxsize=1024)
def phrase_pattern(phrase: str, endings: bool = False) -> re.Pattern[str]:
    """A case-insensitive whole-word pattern for ``phrase``; inner whitespace matches any run.

    Word boundaries are look-arounds on ``\\w``, so a phrase that begins or ends with punctuation
    ("C++", "e.g.") still matches where it stands alone. With ``endings`` the last word may take
    an inflectional ending.
    """
    parts = [re.escape(part) for part in phrase.split()]
    if not parts:
        raise ValueError("an empty keyword matches nothing")
    tail = ENDINGS if endings and phrase[-1:].isalpha() else ""
    return re.compile(r"(?<!\w)" + r"\s+".join(parts) + tail + r"(?!\w)", re.IGNORECASE)


def count_phrase(text: str, phrase: str, *, endings: bool = False) -> int:
    """How many times ``phrase`` occurs in ``text`` as whole words (``endings``: the last word
    inflected too), ignoring case."""
    return sum(1 for _ in phrase_pattern(nfkc(phrase), endings).finditer(nfkc(text)))
