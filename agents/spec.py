"""Build an agent from a spec string: ``hf:PATH_OR_ID``, ``openai:MODEL@BASE_URL``, ``python:module:function``."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
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
    from .callable_agent import CallableAgent

    module_name, sep, attr_path = target.rpartition(":")
    if not sep or not module_name or not attr_path:
        raise ValueError(f"bad agent spec {spec!r}; expected python:module:function")
    if module_name.endswith(".py") or os.sep in module_name:
        path = Path(module_name)
        if not path.is_file():
            raise ValueError(f"agent spec {spec!r}: no file {path}")
        name = f"_rlvr_agent_{abs(hash(str(path.resolve())))}"
        loader_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(loader_spec)  # type: ignore[arg-type]
        sys.modules[name] = module
        loader_spec.loader.exec_module(module)  # type: ignore[union-attr]
    else:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ValueError(f"agent spec {spec!r}: cannot import {module_name!r}: {exc}") from exc
    obj: Any = module
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise ValueError(
                f"agent spec {spec!r}: {module_name!r} has no attribute {attr_path!r}"
            ) from exc
    if callable(getattr(obj, "act", None)) and not isinstance(obj, type):
        return obj
    if not callable(obj):
        raise ValueError(f"agent spec {spec!r}: {attr_path!r} is not callable")
    return CallableAgent(obj, **kwargs)
