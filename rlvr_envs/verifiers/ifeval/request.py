"""Checks of a request's own content: did the response do what was asked, not only how.

IFEval's instructions check the form of a response (no commas, at most N words, JSON...), which a
non-answer satisfies as well as an answer does. A :class:`RequestCheck` is the verifiable part of
the request itself, written as data so that a task carries it:

- ``names``: proper names that must all appear ("Marrow Cay"); they survive translation;
- ``terms`` / ``min_terms``: topic term groups (``"walk|walking"``), at least ``min_terms``
  different groups mentioned;
- ``min_words`` / ``min_letters``: a minimum length (letters for scripts written without spaces);
- ``items`` / ``item_terms``: at least ``items`` list items (markdown bullets or numbered lines) of
  three words or more, each naming a topic term when ``item_terms``;
- ``letter``: a salutation ("Dear ...", "Hi ...") in the first lines and a sign-off ("Best
  wishes", "Sincerely", ...) in the last ones;
- ``speakers``: a dialogue, each speaker starting at least two lines (``Cat: ...``);
- ``answer``: the constrained option that is factually right ("yes" or "no").

Names and terms match whole words, ignoring case, after compatibility normalisation; a term may
take a common English ending ("plant" matches "plants", "walk" "walked"). :func:`check_request`
scores each part; the caller decides what text it sees (see :mod:`.training`, which removes
passages copied from the prompt first, so restating the request earns no topic terms).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ._text import ENDINGS, WORD, count_words, nfkc

_ITEM = re.compile(r"^[ \t>]*(?:[*+\-•]|\d{1,3}[.)])[ \t]+(?P<text>\S.*)$", re.MULTILINE)
_THEMATIC_BREAK = re.compile(r"^[\s*\-_]+$")
_SALUTATION = re.compile(r"(?:dear|hi|hello|hey|greetings|to)\b", re.IGNORECASE)
_SIGN_OFF = re.compile(
    r"(?:best|kind regards|regards|sincerely|yours|warmly|warm wishes|thanks|thank you|cheers|"
    r"with gratitude|gratefully|love|all the best|take care|respectfully)\b",
    re.IGNORECASE,
)
_LINE_MARKUP = re.compile(r"^[\s\"'“”‘’«»>#*_`\[(]+")
_CONSTRAINED = re.compile(r"my\s+answer\s+is\s+(yes|no|maybe)\b", re.IGNORECASE)
_SALUTATION_LINES = 3  # the salutation is on one of the first lines ...
_SIGN_OFF_LINES = 6  # ... and the sign-off on one of the last ones (a postscript may follow)
_ITEM_MIN_WORDS = 3


@dataclass(frozen=True)
class RequestCheck:
    """What a response must contain to have done the request (every field optional)."""

    names: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()  # groups of alternatives separated by "|"
    min_terms: int = 0
    min_words: int = 0
    min_letters: int = 0
    items: int = 0
    item_terms: bool = False
    letter: bool = False
    speakers: tuple[str, ...] = ()
    answer: str | None = None  # "yes" or "no"

    def __post_init__(self) -> None:
        for name in ("names", "terms", "speakers"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) and v.strip() for v in value):
                raise ValueError(f"RequestCheck.{name} must be a list of non-empty strings")
            object.__setattr__(self, name, tuple(value))
        if not 0 <= self.min_terms <= len(self.terms):
            raise ValueError(f"min_terms must be between 0 and {len(self.terms)} (the groups)")
        if self.item_terms and not self.terms:
            raise ValueError("item_terms needs topic terms")
        if self.answer not in (None, "yes", "no"):
            raise ValueError(f"answer must be 'yes', 'no' or None, got {self.answer!r}")
        for name in ("min_words", "min_letters", "items"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"RequestCheck.{name} must be an integer >= 0")

    @property
    def empty(self) -> bool:
        """True when the check asks for nothing."""
        return not self.parts()

    def parts(self) -> list[str]:
        """Names of the parts this check scores."""
        present = {
            "names": bool(self.names),
            "topic": self.min_terms > 0,
            "length": bool(self.min_words or self.min_letters),
            "items": self.items > 0,
            "letter": self.letter,
            "speakers": bool(self.speakers),
            "answer": self.answer is not None,
        }
        return [name for name, on in present.items() if on]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists for tuples, defaults left out), as stored in a task's answer."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value != f.default:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RequestCheck:
        """Rebuild from :meth:`to_dict` output; an unknown key is a ``ValueError``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown RequestCheck field(s) {unknown}; known: {sorted(known)}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)


@dataclass(frozen=True)
class RequestResult:
    """Per-part outcome of a :class:`RequestCheck` on one response."""

    parts: Mapping[str, bool]
    missing: tuple[str, ...]  # one phrase per failed part, for the verdict's reason

    @property
    def passed(self) -> bool:
        """True when every part passed (an empty check passes)."""
        return all(self.parts.values())

    @property
    def score(self) -> float:
        """The fraction of parts passed (1.0 for an empty check)."""
        return sum(self.parts.values()) / len(self.parts) if self.parts else 1.0


@lru_cache(maxsize=512)
def term_pattern(group: str) -> re.Pattern[str]:
    """Whole-word, case-insensitive pattern for a ``"a|b c"`` group, common endings allowed.

    The boundaries are ASCII letters and digits only, so a Latin name inside Japanese text
    ("Marrow Cayについて") still matches.
    """
    alternatives = []
    for term in group.split("|"):
        words = [re.escape(nfkc(word)) for word in term.split()]
        if words:
            alternatives.append(r"\s+".join(words))
    if not alternatives:
        raise ValueError(f"empty term group {group!r}")
    body = "|".join(sorted(alternatives, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9])(?:{body}){ENDINGS}(?![A-Za-z0-9])", re.IGNORECASE)


def mentions(text: str, group: str) -> bool:
    """True when ``text`` mentions any alternative of a term group."""
    return term_pattern(group).search(nfkc(text)) is not None


def _lines(text: str) -> list[str]:
    return [_LINE_MARKUP.sub("", line).strip() for line in text.splitlines() if line.strip()]


def list_items(text: str) -> list[str]:
    """The text of each markdown bullet or numbered list item (thematic breaks excluded)."""
    return [
        m.group("text")
        for m in _ITEM.finditer(text)
        if not _THEMATIC_BREAK.match(m.group(0)) and WORD.search(m.group("text"))
    ]


def has_letter_frame(text: str) -> bool:
    """A salutation on one of the first lines and a sign-off on one of the last, after it."""
    lines = _lines(text)
    starts = [i for i, line in enumerate(lines[:_SALUTATION_LINES]) if _SALUTATION.match(line)]
    if not starts:
        return False
    tail_start = max(starts[0] + 1, len(lines) - _SIGN_OFF_LINES)
    return any(_SIGN_OFF.match(line) for line in lines[tail_start:])


def speaker_lines(text: str, speaker: str) -> int:
    """Lines that start with ``speaker:`` (markup before it allowed)."""
    pattern = re.compile(rf"^{re.escape(speaker)}\s*:\s*\S", re.IGNORECASE)
    return sum(1 for line in _lines(text) if pattern.match(line))


def constrained_choice(text: str) -> str | None:
    """The one option chosen with "My answer is yes/no/maybe", or None (none or several)."""
    choices = {m.group(1).lower() for m in _CONSTRAINED.finditer(nfkc(text))}
    return choices.pop() if len(choices) == 1 else None


def check_request(
    text: str, check: RequestCheck, *, topic_text: str | None = None
) -> RequestResult:
    """Score ``text`` against ``check``; names, topic terms and length are read in ``topic_text``
    (the response without what it copied from the prompt) when given."""
    topic = text if topic_text is None else topic_text
    parts: dict[str, bool] = {}
    missing: list[str] = []

    def record(name: str, ok: bool, problem: str) -> None:
        parts[name] = ok
        if not ok:
            missing.append(problem)

    if check.names:
        absent = [name for name in check.names if not mentions(topic, name)]
        record("names", not absent, f"does not name {', '.join(absent)}")
    if check.min_terms:
        found = [group for group in check.terms if mentions(topic, group)]
        record(
            "topic",
            len(found) >= check.min_terms,
            f"mentions {len(found)} of the topic's terms, needs {check.min_terms} "
            f"({', '.join(g.split('|')[0] for g in check.terms)})",
        )
    if check.min_words or check.min_letters:
        words = count_words(topic)
        letters = sum(ch.isalpha() for ch in topic)
        record(
            "length",
            words >= check.min_words and letters >= check.min_letters,
            f"too short for the request ({words} words and {letters} letters of its own; needs "
            f"{check.min_words} words and {check.min_letters} letters)",
        )
    if check.items:
        items = [
            item
            for item in list_items(text)
            if count_words(item) >= _ITEM_MIN_WORDS
            and (not check.item_terms or any(mentions(item, g) for g in check.terms))
        ]
        what = " on the topic" if check.item_terms else ""
        record(
            "items",
            len(items) >= check.items,
            f"has {len(items)} list items{what}, needs {check.items}",
        )
    if check.letter:
        record("letter", has_letter_frame(text), "is not a letter (salutation and sign-off)")
    if check.speakers:
        short = [s for s in check.speakers if speaker_lines(text, s) < 2]
        record("speakers", not short, f"gives fewer than two lines to {', '.join(short)}")
    if check.answer is not None:
        chosen = constrained_choice(text)
        record("answer", chosen == check.answer, f"answers {chosen or 'nothing'}, not the fact")
    return RequestResult(parts=parts, missing=tuple(missing))
