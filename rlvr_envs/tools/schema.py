"""A function's JSON schema (OpenAI function-calling format) from its type hints and docstring,
and the argument check that schema implies.

Supported parameter types: ``str``, ``int``, ``float``, ``bool``, ``list[...]``, ``dict[str, ...]``,
``Literal[...]`` and ``X | None``; a parameter with a default is optional. Descriptions come from
a Google-style docstring: the text before the sections describes the function, and each
``name: text`` (or ``name (type): text``) line under ``Args:`` describes a parameter.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean"}
_SECTION = re.compile(
    r"^\s*(Args|Arguments|Parameters|Returns|Raises|Yields|Examples?|Notes?):\s*$"
)
_ARG_LINE = re.compile(r"^\s*(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


class SchemaError(TypeError):
    """A function cannot be described as a tool (an unsupported type, a missing hint)."""


def type_schema(hint: Any, where: str) -> dict[str, Any]:
    """The JSON schema of one type hint."""
    if hint in _SIMPLE:
        return {"type": _SIMPLE[hint]}
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Literal:
        kinds = {type(a) for a in args}
        if len(kinds) != 1 or next(iter(kinds)) not in _SIMPLE:
            raise SchemaError(f"{where}: Literal values must all be of one simple type")
        return {"type": _SIMPLE[next(iter(kinds))], "enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and len(args) == 2:
            return {**type_schema(rest[0], where), "nullable": True}
        raise SchemaError(f"{where}: only 'X | None' unions are supported, not {hint!r}")
    if hint is list or origin is list:
        schema: dict[str, Any] = {"type": "array"}
        if args:
            schema["items"] = type_schema(args[0], where)
        return schema
    if hint is dict or origin is dict:
        schema = {"type": "object"}
        if args and args[0] is not str:
            raise SchemaError(f"{where}: dict keys must be str")
        if len(args) == 2:
            schema["additionalProperties"] = type_schema(args[1], where)
        return schema
    raise SchemaError(f"{where}: unsupported type {hint!r} (use str, int, float, bool, list, dict)")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """The description and the per-argument descriptions of a Google-style docstring."""
    lines = inspect.cleandoc(doc or "").splitlines()
    description: list[str] = []
    params: dict[str, str] = {}
    section = None
    current = None
    base = None  # the indentation of argument lines; deeper lines continue a description
    for line in lines:
        match = _SECTION.match(line)
        if match:
            section, current, base = match.group(1).lower(), None, None
            continue
        if section is None:
            description.append(line)
        elif section in ("args", "arguments", "parameters") and line.strip():
            arg = _ARG_LINE.match(line)
            if arg and (base is None or _indent(line) <= base):
                base = _indent(line) if base is None else base
                current = arg.group(1).lstrip("*")
                params[current] = arg.group(2).strip()
            elif current is not None:
                params[current] = f"{params[current]} {line.strip()}".strip()
    text = " ".join(" ".join(description).split())
    return text, params


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def function_schema(
    function: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    skip: Callable[[str, Any], bool] = lambda name, hint: False,
) -> dict[str, Any]:
    """The OpenAI function-calling schema ``{"type": "function", "function": {...}}``.

    ``skip(name, hint)`` leaves a parameter out of the schema (e.g. one the caller injects).
    """
    label = name or getattr(function, "__name__", "tool")
    try:
        hints = typing.get_type_hints(function)
    except Exception as exc:
        raise SchemaError(f"tool {label!r}: cannot resolve its type hints: {exc}") from exc
    summary, arg_docs = parse_docstring(inspect.getdoc(function))
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in inspect.signature(function).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise SchemaError(f"tool {label!r}: *args and **kwargs cannot be described")
        hint = hints.get(param.name, param.annotation)
        if skip(param.name, hint):
            continue
        if hint is inspect.Parameter.empty:
            raise SchemaError(f"tool {label!r}: parameter {param.name!r} needs a type hint")
        prop = type_schema(hint, f"tool {label!r}, parameter {param.name!r}")
        if param.name in arg_docs:
            prop["description"] = arg_docs[param.name]
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
        elif param.default is not None:
            prop["default"] = param.default
        properties[param.name] = prop
    text = description if description is not None else summary
    if not text:
        raise SchemaError(f"tool {label!r} needs a description (a docstring)")
    return {
        "type": "function",
        "function": {
            "name": label,
            "description": text,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


def check_value(value: Any, schema: Mapping[str, Any], where: str) -> str | None:
    """Why ``value`` does not fit ``schema`` (the subset :func:`type_schema` writes), or None."""
    if value is None:
        return None if schema.get("nullable") else f"{where} must not be null"
    kind = schema.get("type")
    if "enum" in schema and value not in schema["enum"]:
        return f"{where} must be one of {schema['enum']}, got {value!r:.80}"
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
    }
    if kind in checks and not checks[kind](value):
        return f"{where} must be a{'n' if kind in ('integer', 'array', 'object') else ''} {kind}, got {type(value).__name__}"
    if kind == "array" and "items" in schema:
        for i, item in enumerate(value):
            problem = check_value(item, schema["items"], f"{where}[{i}]")
            if problem:
                return problem
    if kind == "object" and "additionalProperties" in schema:
        for key, item in value.items():
            problem = check_value(item, schema["additionalProperties"], f"{where}[{key!r}]")
            if problem:
                return problem
    return None


def check_arguments(arguments: Any, parameters: Mapping[str, Any]) -> str | None:
    """Why ``arguments`` do not fit a tool's parameter schema (missing, unknown, mistyped), or None."""
    if not isinstance(arguments, dict):
        return f"arguments must be a JSON object, got {type(arguments).__name__}"
    properties = parameters.get("properties", {})
    missing = [name for name in parameters.get("required", []) if name not in arguments]
    if missing:
        return f"missing required argument(s): {', '.join(missing)}"
    unknown = [name for name in arguments if name not in properties]
    if unknown:
        return f"unknown argument(s): {', '.join(map(str, unknown))}; expected: {', '.join(properties)}"
    for name, value in arguments.items():
        problem = check_value(value, properties[name], f"argument {name!r}")
        if problem:
            return problem
    return None
