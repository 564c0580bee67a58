"""DAPO's soft overlong penalty as a wrapper."""

from __future__ import annotations

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

from rlvr_envs.wrappers import OverlongPenalty, ReasoningFormat, overlong_penalty

from .helpers import echo_env


@pytest.mark.parametrize(
    ("length", "penalty"),
    [(0, 0.0), (80, 0.0), (81, -0.05), (90, -0.5), (100, -1.0), (101, -1.0), (10_000, -1.0)],
)
def test_penalty_curve(length, penalty):
    assert overlong_penalty(length, 100, 20) == pytest.approx(penalty)


def test_penalty_is_added_and_reported():
    env = OverlongPenalty(echo_env(), max_length=10, cache=4)
    env.reset(options={"task_id": "echo/0"})
    _, reward, _, _, info = env.step("alpha")  # 5 characters: no penalty
    assert reward == 1.0
    assert info["reward_components"] == {"exact": 1.0, "length_penalty": 0.0}
    assert info["completion_length"] == 5
    env.reset(options={"task_id": "echo/0"})
    _, reward, _, _, info = env.step("alpha    ")  # 9 characters, correct after stripping
    assert reward == pytest.approx(1.0 - 0.75)
    assert info["reward_components"]["length_penalty"] == pytest.approx(-0.75)


class _WordTokenizer:
    def encode(self, text, add_special_tokens=True):
        return text.split()


def test_tokens_and_custom_length():
    env = OverlongPenalty(echo_env(), max_length=3, cache=1, tokenizer=_WordTokenizer(), scale=2)
    env.reset(options={"task_id": "echo/0"})
    _, reward, _, _, info = env.step("a b c d")
    assert info["completion_length"] == 4
    assert reward == pytest.approx(0.0 - 2.0)
    env = OverlongPenalty(echo_env(), max_length=3, cache=1, length_fn=lambda s: 3)
    env.reset(options={"task_id": "echo/0"})
    assert env.step("alpha")[1] == pytest.approx(1.0 - 1.0)


def test_a_made_env_with_the_wrapper_keeps_a_recreatable_spec():
    env = OverlongPenalty(gym.make("rlvr/JSONFormat-v0"), max_length=100, cache=10)
    again = gym.make(env.spec)
    assert isinstance(again, OverlongPenalty) and again.max_length == 100


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError):
        OverlongPenalty(echo_env(), max_length=10, cache=0)
    with pytest.raises(ValueError):
        OverlongPenalty(echo_env(), max_length=10, cache=11)
    with pytest.raises(TypeError):
        OverlongPenalty(echo_env(), max_length=10.5, cache=2)
    with pytest.raises(TypeError):
        OverlongPenalty(echo_env(), max_length=10, cache=2, tokenizer=object())
    with pytest.raises(ValueError):
        OverlongPenalty(
            echo_env(), max_length=10, cache=2, tokenizer=_WordTokenizer(), length_fn=len
        )


def test_composes_with_the_reasoning_wrapper():
    env = OverlongPenalty(ReasoningFormat(echo_env()), max_length=40, cache=10)
    env.reset(options={"task_id": "echo/0"})
    completion = "<think>" + "x" * 30 + "</think>alpha"  # 50 characters: past the maximum
    _, reward, _, _, info = env.step(completion)
    assert info["reward_components"] == {"exact": 1.0, "format": 1.0, "length_penalty": -1.0}
    assert reward == pytest.approx(0.0)
    check_env(env, skip_render_check=True)
