"""The reasoning-format wrapper: format required, task scored on the answer part, named rules."""

from __future__ import annotations

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

from rlvr_envs.wrappers import ReasoningFormat

from .helpers import echo_env

GOOD = "<think>The prompt says to repeat alpha.</think>alpha"


def _step(env, completion, task_id="echo/0"):
    env.reset(options={"task_id": task_id})
    return env.step(completion)


@pytest.mark.parametrize(
    ("completion", "reward"),
    [
        (GOOD, 1.0),  # well formed, correct
        ("alpha", 0.0),  # correct, no reasoning block
        ("<think></think>alpha", 0.0),  # empty reasoning
        ("<think>r</think>alpha<think>again</think>", 0.0),  # a second block
        ("<think>r</think>beta", 0.0),  # well formed, wrong
        ("<think>alpha</think>beta", 0.0),  # the right answer only in the reasoning
    ],
)
def test_gate_rule(completion, reward):
    env = ReasoningFormat(echo_env())
    _, got, terminated, _, info = _step(env, completion)
    assert got == reward
    assert terminated
    assert info["reward_rule"] == "gate"
    assert set(info["reward_components"]) == {"exact", "format"}


def test_the_task_sees_only_the_answer_part():
    env = ReasoningFormat(echo_env())
    _, _, _, _, info = _step(env, "<think>beta gamma</think>  alpha  ")
    assert info["verdict"]["status"] == "correct"
    assert info["format_verdict"]["extracted"] == "alpha"
    # A malformed completion reaches the task as an empty answer.
    _, _, _, _, info = _step(env, "alpha")
    assert info["verdict"]["status"] == "no_answer"
    assert info["reward_components"] == {"exact": 0.0, "format": 0.0}
    assert info["format_verdict"]["status"] == "format_error"


def test_multiply_and_add_rules():
    multiply = ReasoningFormat(echo_env(), combine="multiply", partial_credit=True)
    assert _step(multiply, GOOD)[1] == 1.0
    assert _step(multiply, "<think>r</think>beta")[1] == 0.0
    assert _step(multiply, "alpha")[1] == 0.0

    add = ReasoningFormat(echo_env(), combine="add", format_weight=0.25)
    assert _step(add, GOOD)[1] == 1.25
    assert _step(add, "<think>r</think>beta")[1] == 0.25
    assert _step(add, "alpha")[1] == 0.0
    add_partial = ReasoningFormat(echo_env(), combine="add", format_weight=1.0, partial_credit=True)
    _, reward, _, _, info = _step(add_partial, "<think>r</think>")  # no answer: 2 of 3 parts
    assert reward == pytest.approx(2 / 3)
    assert info["reward_components"]["format"] == pytest.approx(2 / 3)


def test_answer_tag_option():
    env = ReasoningFormat(echo_env(), answer_tag="answer")
    assert _step(env, "<think>r</think><answer>alpha</answer>")[1] == 1.0
    assert _step(env, "<think>r</think><answer>alpha</answer> P.S.")[1] == 0.0
    assert _step(env, GOOD)[1] == 0.0


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="combine"):
        ReasoningFormat(echo_env(), combine="max")
    with pytest.raises(ValueError, match="partial_credit"):
        ReasoningFormat(echo_env(), partial_credit=True)
    with pytest.raises(ValueError, match="tag"):
        ReasoningFormat(echo_env(), think_tag="no spaces allowed")


def test_oversized_completion_is_left_to_the_wrapped_env():
    env = ReasoningFormat(echo_env(max_action_length=50))
    _, reward, terminated, _, info = _step(env, "<think>" + "x" * 100 + "</think>alpha")
    assert reward == 0.0 and terminated
    assert info["verdict"]["status"] == "invalid_input"


def test_wrapped_env_passes_check_env():
    check_env(ReasoningFormat(echo_env()), skip_render_check=True)


def test_a_made_env_with_the_wrapper_keeps_a_recreatable_spec():
    env = ReasoningFormat(gym.make("rlvr/JSONFormat-v0"), combine="add", format_weight=0.1)
    spec = env.spec
    assert spec.additional_wrappers[-1].kwargs["combine"] == "add"
    again = gym.make(spec)
    assert isinstance(again, ReasoningFormat) and again.format_weight == 0.1


def test_gsm8k_with_the_reasoning_format_wrapper(shared_data):
    env = ReasoningFormat(gym.make("rlvr/GSM8K-v1", data_path=shared_data / "gsm8k_test.jsonl"))
    task = env.unwrapped.source.tasks[0]
    answer = task.answer
    wrong = str(int(answer) + 1)

    def reward(completion):
        env.reset(options={"task_id": task.id})
        return env.step(completion)[1:2][0]

    well_formed = f"<think>{task.solution}</think>The answer is \\boxed{{{answer}}}."
    assert reward(well_formed) == 1.0
    assert reward(f"The answer is \\boxed{{{answer}}}.") == 0.0  # correct, no format
    assert reward(f"<think></think>\\boxed{{{answer}}}") == 0.0  # correct, empty reasoning
    assert reward(f"<think>r</think>\\boxed{{{answer}}}</think>") == 0.0  # correct, stray tag
    assert reward(f"<think>{task.solution}</think>The answer is \\boxed{{{wrong}}}.") == 0.0
    # The task verifier reads only the answer part, not a boxed value in the reasoning.
    assert reward(f"<think>\\boxed{{{answer}}}</think>I think it is \\boxed{{{wrong}}}.") == 0.0
    env.reset(options={"task_id": task.id})
    info = env.step(well_formed)[4]
    assert info["reward_components"] == {"math": 1.0, "format": 1.0}
