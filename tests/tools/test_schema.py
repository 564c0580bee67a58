"""Tool schemas from type hints and docstrings, the registry, and argument checks."""

from __future__ import annotations

from typing import Literal

import pytest

from rlvr_envs.tools import (
    SchemaError,
    Tool,
    ToolContext,
    get_tool,
    list_tools,
    resolve_tools,
    tool,
)
from rlvr_envs.tools.registry import _TOOLS


def describe(
    value: float,
    unit: Literal["m", "km"] = "m",
    tags: list[str] | None = None,
    extra: dict[str, int] | None = None,
    exact: bool = False,
    count: int = 1,
) -> str:
    """Describe a measurement.

    Longer text that wraps
    onto a second line.

    Args:
        value: The measured value,
            in the given unit.
        unit (str): The unit.
        tags: Labels.

    Returns:
        A sentence.
    """
    return f"{value} {unit}"


def test_schema_from_hints_and_google_docstring() -> None:
    schema = Tool.from_function(describe).schema
    assert schema["type"] == "function"
    fn = schema["function"]
    assert fn["name"] == "describe"
    assert fn["description"] == "Describe a measurement. Longer text that wraps onto a second line."
    params = fn["parameters"]
    assert params["required"] == ["value"]
    props = params["properties"]
    assert props["value"] == {
        "type": "number",
        "description": "The measured value, in the given unit.",
    }
    assert props["unit"] == {
        "type": "string",
        "enum": ["m", "km"],
        "description": "The unit.",
        "default": "m",
    }
    assert props["tags"] == {
        "type": "array",
        "items": {"type": "string"},
        "nullable": True,
        "description": "Labels.",
    }
    assert props["extra"] == {
        "type": "object",
        "additionalProperties": {"type": "integer"},
        "nullable": True,
    }
    assert props["exact"] == {"type": "boolean", "default": False}
    assert props["count"] == {"type": "integer", "default": 1}


def test_argument_checks() -> None:
    t = Tool.from_function(describe)
    assert t.check({"value": 3}) is None
    assert t.check({"value": 2.5, "unit": "km", "tags": ["a"], "extra": {"x": 1}}) is None
    assert "missing required argument(s): value" in t.check({})
    assert "unknown argument(s): colour" in t.check({"value": 1, "colour": "red"})
    assert "must be a number" in t.check({"value": "3"})
    assert "must be a number" in t.check({"value": True})  # a bool is not a number here
    assert "must be one of" in t.check({"value": 1, "unit": "mile"})
    assert "tags" in t.check({"value": 1, "tags": [1]})
    assert "must be an integer" in t.check({"value": 1, "count": 1.5})
    assert "JSON object" in t.check(["value", 1])


def test_tools_that_cannot_be_described_are_refused() -> None:
    def no_hint(x) -> str:  # noqa: ANN001
        """Doc."""

    def no_doc(x: int) -> str:
        return ""

    def star(*args: int) -> str:
        """Doc."""

    def odd(x: set) -> str:
        """Doc."""

    for fn, match in (
        (no_hint, "needs a type hint"),
        (no_doc, "needs a description"),
        (star, r"\*args"),
        (odd, "unsupported type"),
    ):
        with pytest.raises(SchemaError, match=match):
            Tool.from_function(fn)
    with pytest.raises(ValueError, match="tool name"):
        Tool.from_function(describe, name="bad name!")


def test_context_parameter_is_injected_not_described() -> None:
    def peek(key: str, context: ToolContext) -> str:
        """Read episode state.

        Args:
            key: Which entry.
        """
        return str(context.state.get(key))

    t = Tool.from_function(peek)
    assert list(t.parameters["properties"]) == ["key"] and t.context_parameter == "context"
    ctx = ToolContext()
    ctx.state["k"] = 7
    assert t.invoke({"key": "k"}, ctx) == "7"


def test_decorator_registers_and_names_must_be_unique() -> None:
    try:

        @tool
        def shout_test_tool(text: str) -> str:
            """Shout.

            Args:
                text: What to shout.
            """
            return text.upper()

        assert isinstance(shout_test_tool, Tool)
        assert shout_test_tool("hi") == "HI"  # still callable as the function
        assert get_tool("shout_test_tool") is shout_test_tool
        assert "shout_test_tool" in list_tools() and "python" in list_tools()

        with pytest.raises(ValueError, match="already registered"):

            @tool(name="shout_test_tool")
            def other(text: str) -> str:
                """Other."""
                return text

        @tool(name="shout_test_tool", replace=True, description="Whisper instead.")
        def whisper(text: str) -> str:
            return text.lower()

        assert get_tool("shout_test_tool").description == "Whisper instead."
    finally:
        _TOOLS.pop("shout_test_tool", None)
    with pytest.raises(KeyError, match="no tool named"):
        get_tool("shout_test_tool")


def test_resolve_tools() -> None:
    tools = resolve_tools(["calculator", describe])
    assert [t.name for t in tools] == ["calculator", "describe"]
    assert resolve_tools("calculator")[0].name == "calculator"
    with pytest.raises(ValueError, match="unique"):
        resolve_tools(["calculator", "calculator"])
    with pytest.raises(ValueError, match="at least one"):
        resolve_tools([])
    with pytest.raises(TypeError, match="a tool is"):
        resolve_tools([3])
