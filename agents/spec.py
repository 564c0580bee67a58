"""Build an agent from a spec string: ``hf:PATH_OR_ID``, ``openai:MODEL@BASE_URL``, ``python:module:function``."""

from __future__ import annotations

import os
from typing import Any

from .base import Agent

SPEC_KINDS = ("hf", "openai", "python")


def from_spec(spec: str, **kwargs: Any) -> Agent:
    """An agent for ``spec``; ``kwargs`` go to the agent's constructor.

    - ``hf:Qwen/Qwen2.5-0.5B-Instruct`` or ``hf:/path/to/checkpoint``: :class:`HFAgent`;
    - ``openai:MODEL@http://host:8000/v1``: :class:`OpenAIAgent` (without ``@URL`` the base URL is
      ``$OPENAI_BASE_URL``, else ``http://127.0.0.1:8000/v1``);
    - ``python:package.module:function`` or ``python:path/to/file.py:function``: the object found
      there, used as is when it already has ``act``, otherwise wrapped in :class:`CallableAgent`.
    """
    if not isinstance(spec, str):
        raise TypeError(f"an agent spec is a string, got {type(spec).__name__}")
    kind, sep, rest = spec.partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in SPEC_KINDS or not rest.strip():
        raise ValueError(
            f"bad agent spec {spec!r}; expected hf:PATH_OR_ID, openai:MODEL@BASE_URL or python:module:function"
        )
    rest = rest.strip()
    if kind == "hf":
        from .hf import HFAgent

        return HFAgent(rest, **kwargs)
    if kind == "openai":
        from .openai_agent import OpenAIAgent

        model, base_url = _split_model_url(rest)
        if base_url is None:
            base_url = kwargs.pop("base_url", None) or os.environ.get(
                "OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"
            )
        if not model:
            raise ValueError(f"bad agent spec {spec!r}: no model name before '@'")
        return OpenAIAgent(model, base_url, **kwargs)
    return _python_agent(spec, rest, kwargs)


def _split_model_url(rest: str) -> tuple[str, str | None]:
    # Model ids may contain ':' and '/', and URLs may contain '@' (user info): split at the '@'
    # that starts the URL.
    for marker in ("@http://", "@https://"):
        at = rest.find(marker)
        if at >= 0:
            return rest[:at], rest[at + 1 :]
    if "@" in rest:
        model, _, url = rest.rpartition("@")
        return model, url if "://" in url else f"http://{url}"
    return rest, None


def _python_agent(spec: str, target: str, kwargs: dict[str, Any]) -> Agent:
    from rlvr_envs.evaluation.agent_spec import has_act, import_target

    from .callable_agent import CallableAgent

    obj = import_target(target)
    if has_act(obj):
        return obj
    if not callable(obj):
        raise ValueError(f"agent spec {spec!r}: {target.rpartition(':')[2]!r} is not callable")
    return CallableAgent(obj, **kwargs)
