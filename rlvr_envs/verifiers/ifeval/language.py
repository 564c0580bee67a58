"""Response language: ``language:response_language``, with a deterministic language identifier.

Why ``py3langid``: IFEval's reference code calls ``langdetect``, which samples character n-grams
with a random generator that is not seeded by default, so one response can pass in one process and
fail in the next. ``py3langid`` (a maintained fork of Lui & Baldwin's ``langid.py``) is a
multinomial naive Bayes classifier over byte n-grams: scoring is a fixed sum of weights from a
model file shipped inside the wheel, with no sampling, no network and no model download, so the
same text gets the same label in every process. It covers all 30 languages IFEval asks for (and
about 100 more, under the ISO 639-1 codes IFEval uses). fastText and CLD3 were ruled out: the first
needs a model download, the second a compiled extension with no wheels for every platform.

The identifier is loaded lazily (about a second, once per process) so ``import rlvr_envs`` stays
light, and it is never restricted with ``set_languages`` (that mutates shared state).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from .registry import instruction

# IFEval's languages (ISO 639-1) with the names its prompts use.
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "es": "Spanish",
    "pt": "Portuguese",
    "ar": "Arabic",
    "hi": "Hindi",
    "fr": "French",
    "ru": "Russian",
    "de": "German",
    "ja": "Japanese",
    "it": "Italian",
    "bn": "Bengali",
    "uk": "Ukrainian",
    "th": "Thai",
    "ur": "Urdu",
    "ta": "Tamil",
    "te": "Telugu",
    "bg": "Bulgarian",
    "ko": "Korean",
    "pl": "Polish",
    "he": "Hebrew",
    "fa": "Persian",
    "vi": "Vietnamese",
    "ne": "Nepali",
    "sw": "Swahili",
    "kn": "Kannada",
    "mr": "Marathi",
    "gu": "Gujarati",
    "pa": "Punjabi",
    "ml": "Malayalam",
    "fi": "Finnish",
}

_LOCK = threading.Lock()


class LanguageIdUnavailable(RuntimeError):
    """The language identifier package is not installed."""


@lru_cache(maxsize=1)
def _identifier() -> Any:
    with _LOCK:
        try:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier
        except ImportError:
            raise LanguageIdUnavailable(
                "language instructions need the 'py3langid' package (pip install py3langid)"
            ) from None
        return LanguageIdentifier.from_model_file(MODEL_FILE)


def known_languages() -> frozenset[str]:
    """Language codes the identifier can return."""
    return frozenset(_identifier().labels)


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of the language of ``text``; None when it has no letters to judge."""
    if not any(ch.isalpha() for ch in text):
        return None
    label, _score = _identifier().classify(text)
    return str(label)


def _check_language(language: str) -> None:
    if language not in known_languages():
        raise ValueError(f"unknown language code {language!r} (expected an ISO 639-1 code)")


def language_name(code: str) -> str:
    """The English name of an IFEval language code (the code itself for others)."""
    return LANGUAGE_NAMES.get(code, code)


@instruction(
    "language:response_language",
    params={"language": "text"},
    validate=_check_language,
    describe=lambda language: (
        f"Write your entire response in {language_name(language)}; no other language is allowed."
    ),
)
def response_language(response: str, *, language: str) -> bool:
    """The response is written in ``language``."""
    return detect_language(response) == language
