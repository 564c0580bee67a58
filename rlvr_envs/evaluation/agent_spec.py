"""Agents for evaluation: from a spec string, a Python callable, or any object with ``act``.

- ``hf:PATH_OR_ID`` and ``openai:MODEL@BASE_URL`` are built by the ``agents`` package
  (``agents.from_spec``), imported only when such a spec is used.
- ``python:module:name`` (or ``python:path/to/file.py:name``) names a function, an object with an
  ``act`` method, or a class whose instances have one (constructed with the agent kwargs).

A function is wrapped by :class:`FunctionAgent`: ``f(observation) -> str`` is called once per
sample; a function marked with :func:`batched` receives the whole list of observations (each
repeated ``n`` times, observation-major) and returns one completion per entry. Either may accept
sampling keywords (``temperature``, ``seed``, ...) and receives those it names. A function may
return ``(text, num_tokens)`` or ``{"text": ..., "num_tokens": ...}`` to report exact token counts.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

SPEC_PREFIXES = ("hf:", "openai:", "python:")


class AgentSpecError(ValueError):
    """An agent spec cannot be turned into an agent; the message says why."""


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


def _as_completion(value: Any, where: str) -> Completion:
    if isinstance(value, Completion):
        return value
    if isinstance(value, str):
        return Completion(value)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return Completion(value[0], None if value[1] is None else int(value[1]))
    if isinstance(value, Mapping) and isinstance(value.get("text"), str):
        tokens = value.get("num_tokens")
        return Completion(value["text"], None if tokens is None else int(tokens))
    raise TypeError(
        f"{where} must return a str, (text, num_tokens) or {{'text', 'num_tokens'}}, "
        f"got {type(value).__name__}"
    )


class FunctionAgent:
    """An agent around a plain function (see the module docstring for the calling convention)."""

    def __init__(self, function: Callable[..., Any], *, name: str | None = None) -> None:
        if not callable(function):
            raise TypeError(f"expected a callable, got {type(function).__name__}")
        self.function = function
        self.name = name or getattr(function, "__qualname__", repr(function))
        self.batched = bool(getattr(function, "batched", False))
        try:
            parameters = inspect.signature(function).parameters.values()
        except (TypeError, ValueError):
            parameters = []
        self._takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
        self._accepts = {
            p.name
            for p in parameters
            if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        }

    def _keywords(self, sampling: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in sampling.items() if self._takes_any or k in self._accepts}

    def act(
        self,
        observations: Sequence[Any],
        *,
        n: int = 1,
        seed: int | None = None,
        seeds: Sequence[int] | None = None,
        **sampling: Any,
    ) -> list[str]:
        """One completion per observation and sample (observation-major)."""
        if isinstance(observations, str):
            raise TypeError("act() takes a list of observations; wrap a single prompt as [prompt]")
        total = len(observations) * n
        if seeds is None:
            seeds = [None if seed is None else seed + i for i in range(total)]
        elif len(seeds) != total:
            raise ValueError(f"got {len(seeds)} seeds for {total} completions")
        expanded = [obs for obs in observations for _ in range(n)]
        if self.batched:
            keywords = self._keywords({**sampling, "seeds": list(seeds), "seed": seeds[0]})
            results = list(self.function(expanded, **keywords))
            if len(results) != total:
                raise ValueError(
                    f"{self.name} returned {len(results)} completions for {total} observations"
                )
            return [_as_completion(r, self.name) for r in results]
        return [
            _as_completion(self.function(obs, **self._keywords({**sampling, "seed": s})), self.name)
            for obs, s in zip(expanded, seeds)
        ]

    def __repr__(self) -> str:
        return f"FunctionAgent({self.name})"


def import_target(target: str) -> Any:
    """``module:attr`` or ``path/to/file.py:attr`` to the named object (``attr`` may be dotted)."""
    module_name, sep, attr_path = target.rpartition(":")
    if not sep or not module_name or not attr_path:
        raise AgentSpecError(f"bad agent spec 'python:{target}': expected 'python:module:function'")
    if module_name.endswith(".py") or os.sep in module_name or "/" in module_name:
        path = Path(module_name).expanduser().resolve()
        if not path.is_file():
            raise AgentSpecError(f"python agent file not found: {path}")
        # Named by the whole path, so two agents.py files in different folders both load.
        name = f"_rlvr_agent_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:12]}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[name] = module
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    else:
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise AgentSpecError(
                f"cannot import module {module_name!r} for agent 'python:{target}': {error}"
            ) from error
    obj: Any = module
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AgentSpecError(f"module {module_name!r} has no attribute {attr_path!r}") from None
    return obj


def has_act(obj: Any) -> bool:
    """True for objects that follow the agent protocol (a callable ``act``)."""
    return callable(getattr(obj, "act", None)) and not isinstance(obj, type)


def resolve_agent(agent: Any, **kwargs: Any) -> Any:
    """An object with ``act`` from a spec string, an agent object, a class or a function."""
    if has_act(agent):
        if kwargs:
            raise AgentSpecError("agent keyword arguments can only be given with a spec string")
        return agent
    if isinstance(agent, str):
        if agent.startswith("python:"):
            return resolve_agent(import_target(agent[len("python:") :]), **kwargs)
        if agent.startswith(("hf:", "openai:")):
            try:
                from agents import from_spec
            except ImportError as error:
                raise AgentSpecError(
                    f"agent {agent!r} needs the agents package and its extras (pip install "
                    f"'rlvr-envs[agents]'); importing it failed: {error}"
                ) from error
            return from_spec(agent, **kwargs)
        raise AgentSpecError(
            f"unknown agent spec {agent!r}; use hf:PATH_OR_ID, openai:MODEL@BASE_URL or "
            "python:module:function"
        )
    if isinstance(agent, type):
        instance = agent(**kwargs)
        if not has_act(instance):
            raise AgentSpecError(f"instances of {agent.__name__} have no act() method")
        return instance
    if callable(agent):
        if kwargs:
            raise AgentSpecError("a function agent takes no keyword arguments")
        return FunctionAgent(agent)
    raise AgentSpecError(
        f"an agent must be a spec string, an object with act(), a class or a function; "
        f"got {type(agent).__name__}"
    )


def describe_agent(agent: Any) -> str:
    """A short name for an agent, for the run record and the report."""
    if isinstance(agent, str):
        return agent
    name = getattr(agent, "name", None)
    if isinstance(name, str):
        return name
    if inspect.isfunction(agent) or inspect.isclass(agent):
        return f"python:{agent.__module__}:{agent.__qualname__}"
    cls = type(agent)
    return f"{cls.__module__}.{cls.__qualname__}"
