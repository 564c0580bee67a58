"""Tools over the OpenAI API: OpenAIAgent sends ``tools`` and reads ``tool_calls``, against the
project's own OpenAI-compatible server (agents.serve) on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import urllib.parse

import gymnasium as gym
import pytest
from transformers import AutoTokenizer

import rlvr_envs  # noqa: F401
from agents import OpenAIAgent
from agents.openai_agent import message_text, openai_message
from agents.serve import CompletionServer, assistant_message
from agents.tiny import build_tiny_model
from rlvr_envs.rollout import RolloutRunner

from .tool_agents import ScriptedToolAgent


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    path = build_tiny_model(tmp_path_factory.mktemp("tiny-tools-api"), arch="qwen2", tools=True)
    return AutoTokenizer.from_pretrained(path)


@pytest.fixture(scope="module")
def server(tok):
    with CompletionServer(ScriptedToolAgent(tok), model_name="scripted") as srv:
        yield srv


def post(url: str, body: dict) -> dict:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request(
        "POST",
        parts.path + "/chat/completions",
        json.dumps(body),
        {"Content-Type": "application/json"},
    )
    response = conn.getresponse()
    data = json.loads(response.read())
    conn.close()
    assert response.status == 200, data
    return data


def test_server_returns_tool_calls_and_renders_tool_messages(server) -> None:
    env = gym.make("rlvr/Arithmetic-Calculator-v1", chat=True)
    obs, info = env.reset(seed=3)
    tools = obs[0].pop("tools")
    first = post(
        server.url, {"model": "scripted", "messages": obs, "tools": tools, "max_tokens": 64}
    )
    choice = first["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function" and call["function"]["name"] == "calculator"
    assert json.loads(call["function"]["arguments"]) == {
        "expression": info["metadata"]["expression"]
    }
    assert choice["message"]["content"] == "Let me compute."
    # The next request carries the assistant's tool call and the tool's answer, OpenAI-style.
    messages = obs + [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "417"},
    ]
    second = post(server.url, {"model": "scripted", "messages": messages, "tools": tools})
    assert second["choices"][0]["message"] == {
        "role": "assistant",
        "content": "The result is \\boxed{417}",
    }
    assert second["choices"][0]["finish_reason"] == "stop"
    env.close()


def test_openai_agent_plays_tool_episodes_through_the_server(server, tok) -> None:
    with (
        OpenAIAgent("scripted", server.url) as agent,
        RolloutRunner("rlvr/Arithmetic-Calculator-v1", env_kwargs={"chat": True}) as runner,
    ):
        batch = runner.collect(agent, num_tasks=3, seed=7, mode="text", max_new_tokens=64)
    for episode in batch:
        assert episode.correct and episode.num_turns == 2, episode.verdicts
        assert episode.completions[0].startswith("Let me compute.\n<tool_call>\n")
        assert episode.tool_use["calls"] == 1 and episode.tool_use["ok"] == 1


def test_message_conversions() -> None:
    structured = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}
        ],
    }
    sent = openai_message(structured)
    assert sent["tool_calls"][0]["function"]["arguments"] == '{"a": 1}'
    assert structured["tool_calls"][0]["function"]["arguments"] == {"a": 1}  # not mutated
    answer = {"content": None, "tool_calls": [{"function": {"name": "f", "arguments": '{"a": 1}'}}]}
    assert message_text(answer) == '<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>'
    broken = {"content": "Hm.", "tool_calls": [{"function": {"name": "f", "arguments": "{a:"}}]}
    text = message_text(broken)
    assert text.startswith("Hm.\n<tool_call>") and '"arguments": "{a:"' in text
    env = gym.make("rlvr/Arithmetic-Calculator-v1", chat=True)
    env.reset(seed=0)
    _, _, _, _, info = env.step(text)  # the environment reports it as malformed, not a crash
    assert info["tool_calls"][0]["kind"] == "malformed"
    env.close()
    assert assistant_message("plain", True) == {"role": "assistant", "content": "plain"}
    assert (
        assistant_message("<tool_call>{bad}</tool_call>", True)["content"]
        == "<tool_call>{bad}</tool_call>"
    )
    assert "tool_calls" not in assistant_message(
        '<tool_call>{"name": "f", "arguments": {}}</tool_call>', False
    )
