import sys

import pytest

from rlvr_envs import plugins
from rlvr_envs.agent import spec as agent_spec
from rlvr_envs.evaluation import AgentSpecError, CallableAgent, Completion, batched, resolve_agent

from . import toy_agents

PROMPT = "What is 2 + 3?\n\nPlease reason step by step."


def test_python_spec_function_is_wrapped():
    agent = resolve_agent("python:tests.evaluation.toy_agents:arithmetic_solver")
    assert isinstance(agent, CallableAgent)
    out = agent.act([PROMPT, "What is 4 * 5?"], n=3, seeds=[1, 2, 3, 4, 5, 6])
    assert len(out) == 6 and all(isinstance(o, str) for o in out)
    # Observation-major, each sample with its own seed.
    assert out[0] == toy_agents.arithmetic_solver(PROMPT, seed=1)
    assert out[3] == toy_agents.arithmetic_solver("What is 4 * 5?", seed=4)


def test_single_seed_becomes_consecutive_seeds():
    agent = resolve_agent(toy_agents.arithmetic_solver)
    out = agent.act([PROMPT], n=3, seed=10)
    assert out == [toy_agents.arithmetic_solver(PROMPT, seed=s) for s in (10, 11, 12)]


def test_function_gets_only_the_keywords_it_accepts():
    seen = {}

    def picky(observation, temperature=1.0):
        seen["temperature"] = temperature
        return "ok"

    def greedy(observation, **sampling):
        seen.update(sampling)
        return "ok"

    resolve_agent(picky).act([PROMPT], temperature=0.3, max_new_tokens=5, seed=1)
    assert seen == {"temperature": 0.3}
    resolve_agent(greedy).act([PROMPT], temperature=0.3, max_new_tokens=5, seed=1)
    assert seen["max_new_tokens"] == 5 and seen["seed"] == 1


def test_batched_function():
    agent = resolve_agent("python:tests.evaluation.toy_agents:batched_solver")
    assert agent.batched
    out = agent.act([PROMPT, "What is 1 + 1?"], n=2, seeds=[7, 8, 9, 10])
    assert out[1] == toy_agents.arithmetic_solver(PROMPT, seed=8)
    assert out[2] == toy_agents.arithmetic_solver("What is 1 + 1?", seed=9)

    @batched
    def short(observations):
        return ["x"]

    with pytest.raises(ValueError, match="returned 1 completions for 2"):
        resolve_agent(short).act(["a", "b"])


def test_token_counts_from_a_function():
    agent = resolve_agent("python:tests.evaluation.toy_agents:arithmetic_solver_with_tokens")
    (out,) = agent.act([PROMPT], seed=1)
    assert isinstance(out, Completion) and out.num_tokens == len(out.split())
    (out,) = resolve_agent(lambda o: {"text": "hi", "num_tokens": 3}).act([PROMPT])
    assert out == "hi" and out.num_tokens == 3
    with pytest.raises(TypeError, match="must return a str"):
        resolve_agent(lambda o: 42).act([PROMPT])


def test_completion_pickles_with_its_token_count():
    import pickle

    value = pickle.loads(pickle.dumps(Completion("abc", 2)))
    assert value == "abc" and value.num_tokens == 2


def test_objects_and_classes():
    counting = toy_agents.CountingAgent()
    assert resolve_agent(counting) is counting
    built = resolve_agent("python:tests.evaluation.toy_agents:CountingAgent")
    assert isinstance(built, toy_agents.CountingAgent)
    with pytest.raises(AgentSpecError, match="keyword arguments"):
        resolve_agent(counting, temperature=1)


def test_python_spec_from_a_file(tmp_path):
    path = tmp_path / "my_agent.py"
    path.write_text("def answer(observation):\n    return 'forty-two'\n")
    agent = resolve_agent(f"python:{path}:answer")
    assert agent.act(["q"]) == ["forty-two"]


@pytest.mark.parametrize(
    "spec, match",
    [
        ("python:tests.evaluation.toy_agents", "python:module:function"),
        ("python:no_such_module_xyz:f", "cannot import module 'no_such_module_xyz'"),
        ("python:tests.evaluation.toy_agents:nope", "has no attribute 'nope'"),
        ("python:/no/such/file.py:f", "not found"),
        ("gpt4", "unknown agent spec"),
    ],
)
def test_bad_specs(spec, match):
    with pytest.raises(AgentSpecError, match=match):
        resolve_agent(spec)


def test_not_an_agent():
    with pytest.raises(AgentSpecError, match="spec string"):
        resolve_agent(42)


def _forget_plugins(monkeypatch):
    """As in a fresh process: no agent kind registered, no plugin loaded yet."""
    monkeypatch.setattr(agent_spec, "_KINDS", {})
    monkeypatch.setattr(plugins, "_loaded", {})
    monkeypatch.setattr(plugins, "_errors", {})


def test_hf_and_openai_specs_need_the_agents_package(monkeypatch):
    _forget_plugins(monkeypatch)
    for name in ("agents", "agents.plugin"):
        monkeypatch.setitem(sys.modules, name, None)  # importing it now fails
    for spec in ("hf:/models/tiny", "openai:m@http://localhost:1/v1"):
        with pytest.raises(AgentSpecError, match=r"agents package.*rlvr-envs\[agents\]"):
            resolve_agent(spec)
    assert "agents.plugin" in plugins.plugin_errors()  # and why, for the message


def test_hf_spec_goes_to_the_builder_the_agents_layer_registers(monkeypatch):
    calls = []
    _forget_plugins(monkeypatch)
    agent_spec.register_agent_kind(
        "hf", lambda rest, **kw: calls.append((rest, kw)) or toy_agents.CountingAgent()
    )
    agent = resolve_agent("hf:/models/tiny", dtype="float32")
    assert isinstance(agent, toy_agents.CountingAgent)
    assert calls == [("/models/tiny", {"dtype": "float32"})]


def test_python_specs_from_two_files_with_the_same_name(tmp_path):
    for folder, word in (("a", "first"), ("b", "second")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "agent.py").write_text(
            f"class Box:\n    @staticmethod\n    def answer(observation):\n        return {word!r}\n"
        )
    first = resolve_agent(f"python:{tmp_path / 'a' / 'agent.py'}:Box.answer")
    second = resolve_agent(f"python:{tmp_path / 'b' / 'agent.py'}:Box.answer")
    assert first.act(["q"]) == ["first"] and second.act(["q"]) == ["second"]
