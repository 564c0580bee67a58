"""Any Python function as an agent: ``f(observation) -> str``, or a batched ``f(observations) -> list[str]``.

The one wrapper for functions, used by training rollouts, evaluation and ``python:`` spec strings.
A function may also return ``(text, num_tokens)`` or ``{"text": ..., "num_tokens": ...}`` to
report how many tokens it generated; the completion is then a :class:`Completion`, a ``str`` that
carries the count.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from typing import Any

from .protocol import Observation, SamplingParams, check_observations

_PASSABLE = ("temperature", "top_p", "top_k", "max_new_tokens", "stop", "seed")


class AgentOutputError(TypeError, ValueError):
    """An agent function returned something that is not one completion per sample."""


class Completion(str):
    """A completion text that may carry how many tokens were generated for it."""

    num_tokens: int | None

    def __new__(cls, text: str, num_tokens: int | None = None) -> Completion:
        value = super().__new__(cls, text)
        value.num_tokens = num_tokens
        return value

    def __reduce__(self) -> tuple:
        return (Completion, (str(self), self.num_tokens))


def batched(function: Callable) -> Callable:
    """Mark a function as taking a list of observations and returning a list of completions."""
    function.batched = True  # type: ignore[attr-defined]
    return function


class CallableAgent:
    """Wraps a function; the sampling parameters it declares (or ``**kwargs``) are passed on.

    A parameter is passed when the call (or ``sampling=``) gives it, or when the function requires
    it (no default). Per-observation functions are called once per sample: sample ``k`` of the call
    gets ``seeds[k]`` when the caller gives one seed per sample, else ``seed + k``, so repeated
    samples of one prompt differ reproducibly. A batched function (``batched=True``, or marked with
    :func:`batched`) gets every observation repeated ``n`` times (observation-major) in one call,
    with ``seeds`` (one per entry) when it names that parameter.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        batched: bool | None = None,
        concurrency: int = 1,
        name: str | None = None,
        sampling: SamplingParams | Mapping[str, Any] | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"CallableAgent needs a callable, got {type(fn).__name__}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.fn, self.concurrency = fn, concurrency
        self.batched = bool(getattr(fn, "batched", False)) if batched is None else batched
        self.name = name or getattr(fn, "__qualname__", None) or repr(fn)
        self.default_sampling = SamplingParams.build(sampling)
        if isinstance(sampling, SamplingParams):
            self._configured = {f.name for f in fields(SamplingParams)}
        else:
            self._configured = {SamplingParams.alias(k) for k in dict(sampling or {})}
        try:
            parameters = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):  # some builtins have no signature
            parameters = []
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
        named = {
            p.name: p
            for p in parameters
            if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        }
        self._accepted = tuple(k for k in _PASSABLE if takes_any or k in named)
        self._required = {
            k for k in self._accepted if k in named and named[k].default is named[k].empty
        }
        self._takes_seeds = takes_any or "seeds" in named

    def __repr__(self) -> str:
        return f"CallableAgent({self.name})"

    def act(
        self,
        observations: Sequence[Observation],
        *,
        seeds: Sequence[int] | None = None,
        **sampling: Any,
    ) -> list[str]:
        """Completion texts, observation-major with ``n`` samples each (``seeds``: one per sample)."""
        batch = check_observations(observations)
        params = SamplingParams.build(self.default_sampling, **sampling)
        repeated = [obs for obs in batch for _ in range(params.n)]
        if seeds is None:
            seeds = [None if params.seed is None else params.seed + k for k in range(len(repeated))]
        elif len(seeds) != len(repeated):
            raise ValueError(f"got {len(seeds)} seeds for {len(repeated)} completions")
        given = self._configured | {SamplingParams.alias(k) for k in sampling}
        if seeds and seeds[0] is not None:
            given.add("seed")
        kwargs = {
            k: getattr(params, k) for k in self._accepted if k in given or k in self._required
        }
        if self.batched:
            return self._batched(repeated, list(seeds), kwargs)

        def call(k: int) -> str:
            extra = dict(kwargs)
            if "seed" in self._accepted and seeds[k] is not None:
                extra["seed"] = seeds[k]
            return self._completion(k, self.fn(repeated[k], **extra))

        if self.concurrency == 1 or len(repeated) <= 1:
            return [call(k) for k in range(len(repeated))]
        with ThreadPoolExecutor(min(self.concurrency, len(repeated))) as pool:
            return list(pool.map(call, range(len(repeated))))

    def _batched(
        self, repeated: list[Observation], seeds: list[int | None], kwargs: dict[str, Any]
    ) -> list[str]:
        if seeds and seeds[0] is not None:
            if "seed" in self._accepted:
                kwargs["seed"] = seeds[0]
            if self._takes_seeds:
                kwargs["seeds"] = seeds
        answers = self.fn(repeated, **kwargs)
        if (
            isinstance(answers, str)
            or not isinstance(answers, Sequence)
            or len(answers) != len(repeated)
        ):
            got = type(answers).__name__
            if isinstance(answers, Sequence) and not isinstance(answers, str):
                got = f"{len(answers)} completions"
            raise AgentOutputError(
                f"batched agent function {self.name} returned {got} for {len(repeated)} "
                f"observations; it must return a list of {len(repeated)} strings"
            )
        return [self._completion(i, a) for i, a in enumerate(answers)]

    def _completion(self, index: int, answer: Any) -> str:
        if isinstance(answer, str):
            return answer
        if isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[0], str):
            return Completion(answer[0], None if answer[1] is None else int(answer[1]))
        if isinstance(answer, Mapping) and isinstance(answer.get("text"), str):
            tokens = answer.get("num_tokens")
            return Completion(answer["text"], None if tokens is None else int(tokens))
        raise AgentOutputError(
            f"agent function {self.name} returned {type(answer).__name__} for sample {index}; "
            "it must return a str, (text, num_tokens) or {'text': ..., 'num_tokens': ...}"
        )
