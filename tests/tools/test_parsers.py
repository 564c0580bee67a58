"""The Hermes tool-call format: every way a call can be malformed has its own kind."""

from __future__ import annotations

import json

from rlvr_envs.tools.parsers import HermesParser, get_parser

P = HermesParser()


def parse(text: str, max_calls: int = 8, max_bytes: int = 1 << 16):
    return P.parse(text, max_calls=max_calls, max_argument_bytes=max_bytes)


def call(name: str, **arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


def test_calls_and_the_text_around_them() -> None:
    turn = parse(
        f"Let me compute.\n{call('calculator', expression='2+2')}\n{call('python', code='x=1')}"
    )
    assert turn.content == "Let me compute."
    assert [(c.name, c.arguments, c.error_kind) for c in turn.calls] == [
        ("calculator", {"expression": "2+2"}, None),
        ("python", {"code": "x=1"}, None),
    ]
    assert parse("The answer is \\boxed{4}.").calls == []


def test_arguments_given_as_a_json_string_are_accepted() -> None:
    turn = parse('<tool_call>{"name": "f", "arguments": "{\\"a\\": 1}"}</tool_call>')
    assert turn.calls[0].arguments == {"a": 1} and turn.calls[0].error_kind is None


def test_malformed_calls() -> None:
    cases = {
        "<tool_call>{not json}</tool_call>": "not valid JSON",
        '<tool_call>["calculator"]</tool_call>': "must be a JSON object",
        '<tool_call>{"arguments": {}}</tool_call>': "must be a JSON object",
        '<tool_call>{"name": "f", "arguments": [1]}</tool_call>': "must be a JSON object",
        '<tool_call>{"name": "f", "arguments": "not json"}</tool_call>': "must be a JSON object",
        '<tool_call>{"name": "f", "arguments": {}}': "never closed",
    }
    for text, message in cases.items():
        (c,) = parse(text).calls
        assert c.error_kind == "malformed" and message in c.error, (text, c)


def test_oversized_and_invalid_utf8_calls() -> None:
    big = call("python", code="x" * (1 << 20))  # 1 MB of arguments
    (c,) = parse(big).calls
    assert c.error_kind == "too_large" and "over the limit of 65536 bytes" in c.error
    bad = '<tool_call>{"name": "f", "arguments": {"a": "\udcff"}}</tool_call>'
    (c,) = parse(bad).calls
    assert c.error_kind == "invalid_utf8" and "UTF-8" in c.error


def test_calls_past_the_limit_are_dropped_not_parsed() -> None:
    turn = parse(call("f") * 5, max_calls=2)
    assert len(turn.calls) == 2 and turn.dropped == 3


def test_describe_and_responses() -> None:
    schema = {
        "type": "function",
        "function": {
            "name": "calculator",
            "description": "d",
            "parameters": {"type": "object", "properties": {}},
        },
    }
    text = P.describe([schema])
    assert "<tools>" in text and '"name": "calculator"' in text and "<tool_call>" in text
    assert (
        P.responses(["4", "x"])
        == "\n<tool_response>\n4\n</tool_response>\n<tool_response>\nx\n</tool_response>\n"
    )
    assert (
        P.render_calls([("f", {"a": 1})])
        == '<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>'
    )
    assert get_parser("hermes").name == "hermes" and get_parser(P) is P


def test_unknown_parser() -> None:
    import pytest

    with pytest.raises(ValueError, match="unknown tool-call parser"):
        get_parser("xml")
    with pytest.raises(TypeError, match="parse"):
        get_parser(object())
