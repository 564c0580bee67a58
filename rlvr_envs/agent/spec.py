"""The one agent spec parser: ``python:module:function``, ``hf:PATH_OR_ID``, ``openai:MODEL@BASE_URL``.

``python:`` is built in: ``python:package.module:name`` or ``python:path/to/file.py:name`` names a
function (wrapped in :class:`~rlvr_envs.agent.callable.CallableAgent`), an object with an ``act``
method, or a class whose instances have one (constructed with the agent kwargs).

Other kinds come from plugins (:mod:`rlvr_envs.plugins`): the ``agents`` package registers ``hf``
and ``openai`` with :func:`register_agent_kind`, so this layer never imports it. A kind that no
plugin registered yet makes the parser load the plugins once, then say which package to install.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .callable import CallableAgent

AgentFactory = Callable[..., Any]  # factory(rest_of_the_spec, **kwargs) -> agent

_KINDS: dict[str, AgentFactory] = {}
_EXPECTED = "hf:PATH_OR_ID, openai:MODEL@BASE_URL or python:module:function"


class AgentSpecError(ValueError):
    """An agent spec cannot be turned into an agent; the message says why."""


def register_agent_kind(kind: str, factory: AgentFactory) -> None:
    """Make ``kind:REST`` specs build agents with ``factory(REST, **kwargs)``."""
    if not kind.isidentifier() or kind == "python":
        raise ValueError(f"bad agent kind {kind!r}: a Python identifier other than 'python'")
    _KINDS[kind] = factory


def agent_kinds() -> list[str]:
    """The spec kinds known now (``python`` and those registered by plugins)."""
    return ["python", *sorted(_KINDS)]


def from_spec(spec: str, **kwargs: Any) -> Any:
    """The agent a spec string names; ``kwargs`` go to its constructor.

    - ``python:module:name`` / ``python:path/to/file.py:name``: an object with ``act`` as is, a
      class instantiated with ``kwargs``, a function wrapped in :class:`CallableAgent`;
    - ``hf:Qwen/Qwen2.5-0.5B-Instruct`` or ``hf:/path/to/checkpoint``: a Hugging Face model;
    - ``openai:MODEL@http://host:8000/v1``: an OpenAI-compatible server (without ``@URL``, the
      base URL is ``$OPENAI_BASE_URL``, else ``http://127.0.0.1:8000/v1``).
    """
    if not isinstance(spec, str):
        raise TypeError(f"an agent spec is a string, got {type(spec).__name__}")
    kind, sep, rest = spec.partition(":")
    kind, rest = kind.strip().lower(), rest.strip()
    if not sep or not kind.isidentifier():
        raise AgentSpecError(f"unknown agent spec {spec!r}; use {_EXPECTED}")
    if not rest:
        raise AgentSpecError(f"bad agent spec {spec!r}: nothing after '{kind}:'; use {_EXPECTED}")
    if kind == "python":
        return _python_agent(import_target(rest), kwargs)
    factory = _KINDS.get(kind)
    if factory is None:
        from ..plugins import load_plugins, plugin_errors

        load_plugins()
        factory = _KINDS.get(kind)
        if factory is None:
            failed = "; ".join(f"{name}: {error}" for name, error in plugin_errors().items())
            raise AgentSpecError(
                f"unknown agent spec {spec!r}; use {_EXPECTED} (hf: and openai: agents come "
                "with the agents package and its extras: pip install 'rlvr-envs[agents]')"
                + (f"; plugins that failed to load: {failed}" if failed else "")
            )
    return factory(rest, **kwargs)


def resolve_agent(agent: Any, **kwargs: Any) -> Any:
    """An object with ``act`` from a spec string, an agent object, a class or a function."""
    if isinstance(agent, str):
        return from_spec(agent, **kwargs)
    return _python_agent(agent, kwargs)


def _python_agent(obj: Any, kwargs: dict[str, Any]) -> Any:
    if has_act(obj):
        if kwargs:
            raise AgentSpecError("agent keyword arguments can only be given with a spec string")
        return obj
    if isinstance(obj, type):
        instance = obj(**kwargs)
        if not has_act(instance):
            raise AgentSpecError(f"instances of {obj.__name__} have no act() method")
        return instance
    if callable(obj):
        try:
            return CallableAgent(obj, **kwargs)
        except TypeError as error:
            raise AgentSpecError(f"bad options for a function agent: {error}") from None
    raise AgentSpecError(
        f"an agent must be a spec string, an object with act(), a class or a function; "
        f"got {type(obj).__name__}"
    )


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
