"""Any Python function as an agent: ``f(observation) -> str``, or a batched ``f(observations) -> list[str]``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .base import Observation, SamplingParams, check_observations

_PASSABLE = ("temperature", "top_p", "top_k", "max_new_tokens", "stop", "seed")


class CallableAgent:
    """Wraps a function; sampling parameters the function declares (or ``**kwargs``) are passed on.

    Per-observation functions are called once per sample; with a ``seed``, sample ``k`` of the
    whole call gets ``seed + k`` so that repeated samples of one prompt may differ reproducibly.
    A batched function gets every observation repeated ``n`` times (observation-major) in one call.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        batched: bool = False,
        concurrency: int = 1,
        name: str | None = None,
        sampling: SamplingParams | Mapping[str, Any] | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"CallableAgent needs a callable, got {type(fn).__name__}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.fn, self.batched, self.concurrency = fn, batched, concurrency
        self.name = name or getattr(fn, "__qualname__", None) or repr(fn)
        self.default_sampling = SamplingParams.build(sampling)
        try:
            parameters = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):  # some builtins have no signature
            parameters = []
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
        names = {p.name for p in parameters}
        self._accepted = tuple(k for k in _PASSABLE if takes_any or k in names)

    def __repr__(self) -> str:
        return f"CallableAgent({self.name})"

    def act(self, observations: Sequence[Observation], **sampling: Any) -> list[str]:
        """Completion texts, observation-major with ``n`` samples each."""
        batch = check_observations(observations)
        params = SamplingParams.build(self.default_sampling, **sampling)
        kwargs = {k: getattr(params, k) for k in self._accepted}
        repeated = [obs for obs in batch for _ in range(params.n)]
        if self.batched:
            answers = self.fn(repeated, **kwargs)
            if (
                isinstance(answers, str)
                or not isinstance(answers, Sequence)
                or len(answers) != len(repeated)
            ):
                got = type(answers).__name__
                if isinstance(answers, Sequence) and not isinstance(answers, str):
                    got += f" of length {len(answers)}"
                raise TypeError(
                    f"batched agent function {self.name} must return a list of {len(repeated)} strings, got {got}"
                )
            return [self._check(i, a) for i, a in enumerate(answers)]

        def call(k: int) -> str:
            extra = dict(kwargs)
            if params.seed is not None and "seed" in extra:
                extra["seed"] = params.seed + k
            return self._check(k, self.fn(repeated[k], **extra))

        if self.concurrency == 1 or len(repeated) <= 1:
            return [call(k) for k in range(len(repeated))]
        with ThreadPoolExecutor(min(self.concurrency, len(repeated))) as pool:
            return list(pool.map(call, range(len(repeated))))

    def _check(self, index: int, answer: Any) -> str:
        if not isinstance(answer, str):
            raise TypeError(
                f"agent function {self.name} returned {type(answer).__name__} for sample {index}; it must return a str"
            )
        return answer
