"""Verifiers: pure functions from a response (and what to check it against) to a :class:`Verdict`.

Each family lives in its own module with a ``verify(response, ...)`` function (``math``, later
``code``, ``format``, ``ifeval``, ``json``). Environments call verifiers through one small
signature, ``verifier(completion, task) -> Verdict``; :func:`get_verifier` builds such a callable
from a registered name, so ``register_dataset_env(..., verifier="math")`` needs no code.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from collections.abc import Callable
from typing import Any, Protocol

from ..tasks import Task
from ..verdict import Status, Verdict


class Verifier(Protocol):
    """The environment-side verifier signature."""

    def __call__(self, completion: str, task: Task) -> Verdict: ...


class AnswerVerifier:
    """Adapts ``verify(response, answer, **options)`` to ``verifier(completion, task)``."""

    def __init__(self, verify: Callable[..., Verdict], name: str, **options: Any) -> None:
        self.verify = verify
        self.name = name
        self.options = options

    def __call__(self, completion: str, task: Task) -> Verdict:
        return self.verify(completion, task.answer, **self.options)

    def __repr__(self) -> str:
        return f"AnswerVerifier({self.name!r}, {self.options!r})"


def as_verdict(result: Any) -> Verdict:
    """Accept a user verifier's ``Verdict``, ``bool`` or number and return a ``Verdict``."""
    if isinstance(result, Verdict):
        return result
    if isinstance(result, bool):
        return Verdict.make(Status.CORRECT if result else Status.WRONG)
    if isinstance(result, (int, float)):
        status = Status.CORRECT if result >= 1.0 else Status.WRONG
        return Verdict.make(status, reward=float(result))
    raise TypeError(
        f"a verifier must return a Verdict, a bool or a number, got {type(result).__name__}"
    )


def _normalise_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().casefold()
    text = re.sub(r"\s+", " ", text)
    return text.strip(" .")


def verify_exact(response: str, answer: Any, *, case_sensitive: bool = False) -> Verdict:
    """Correct when the whole response equals the answer after whitespace/case normalisation."""
    if not isinstance(response, str):
        raise TypeError(f"response must be a str, got {type(response).__name__}")
    expected = str(answer)
    got = response.strip() if case_sensitive else _normalise_text(response)
    want = expected.strip() if case_sensitive else _normalise_text(expected)
    if not got:
        return Verdict.make(Status.NO_ANSWER, "empty response", expected=expected)
    ok = got == want
    return Verdict.make(
        Status.CORRECT if ok else Status.WRONG,
        "exact match" if ok else "differs from the expected text",
        extracted=response.strip(),
        expected=expected,
    )


# name -> "module:factory"; a factory takes keyword options and returns a Verifier.
_REGISTRY: dict[str, str | Callable[..., Verifier]] = {
    "math": "rlvr_envs.verifiers.math:MathVerifier",
    "exact": "rlvr_envs.verifiers:ExactVerifier",
    "code": "rlvr_envs.verifiers.code:CodeVerifier",
    "ifeval": "rlvr_envs.verifiers.ifeval:IFEvalVerifier",
    "json": "rlvr_envs.verifiers.json_output:JSONVerifier",
    "format": "rlvr_envs.verifiers.format:FormatVerifier",
}


def ExactVerifier(**options: Any) -> Verifier:  # noqa: N802 - a factory named like the class it makes
    """Whole-response text match (see :func:`verify_exact`)."""
    return AnswerVerifier(verify_exact, "exact", **options)


def register_verifier(name: str, factory: str | Callable[..., Verifier]) -> None:
    """Make ``factory(**options)`` available as ``get_verifier(name, **options)``."""
    _REGISTRY[name] = factory


def verifier_names() -> list[str]:
    """Names accepted by :func:`get_verifier`."""
    return sorted(_REGISTRY)


def get_verifier(spec: str | Verifier, **options: Any) -> Verifier:
    """A verifier from a registered name (with options) or a callable passed through."""
    if callable(spec) and not isinstance(spec, str):
        if options:
            raise TypeError("options can only be given with a verifier name")
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"verifier must be a name or a callable, got {type(spec).__name__}")
    try:
        factory = _REGISTRY[spec]
    except KeyError:
        raise ValueError(
            f"unknown verifier {spec!r}; known: {', '.join(verifier_names())}"
        ) from None
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module), attr)
    return factory(**options)
