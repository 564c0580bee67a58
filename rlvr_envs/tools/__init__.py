"""Tools a model can call during an episode, and their registry.

A tool is a Python function with type hints and a Google-style docstring; its JSON schema (the
OpenAI function-calling format chat templates and APIs take) is derived from them::

    from rlvr_envs.tools import tool

    @tool
    def lookup(word: str) -> str:
        \"\"\"Look a word up in the dictionary.

        Args:
            word: The word to look up.
        \"\"\"
        return DICTIONARY.get(word, "not found")

Built-ins: ``python`` (a stateful sandboxed interpreter per episode), ``calculator`` (exact
arithmetic, no code execution) and ``run_tests`` (a code task's public tests). Tools are given to
an environment with :class:`rlvr_envs.wrappers.ToolUse`; see ``docs/tools.md``.
"""

from .base import Tool, ToolContext, ToolError, ToolFault
from .registry import get_tool, list_tools, register_tool, resolve_tools, tool
from .schema import SchemaError, function_schema

__all__ = [
    "SchemaError",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolFault",
    "function_schema",
    "get_tool",
    "list_tools",
    "register_tool",
    "resolve_tools",
    "tool",
]
