"""The tool registry: built-ins by name, user tools with ``@rlvr_envs.tools.tool``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, overload

from .base import Tool

_TOOLS: dict[str, Tool] = {}
_lock = threading.Lock()
_builtins_loaded = False


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        from .builtin import BUILTIN_TOOLS  # python, calculator, run_tests

        for builtin in BUILTIN_TOOLS:
            register_tool(builtin)


def register_tool(item: Tool | Callable[..., Any], *, replace: bool = False) -> Tool:
    """Register a tool (or a function, described from its hints and docstring) under its name."""
    tool_ = item if isinstance(item, Tool) else Tool.from_function(item)
    with _lock:
        existing = _TOOLS.get(tool_.name)
        if existing is not None and existing.function is not tool_.function and not replace:
            raise ValueError(
                f"a tool named {tool_.name!r} is already registered; pass replace=True, or name "
                "yours differently"
            )
        _TOOLS[tool_.name] = tool_
    return tool_


@overload
def tool(function: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *, name: str | None = None, description: str | None = None, replace: bool = False
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    replace: bool = False,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Decorator: describe a function as a tool and register it (``@tool`` or ``@tool(name=...)``).

    The decorated name is the :class:`Tool`, which is still callable as the function.
    """

    def wrap(fn: Callable[..., Any]) -> Tool:
        return register_tool(
            Tool.from_function(fn, name=name, description=description), replace=replace
        )

    return wrap(function) if function is not None else wrap


def get_tool(name: str) -> Tool:
    """The registered tool ``name``."""
    _load_builtins()
    try:
        return _TOOLS[name]
    except KeyError:
        raise KeyError(f"no tool named {name!r}; registered: {sorted(_TOOLS)}") from None


def list_tools() -> list[str]:
    """Names of every registered tool."""
    _load_builtins()
    return sorted(_TOOLS)


def resolve_tools(items: Iterable[str | Tool | Callable[..., Any]]) -> list[Tool]:
    """Tools from names, Tool records or plain functions; names must be unique."""
    if isinstance(items, (str, Tool)) or callable(items):
        items = [items]  # type: ignore[list-item]
    tools: list[Tool] = []
    for item in items:
        if isinstance(item, Tool):
            tools.append(item)
        elif isinstance(item, str):
            tools.append(get_tool(item))
        elif callable(item):
            tools.append(Tool.from_function(item))
        else:
            raise TypeError(f"a tool is a name, a Tool or a function, got {type(item).__name__}")
    names = [t.name for t in tools]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"tool names must be unique, got {duplicates} twice")
    if not tools:
        raise ValueError("give at least one tool")
    return tools
