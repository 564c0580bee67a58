"""Tool variants of the main environments: the same tasks and verifiers behind a
:class:`~rlvr_envs.wrappers.ToolUse` wrapper.

Each factory takes the wrapped environment's keyword arguments plus the wrapper's (``tools``,
``max_tool_calls``, ``parser``, ``max_output_chars``, ``max_argument_bytes``, ``call_penalty``,
``sandbox``, ``session_limits``, ``max_sessions``, ``demonstrate``), e.g.
``gymnasium.make("rlvr/Arithmetic-Python-v1", level=4, tools=["calculator"], chat=True)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from ..tasks import Task
from ..wrappers.tool_use import ToolUse
from . import code, math

TOOL_OPTIONS = (
    "demonstrate",
    "max_tool_calls",
    "parser",
    "max_output_chars",
    "max_argument_bytes",
    "call_penalty",
    "sandbox",
    "session_limits",
    "max_sessions",
)

TOOL_MATH_TEMPLATE = (
    "{prompt}\n\nUse the tools to compute exactly, then put your final answer within \\boxed{}."
)
TOOL_CODE_TEMPLATE = (
    "{prompt}\nYour code should pass this test:\n\n{example}\n\n"
    "You can run your code and the test with the tools first. Then answer with the complete "
    "Python code in a single ```python code block."
)


def with_tools(
    make: Callable[..., Any],
    default_tools: Sequence[str],
    env_kwargs: dict[str, Any],
    *,
    max_tool_calls: int = 8,
    shared: Sequence[str] = (),
) -> ToolUse:
    """``make(**env_kwargs)`` wrapped in :class:`ToolUse`: tool options are taken out of the
    kwargs, except the ``shared`` ones, which the wrapped environment takes too."""
    tools = env_kwargs.pop("tools", default_tools)
    if isinstance(tools, str):
        tools = [t.strip() for t in tools.split(",") if t.strip()]
    options: dict[str, Any] = {"max_tool_calls": max_tool_calls}
    for name in TOOL_OPTIONS:
        if name in env_kwargs:
            options[name] = env_kwargs[name] if name in shared else env_kwargs.pop(name)
    return ToolUse(make(**env_kwargs), tools=tools, **options)


def tool_call_text(name: str, arguments: dict[str, Any]) -> str:
    """A call as a model writes it (and as tool-capable chat templates render it)."""
    payload = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
    return f"<tool_call>\n{payload}\n</tool_call>"


def arithmetic_demonstration(task: Task, tools: Sequence[str]) -> list[str] | None:
    """Compute the question's expression with a tool, then answer with the result."""
    expression = task.metadata.get("expression")
    if not isinstance(expression, str):
        return None
    if "calculator" in tools:
        call = tool_call_text("calculator", {"expression": expression})
    elif "python" in tools:
        call = tool_call_text("python", {"code": f"print({expression})"})
    else:
        return None
    return [call, f"\\boxed{{{task.answer}}}"]


def arithmetic_python(**env_kwargs: Any) -> ToolUse:
    """``rlvr/Arithmetic-Python-v1``: multi-digit arithmetic (level 6 by default) with ``python``."""
    env_kwargs.setdefault("level", math.MULTIDIGIT_LEVEL)
    env_kwargs.setdefault("template", TOOL_MATH_TEMPLATE)
    env_kwargs.setdefault("demonstrate", arithmetic_demonstration)
    return with_tools(math.arithmetic, ["python"], env_kwargs, max_tool_calls=4)


def arithmetic_calculator(**env_kwargs: Any) -> ToolUse:
    """``rlvr/Arithmetic-Calculator-v1``: multi-digit arithmetic with the exact ``calculator``."""
    env_kwargs.setdefault("level", math.MULTIDIGIT_LEVEL)
    env_kwargs.setdefault("template", TOOL_MATH_TEMPLATE)
    env_kwargs.setdefault("demonstrate", arithmetic_demonstration)
    return with_tools(math.arithmetic, ["calculator"], env_kwargs, max_tool_calls=4)


def gsm8k_python(**env_kwargs: Any) -> ToolUse:
    """``rlvr/GSM8K-Python-v1``: GSM8K word problems with ``python``."""
    env_kwargs.setdefault("template", TOOL_MATH_TEMPLATE)
    return with_tools(math.gsm8k, ["python"], env_kwargs)


def math500_python(**env_kwargs: Any) -> ToolUse:
    """``rlvr/MATH500-Python-v1``: MATH-500 with ``python``."""
    env_kwargs.setdefault("template", TOOL_MATH_TEMPLATE)
    return with_tools(math.math500, ["python"], env_kwargs)


def mbpp_tests(**env_kwargs: Any) -> ToolUse:
    """``rlvr/MBPP-Tests-v0``: MBPP with ``python`` and ``run_tests`` (the example test only)."""
    env_kwargs.setdefault("template", TOOL_CODE_TEMPLATE)
    # One sandbox backend for the tools and the verifier.
    return with_tools(code.mbpp, ["python", "run_tests"], env_kwargs, shared=("sandbox",))


# id, entry point, category, tasks, description
TOOL_ENVS: list[tuple[str, str, str, str, str]] = [
    (
        "rlvr/Arithmetic-Python-v1",
        "rlvr_envs.envs.tools:arithmetic_python",
        "math",
        "procedural",
        "Multi-digit arithmetic (level 6) with a stateful sandboxed python tool",
    ),
    (
        "rlvr/Arithmetic-Calculator-v1",
        "rlvr_envs.envs.tools:arithmetic_calculator",
        "math",
        "procedural",
        "Multi-digit arithmetic (level 6) with an exact calculator tool",
    ),
    (
        "rlvr/GSM8K-Python-v1",
        "rlvr_envs.envs.tools:gsm8k_python",
        "math",
        "1319",
        "GSM8K word problems with a stateful sandboxed python tool",
    ),
    (
        "rlvr/MATH500-Python-v1",
        "rlvr_envs.envs.tools:math500_python",
        "math",
        "500",
        "MATH-500 with a stateful sandboxed python tool",
    ),
    (
        "rlvr/MBPP-Tests-v0",
        "rlvr_envs.envs.tools:mbpp_tests",
        "code",
        "427",
        "MBPP with python and run_tests (public example test only; hidden tests grade)",
    ),
]
