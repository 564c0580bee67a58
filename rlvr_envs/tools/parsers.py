"""Tool-call formats in completion text: finding calls, describing tools, writing results back.

The Hermes format (Qwen2.5, Hermes, many open models) wraps each call in tags around a JSON
object, and each result in ``<tool_response>`` tags::

    <tool_call>
    {"name": "calculator", "arguments": {"expression": "12 * 34"}}
    </tool_call>

A call that cannot be used is kept with the reason (``error_kind``): ``malformed`` (not a JSON
object with a string ``name`` and object ``arguments``, or an unclosed tag), ``too_large``
(arguments over the size limit) or ``invalid_utf8`` (text that is not valid Unicode).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

ERROR_KINDS = (
    "malformed",
    "too_large",
    "invalid_utf8",
    "unknown_tool",
    "bad_arguments",
    "over_budget",
    "tool_failed",
)


@dataclass
class ToolCall:
    """One call found in a completion; ``error_kind`` is set when it cannot be run."""

    raw: str
    name: str | None = None
    arguments: dict[str, Any] | None = None
    error_kind: str | None = None
    error: str | None = None


@dataclass
class ParsedTurn:
    """A completion split into its text (without the calls) and its calls, in order."""

    content: str
    calls: list[ToolCall] = field(default_factory=list)
    dropped: int = 0  # calls past the per-turn limit, not even parsed


class ToolCallParser(Protocol):
    """What :class:`~rlvr_envs.wrappers.ToolUse` needs from a tool-call format."""

    name: str

    def parse(self, text: str, *, max_calls: int, max_argument_bytes: int) -> ParsedTurn:
        """The calls in ``text`` (at most ``max_calls``) and the text around them."""
        ...

    def describe(self, schemas: list[dict[str, Any]]) -> str:
        """Instructions listing the tools, for a text prompt."""
        ...

    def responses(self, results: list[str]) -> str:
        """The text that follows a completion with calls: their results."""
        ...


def _unicode_problem(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"the call is not valid UTF-8 text (an undecodable byte at index {exc.start})"
    return None


def decode_call(raw: str, max_argument_bytes: int) -> ToolCall:
    """A call from the JSON text between the tags."""
    call = ToolCall(raw=raw)
    problem = _unicode_problem(raw)
    if problem:
        call.error_kind, call.error = "invalid_utf8", problem
        return call
    size = len(raw.encode("utf-8"))
    if size > max_argument_bytes:
        call.error_kind = "too_large"
        call.error = f"the call is {size} bytes, over the limit of {max_argument_bytes} bytes"
        return call
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        call.error_kind = "malformed"
        call.error = f"the call is not valid JSON ({exc}); write {_SHAPE}"
        return call
    name = payload.get("name") if isinstance(payload, dict) else None
    arguments = payload.get("arguments", {}) if isinstance(payload, dict) else None
    if isinstance(arguments, str):  # some models encode the arguments as a JSON string
        try:
            arguments = json.loads(arguments)
        except ValueError:
            arguments = None
    if not isinstance(name, str) or not isinstance(arguments, dict):
        call.error_kind = "malformed"
        call.error = f"a call must be a JSON object {_SHAPE}"
        call.name = name if isinstance(name, str) else None
        return call
    call.name, call.arguments = name, arguments
    return call


_SHAPE = '{"name": <tool name>, "arguments": {<argument>: <value>, ...}}'


class HermesParser:
    """``<tool_call>{json}</tool_call>`` calls and ``<tool_response>...</tool_response>`` results."""

    name = "hermes"
    open_tag, close_tag = "<tool_call>", "</tool_call>"
    _BLOCK = re.compile(r"<tool_call>(.*?)(</tool_call>|\Z)", re.DOTALL)

    def parse(self, text: str, *, max_calls: int, max_argument_bytes: int) -> ParsedTurn:
        """The calls in ``text``, in order (an unclosed last tag is a malformed call)."""
        calls: list[ToolCall] = []
        pieces: list[str] = []
        position = 0
        dropped = 0
        for match in self._BLOCK.finditer(text):
            pieces.append(text[position : match.start()])
            position = match.end()
            if len(calls) >= max_calls:
                dropped += 1
                continue
            raw = match.group(1).strip()
            if not match.group(2):
                call = ToolCall(raw=raw, error_kind="malformed")
                call.error = f"the {self.open_tag} tag was never closed with {self.close_tag}"
                calls.append(call)
            else:
                calls.append(decode_call(raw, max_argument_bytes))
        pieces.append(text[position:])
        return ParsedTurn("".join(pieces).strip(), calls, dropped)

    def describe(self, schemas: list[dict[str, Any]]) -> str:
        """Tool signatures and how to call them, for the top of a text prompt."""
        listing = "\n".join(json.dumps(s, ensure_ascii=False) for s in schemas)
        return (
            "You can call tools. Their signatures, as JSON:\n"
            f"<tools>\n{listing}\n</tools>\n"
            f"To call one, write {_SHAPE} between {self.open_tag} and {self.close_tag}, e.g.\n"
            f'{self.open_tag}\n{{"name": "{schemas[0]["function"]["name"]}", "arguments": {{...}}}}\n'
            f"{self.close_tag}\n"
            "Each result comes back between <tool_response> and </tool_response>. When you know "
            "the answer, reply without a tool call."
        )

    def responses(self, results: list[str]) -> str:
        """The results of one completion's calls, in order."""
        return "\n" + "".join(f"<tool_response>\n{r}\n</tool_response>\n" for r in results)

    def render_calls(self, calls: list[tuple[str, dict[str, Any]]]) -> str:
        """Calls written in this format (what an API's structured ``tool_calls`` say, as text)."""
        return "\n".join(
            f"{self.open_tag}\n{json.dumps({'name': n, 'arguments': a}, ensure_ascii=False)}\n"
            f"{self.close_tag}"
            for n, a in calls
        )


PARSERS: dict[str, type] = {"hermes": HermesParser}


def get_parser(parser: str | ToolCallParser) -> ToolCallParser:
    """A parser by name ("hermes"), or the parser object given."""
    if isinstance(parser, str):
        try:
            return PARSERS[parser]()
        except KeyError:
            raise ValueError(
                f"unknown tool-call parser {parser!r}; known: {sorted(PARSERS)}"
            ) from None
    for method in ("parse", "describe", "responses"):
        if not callable(getattr(parser, method, None)):
            raise TypeError(f"a tool-call parser needs a {method}() method")
    return parser
