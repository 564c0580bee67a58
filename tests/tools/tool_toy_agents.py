"""A deterministic toy agent for tool evaluation tests (``python:tests.tools.tool_toy_agents:...``).

On each task it picks, from a hash of the question, one of three behaviours: answer at once
(without a tool, wrong: it cannot multiply), call the calculator once and copy its result, or
send a malformed call first, then call the calculator and copy the result.
"""

from __future__ import annotations

import hashlib
import json
import re

_QUESTION = re.compile(r"What is (.+?)\?")
_RESULT = re.compile(r"<tool_response>\n(.*?)\n</tool_response>", re.DOTALL)


def _text(observation) -> str:
    if isinstance(observation, list):  # chat messages
        return "\n".join(str(m.get("content") or "") for m in observation)
    return observation


def calculator_user(observation, seed: int | None = None) -> str:
    """One turn of the toy policy described in the module docstring."""
    text = _text(observation)
    expression = _QUESTION.findall(text)[-1]
    kind = hashlib.sha256(expression.encode()).digest()[0] % 3
    results = _RESULT.findall(text)
    if kind == 0:
        return "\\boxed{1}"
    if kind == 2 and not results:
        return "<tool_call>\n{not json}\n</tool_call>"
    if results and not results[-1].startswith("error"):
        return f"The result is \\boxed{{{results[-1]}}}"
    call = {"name": "calculator", "arguments": {"expression": expression}}
    return f"<tool_call>\n{json.dumps(call)}\n</tool_call>"
