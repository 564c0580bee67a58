"""The ToolUse wrapper: tool turns, final answers, every kind of bad call, budgets, sessions."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import rlvr_envs  # noqa: F401
from rlvr_envs.tools import ToolContext, ToolFault
from rlvr_envs.wrappers import ToolUse


def call(name: str, **arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


def make(chat: bool = False, tools=("calculator", "python"), **options) -> ToolUse:
    options.setdefault("sandbox", "local")
    return ToolUse(gym.make("rlvr/Arithmetic-v1", level=6, chat=chat), tools=list(tools), **options)


@pytest.fixture
def env():
    e = make()
    yield e
    e.close()


def test_text_episode_calls_a_tool_then_answers(env: ToolUse) -> None:
    obs, info = env.reset(seed=5)
    assert obs.startswith("You can call tools.") and '"name": "calculator"' in obs
    assert info["tools"] == ["calculator", "python"] and info["tool_use"]["calls"] == 0
    expression, answer = info["metadata"]["expression"], env.unwrapped.task.answer
    action = "I will compute.\n" + call("calculator", expression=expression)
    obs2, reward, terminated, truncated, info2 = env.step(action)
    assert obs2 == f"{obs}{action}\n<tool_response>\n{answer}\n</tool_response>\n"  # append-only
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert info2["tool_calls"][0]["kind"] == "ok" and "verdict" not in info2
    final = f"The answer is \\boxed{{{answer}}}."
    obs3, reward, terminated, truncated, info3 = env.step(final)
    assert obs3 == obs2 + final
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info3["verdict"]["status"] == "correct"
    use = info3["tool_use"]
    assert (use["calls"], use["ok"], use["errors"], use["by_tool"]) == (1, 1, 0, {"calculator": 1})


def test_an_echo_of_the_question_still_does_not_score(env: ToolUse) -> None:
    _, info = env.reset(seed=5)
    _, reward, _, _, step = env.step(f"\\boxed{{{info['metadata']['expression']}}}")
    assert reward == 0.0 and step["verdict"]["status"] == "wrong_form"


def test_each_kind_of_bad_call_is_an_observation_with_its_own_count(env: ToolUse) -> None:
    env.reset(seed=1)
    action = "".join(
        [
            "<tool_call>{oops}</tool_call>",  # malformed JSON
            call("nope"),  # unknown tool
            call("calculator", expr="1"),  # wrong arguments
            call("python", code="x" * (1 << 20)),  # 1 MB of arguments
            '<tool_call>{"name": "calculator", "arguments": {"expression": "\udcff"}}</tool_call>',
            call("calculator", expression="1/0"),  # the tool fails
        ]
    )
    env.max_tool_calls = 6
    obs, reward, terminated, truncated, info = env.step(action)
    assert not (terminated or truncated)
    kinds = [r["kind"] for r in info["tool_calls"]]
    assert kinds == [
        "malformed",
        "unknown_tool",
        "bad_arguments",
        "too_large",
        "invalid_utf8",
        "tool_failed",
    ]
    use = info["tool_use"]
    assert all(use[k] == 1 for k in kinds) and use["errors"] == 6 and use["ok"] == 0
    responses = obs.split("<tool_response>\n")[1:]
    assert len(responses) == 6 and all(r.startswith("error: ") for r in responses)
    assert (
        "there is no tool named 'nope'" in obs and "missing required argument(s): expression" in obs
    )
    assert "division by zero" in obs and "over the limit of 65536 bytes" in obs
    assert len(obs.split(action)[1]) < 2000  # the 1 MB call is not echoed back in the results


def test_calls_past_the_budget_end_the_episode_as_truncated() -> None:
    env = make(tools=["calculator"], max_tool_calls=2)
    env.reset(seed=2)
    _, _, terminated, truncated, _ = env.step(call("calculator", expression="1+1"))
    assert not (terminated or truncated)
    obs, reward, terminated, truncated, info = env.step(call("calculator", expression="2") * 4)
    assert (terminated, truncated, reward) == (False, True, 0.0)
    assert [r["kind"] for r in info["tool_calls"]] == ["ok", "over_budget"]
    assert info["tool_use"]["over_budget"] == 3  # one refused with a message, two not even parsed
    assert "budget of 2 calls is spent" in obs
    assert info["verdict"]["status"] == "no_answer"
    with pytest.raises(gym.error.ResetNeeded):
        env.step("\\boxed{1}")
    env.close()


def test_call_penalty_is_a_named_reward_component() -> None:
    env = make(tools=["calculator"], call_penalty=0.1)
    env.reset(seed=3)
    _, reward, _, _, info = env.step(call("nope") + call("calculator", expression="1"))
    assert reward == pytest.approx(-0.1) and info["reward_components"] == {"tool_penalty": -0.1}
    env.close()


def test_chat_mode_uses_tool_calls_and_tool_messages() -> None:
    env = make(chat=True, tools=["calculator"])
    obs, info = env.reset(seed=4)
    assert obs[0]["tools"][0]["function"]["name"] == "calculator"
    assert obs[-1]["role"] == "user" and len(obs) == 1
    expression = info["metadata"]["expression"]
    obs2, _, _, _, _ = env.step("Computing." + call("calculator", expression=expression))
    assert obs2[:1] == obs
    assistant, tool_msg = obs2[1], obs2[2]
    assert assistant == {
        "role": "assistant",
        "content": "Computing.",
        "tool_calls": [
            {
                "id": "call_1_0",
                "type": "function",
                "function": {"name": "calculator", "arguments": {"expression": expression}},
            }
        ],
    }
    assert tool_msg == {
        "role": "tool",
        "tool_call_id": "call_1_0",
        "name": "calculator",
        "content": env.unwrapped.task.answer,
    }
    assert env.observation_space.contains(obs2)
    obs3, reward, terminated, _, _ = env.step(f"\\boxed{{{env.unwrapped.task.answer}}}")
    assert obs3[:3] == obs2 and obs3[3]["role"] == "assistant" and reward == 1.0 and terminated
    env.close()


def test_the_python_session_lives_for_one_episode(env: ToolUse) -> None:
    env.reset(seed=1)
    env.step(call("python", code="secret = 41"))
    context = env._context
    assert context is not None and context.has_session
    obs, *_ = env.step(call("python", code="secret + 1"))
    assert obs.endswith("<tool_response>\n42\n</tool_response>\n")
    env.step("\\boxed{0}")  # the episode ends: its session is killed
    assert not context.has_session
    env.reset(seed=1)
    obs, *_ = env.step(call("python", code="print('secret' in globals())"))
    assert obs.endswith("<tool_response>\nFalse\n</tool_response>\n")
    context = env._context
    env.reset(seed=2)  # a reset ends the previous episode's session too
    assert not context.has_session


def test_python_errors_and_timeouts_are_tool_output(env: ToolUse) -> None:
    from sandbox import Limits

    env.context_options["session_limits"] = Limits(wall_time_s=0.5)
    env.reset(seed=1)
    obs, *_ = env.step(call("python", code="1/0"))
    assert "ZeroDivisionError: division by zero" in obs
    obs, _, terminated, _, info = env.step(call("python", code="while True: pass"))
    assert "the session restarted" in obs and not terminated
    assert info["tool_calls"][0]["kind"] == "ok"  # the tool ran; the code was at fault


def test_a_sandbox_fault_ends_the_episode_as_sandbox_error(monkeypatch) -> None:
    env = make(tools=["python"])
    env.reset(seed=1)

    def broken(self: ToolContext):
        raise ToolFault("no sandbox here")

    monkeypatch.setattr(ToolContext, "session", broken)
    _, reward, terminated, truncated, info = env.step(call("python", code="1"))
    assert (reward, terminated, truncated) == (0.0, True, False)
    assert info["verdict"]["status"] == "sandbox_error" and info["tool_use"]["faults"] == 1
    env.close()


def test_bad_wrapper_arguments() -> None:
    base = gym.make("rlvr/Arithmetic-v1")
    with pytest.raises(ValueError, match="max_tool_calls"):
        ToolUse(base, tools=["calculator"], max_tool_calls=-1)
    with pytest.raises(ValueError, match="call_penalty"):
        ToolUse(base, tools=["calculator"], call_penalty=-1)
    with pytest.raises(KeyError, match="no tool named"):
        ToolUse(base, tools=["telepathy"])
    with pytest.raises(TypeError, match="text environments"):
        ToolUse(gym.make("CartPole-v1"), tools=["calculator"])


TOOL_ENV_IDS = [
    "rlvr/Arithmetic-Python-v1",
    "rlvr/Arithmetic-Calculator-v1",
    "rlvr/GSM8K-Python-v1",
    "rlvr/MATH500-Python-v1",
    "rlvr/MBPP-Tests-v0",
]


@pytest.mark.parametrize("chat", [False, True], ids=["text", "chat"])
@pytest.mark.parametrize("env_id", TOOL_ENV_IDS)
def test_check_env_passes_on_every_tool_environment(env_id: str, chat: bool, shared_data) -> None:
    env = gym.make(env_id, chat=chat, sandbox="local")
    check_env(env, skip_render_check=True)
    assert env_id in {info.id for info in rlvr_envs.list_envs()}
    env.close()


def test_async_vector_env_keeps_tool_fields_in_shared_memory() -> None:
    envs = gym.make_vec(
        "rlvr/Arithmetic-Calculator-v1", num_envs=2, vectorization_mode="async", chat=True
    )
    try:
        obs, _ = envs.reset(seed=[1, 2])
        assert obs[0][0]["tools"][0]["function"]["name"] == "calculator"
        obs, *_ = envs.step([call("calculator", expression="6*7")] * 2)
        assert obs[1][1]["tool_calls"][0]["function"]["arguments"] == {"expression": "6*7"}
        assert obs[1][2]["content"] == "42"
    finally:
        envs.close()
