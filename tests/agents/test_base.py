"""Sampling parameters, observation checks, CallableAgent and agent spec strings."""

from __future__ import annotations

import threading
import time

import pytest

from agents import Agent, CallableAgent, SamplingParams, TokenAgent, from_spec, supports_tokens
from rlvr_envs.agent import check_observations


def test_sampling_params_validate_and_merge() -> None:
    base = SamplingParams(temperature=0.5, max_new_tokens=10)
    merged = SamplingParams.build(base, max_tokens=20, num_samples=3, stop="###")
    assert (merged.temperature, merged.max_new_tokens, merged.n, merged.stop) == (
        0.5,
        20,
        3,
        ("###",),
    )
    assert SamplingParams.build({"temperature": 0}).greedy
    for bad in (
        {"temperature": -0.1},
        {"top_p": 0},
        {"top_p": 1.5},
        {"max_new_tokens": 0},
        {"n": 0},
        {"stop": [""]},
        {"seed": 1.5},
        {"top_k": -1},
    ):
        with pytest.raises(ValueError):
            SamplingParams.build(**bad)
    with pytest.raises(TypeError, match="unknown sampling parameter 'beams'"):
        SamplingParams.build(beams=2)


def test_check_observations() -> None:
    chat = [{"role": "user", "content": "hi"}]
    assert check_observations(["a", chat]) == ["a", chat]
    with pytest.raises(TypeError, match="wrap a single prompt"):
        check_observations("abc")
    with pytest.raises(TypeError, match="observation 1"):
        check_observations(["ok", 42])
    with pytest.raises(TypeError, match="observation 0"):
        check_observations([[{"role": "user"}]])
    with pytest.raises(TypeError, match="observation 0"):
        check_observations([[]])


def test_callable_agent_per_observation_with_samples_and_seeds() -> None:
    calls = []

    def fn(observation, temperature, seed):
        calls.append((observation, temperature, seed))
        return f"{observation}:{seed}"

    agent = CallableAgent(fn)
    assert isinstance(agent, Agent) and not supports_tokens(agent)
    out = agent.act(["a", "b"], n=2, seed=10, temperature=0.3)
    assert out == ["a:10", "a:11", "b:12", "b:13"]  # observation-major, one seed per sample
    assert calls[0] == ("a", 0.3, 10)


def test_callable_agent_passes_only_declared_parameters() -> None:
    assert CallableAgent(str.upper).act(["x"]) == ["X"]
    seen = {}

    def flexible(observation, **kwargs):
        seen.update(kwargs)
        return "ok"

    CallableAgent(flexible).act(["x"], max_new_tokens=7, stop=["\n"])
    assert seen["max_new_tokens"] == 7 and seen["stop"] == ("\n",) and "n" not in seen


def test_callable_agent_batched_and_concurrent() -> None:
    agent = CallableAgent(lambda batch: [o[::-1] for o in batch], batched=True)
    assert agent.act(["ab", "cd"], n=2) == ["ba", "ba", "dc", "dc"]
    with pytest.raises(TypeError, match="list of 2 strings"):
        CallableAgent(lambda batch: ["only one"], batched=True).act(["a", "b"])
    with pytest.raises(TypeError, match="must return a str"):
        CallableAgent(lambda obs: 42).act(["a"])

    active, peak = [0], [0]
    lock = threading.Lock()

    def slow(observation):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return observation

    assert CallableAgent(slow, concurrency=4).act(list("abcd")) == list("abcd")
    assert peak[0] > 1


def test_from_spec_python_targets(tmp_path) -> None:
    agent = from_spec("python:tests.agents.sample_agents:answer_sum")
    assert isinstance(agent, CallableAgent)
    assert agent.act(["What is 2 + 40?"]) == ["42"]
    assert from_spec("python:tests.agents.sample_agents:shouter").act(["hi"]) == ["HI"]
    script = tmp_path / "my_agent.py"
    script.write_text("def policy(observation):\n    return 'from file'\n")
    assert from_spec(f"python:{script}:policy").act(["x"]) == ["from file"]
    with pytest.raises(ValueError, match="cannot import"):
        from_spec("python:no_such_module_xyz:f")
    with pytest.raises(ValueError, match="no attribute"):
        from_spec("python:tests.agents.sample_agents:missing")
    with pytest.raises(ValueError, match="bad agent spec"):
        from_spec("python:justamodule")


def test_from_spec_openai_and_errors(monkeypatch) -> None:
    agent = from_spec("openai:Qwen/Qwen2.5-7B-Instruct@http://10.0.0.5:8000/v1", concurrency=2)
    assert (agent.model, agent.base_url, agent.concurrency) == (
        "Qwen/Qwen2.5-7B-Instruct",
        "http://10.0.0.5:8000/v1",
        2,
    )
    agent = from_spec("openai:org/model:tag@https://user:p@ss@host.example/v1")
    assert (agent.model, agent.base_url) == ("org/model:tag", "https://user:p@ss@host.example/v1")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9999/v1")
    assert from_spec("openai:gpt-x").base_url == "http://127.0.0.1:9999/v1"
    assert from_spec("openai:m@localhost:8000/v1").base_url == "http://localhost:8000/v1"
    for bad in ("nope:x", "hf:", "openai", "", "openai:@http://h/v1"):
        with pytest.raises(ValueError, match="agent spec"):
            from_spec(bad)
    with pytest.raises(TypeError):
        from_spec(None)  # type: ignore[arg-type]


def test_from_spec_hf(qwen2_path) -> None:
    agent = from_spec(f"hf:{qwen2_path}", device="cpu")
    assert isinstance(agent, TokenAgent) and supports_tokens(agent)
    assert len(agent.act(["hi"], max_new_tokens=3)) == 1
