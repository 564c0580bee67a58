"""Non-answers: responses that satisfy form constraints without answering, never paid in training.

A response is first unwrapped (one code fence, ``\\boxed{...}``, ``<answer>`` and other tags, a
JSON value's strings), then judged:

- ``no_answer``: nothing (empty, whitespace), no words (a lone number, symbols, ``{}``, an empty
  code block, an empty ``\\boxed{}``);
- ``format_error`` "restates the prompt": half or more of its words are passages copied from the
  prompt (runs of four words or more, or the whole response when it is shorter), also when the copy
  sits inside ``\\boxed{}`` or answer tags; "restates the instructions" when it has none of the
  request's content words (what it copied is instructions); "repeats the same few words" when
  the thirty words or more it did not copy use fewer than 15% distinct words (topic terms said
  over and over).

Phrases the instructions themselves ask for (an end phrase, keywords, the options of a
constrained answer, a postscript marker) are removed before measuring the copy, and so is a
repetition of the request that ``combination:repeat_prompt`` asks for (see :mod:`.training`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ...verdict import Status, Verdict
from ..json_output import JSONOutputError, parse_json_output
from ._text import WORD, nfkc, phrase_pattern

# Function words and the vocabulary of instructions: never what a request is about.
STOPWORDS = frozenset(
    """about above after again against also among answer answers appear around asked asking
    asterisk asterisks avoid because been before being below between both bullet bullets capital
    capitals change comma commas contain containing could describe divider does doing down during
    each either end ending english entire every explain exactly example few finish first follow
    following form format from give given have having help here highlight highlighted include
    included including instead into itself json just keyword keywords language last least less
    letter letters like list lowercase make many markdown marks more most much must mark need
    next once only options other output paragraph paragraphs part phrase placeholder
    placeholders please point points postscript provide quotation quote refrain repeat request
    respond response responses same section sections sentence sentences separate separated
    should show since some such than that their them then there these they thing things this
    those through times title together twice under until upper uppercase using very want what
    when where which while whole will with within without word words would write writing
    written your yourself""".split()
)
# A response of at least this many words whose distinct words are fewer than this fraction is a
# few words said over and over ("bakery midnight bakery midnight ..."), not prose: reference
# responses and ordinary text stay above 0.25.
REPETITION_MIN_WORDS = 30
REPETITION_DISTINCT_FRACTION = 0.15
COPY_NGRAM = 4  # a copied passage is a run of at least this many of the prompt's words
COPIED_FRACTION = 0.5  # a response whose copied words reach this fraction restates the prompt
_FENCE = re.compile(r"\A```[^\n`]*\n?(?P<body>.*?)\n?[ \t]*```\Z", re.S)
_BOXED = re.compile(r"\\boxed\s*\{")
_TAG = re.compile(r"</?[A-Za-z][\w.\-]*\s*/?>")
_NUMBER = re.compile(r"[+\-]?(?:\d[\d,_ ]*)?\.?\d+(?:[eE][+\-]?\d+)?%?")


@dataclass(frozen=True)
class Unwrapped:
    """A response's text with its wrappers removed, and the wrappers found."""

    text: str
    wrappers: tuple[str, ...]  # "code block", "\\boxed{}", "answer tags", "JSON"
    empty_wrapper: str | None = None  # a wrapper with nothing inside


def _json_strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _json_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _json_strings(v)]
    return []


def unwrap(response: str) -> Unwrapped:
    """The words a reader would see: fence, boxes, tags and JSON syntax removed."""
    text = response.strip()
    wrappers: list[str] = []
    fence = _FENCE.match(text)
    if fence:
        wrappers.append("code block")
        text = fence.group("body").strip()
        if not text:
            return Unwrapped("", tuple(wrappers), "code block")
    if _BOXED.search(text):
        wrappers.append("\\boxed{}")
        text = _BOXED.sub(" ", text)
    if "<answer>" in text:
        wrappers.append("answer tags")
    text = _TAG.sub(" ", text).strip()
    if text[:1] in '{["' and text[-1:] in '}]"':
        try:
            value = parse_json_output(text)
        except JSONOutputError:
            pass
        else:
            wrappers.append("JSON")
            text = "\n".join(_json_strings(value)).strip()
    if not text.strip("{}[]() \n\t") and wrappers:
        return Unwrapped("", tuple(wrappers), wrappers[-1])
    return Unwrapped(text, tuple(wrappers))


def words_of(text: str) -> list[str]:
    """Case-folded word tokens."""
    return [word.casefold() for word in WORD.findall(nfkc(text))]


def content_words(text: str) -> list[str]:
    """Words of four letters or more that are not function words or instruction vocabulary."""
    return [w for w in words_of(text) if len(w) >= 4 and w.isalpha() and w not in STOPWORDS]


def copied_flags(words: Sequence[str], source: Sequence[str], n: int = COPY_NGRAM) -> list[bool]:
    """For each word, whether it lies in a run of ``n`` words that also occurs in ``source``.

    A response shorter than ``n`` words is compared as a whole run.
    """
    n = max(1, min(n, len(words)))
    grams = {tuple(source[i : i + n]) for i in range(len(source) - n + 1)}
    flags = [False] * len(words)
    for i in range(len(words) - n + 1):
        if tuple(words[i : i + n]) in grams:
            for j in range(i, i + n):
                flags[j] = True
    return flags


def without_copies(text: str, prompt: str) -> str:
    """``text``'s words outside passages copied from ``prompt``, joined by spaces."""
    words = words_of(text)
    flags = copied_flags(words, words_of(prompt))
    return " ".join(word for word, copied in zip(words, flags) if not copied)


def remove_phrases(text: str, phrases: Iterable[str]) -> str:
    """``text`` with every whole-word occurrence of each phrase blanked out."""
    for phrase in phrases:
        if phrase.strip():
            text = phrase_pattern(nfkc(phrase)).sub(" ", nfkc(text))
    return text


def _repetitive(words: Sequence[str]) -> bool:
    return len(words) >= REPETITION_MIN_WORDS and len(
        set(words)
    ) < REPETITION_DISTINCT_FRACTION * len(words)


def _no_words_reason(text: str, unwrapped: Unwrapped) -> str:
    if unwrapped.empty_wrapper == "code block":
        return "an empty code block"
    if unwrapped.empty_wrapper == "JSON":
        return "a JSON value with no text"
    if unwrapped.empty_wrapper:
        return f"an empty {unwrapped.empty_wrapper}"
    if _NUMBER.fullmatch(text.strip()):
        return "a lone number"
    return "no words, only symbols"


def non_answer(
    response: str,
    prompt: str,
    *,
    allowed: Iterable[str] = (),
    request_text: str | None = None,
) -> Verdict | None:
    """A ``no_answer`` or ``format_error`` verdict when ``response`` is a non-answer, else None.

    ``allowed`` are phrases the instructions ask for; ``request_text`` is the request part of
    the prompt (the rest being instructions), used to say which part was restated.
    """
    if not response.strip():
        return Verdict.make(Status.NO_ANSWER, "empty response")
    unwrapped = unwrap(response)
    if not any(ch.isalpha() for ch in _NUMBER.sub(" ", unwrapped.text)):
        return Verdict.make(Status.NO_ANSWER, _no_words_reason(unwrapped.text, unwrapped))
    words = words_of(remove_phrases(unwrapped.text, allowed))
    copied = copied_flags(words, words_of(prompt)) if words else []
    if _repetitive([word for word, flag in zip(words, copied) if not flag]):
        return Verdict.make(Status.FORMAT_ERROR, "repeats the same few words")
    if not words or sum(copied) / len(words) < COPIED_FRACTION:
        return None
    inside = next((w for w in unwrapped.wrappers if w in ("\\boxed{}", "answer tags")), None)
    where = f" inside {inside}" if inside else ""
    if request_text is not None and not set(words) & set(content_words(request_text)):
        return Verdict.make(Status.FORMAT_ERROR, f"restates the instructions{where}")
    return Verdict.make(Status.FORMAT_ERROR, f"restates the prompt{where}")
