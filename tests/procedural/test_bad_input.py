"""Hostile completions on the procedural checkers: bounded time, a clear status, never a crash."""

from __future__ import annotations

import time
from fractions import Fraction

import gymnasium as gym
import numpy as np
import pytest

import rlvr_envs  # noqa: F401 - registers the environments
from rlvr_envs.envs import NATIVE_ENVS
from rlvr_envs.envs.procedural import FAMILIES
from rlvr_envs.envs.procedural.countdown import ExpressionError, evaluate_expression

NATIVE_IDS = [e for e, _, _ in NATIVE_ENVS]
MEGABYTE = "7" * (1 << 20)
DEEP = "(" * 10_000 + "3 + 4" + ")" * 10_000


def _task(env_id: str, **kwargs):
    env = gym.make(env_id, **kwargs).unwrapped
    env.reset(seed=0)
    return env, env.task


def _timed(env, completion, task, limit_s: float = 1.0):
    start = time.perf_counter()
    verdict = env.verify(completion, task)
    assert time.perf_counter() - start < limit_s, completion[:80]
    return verdict


@pytest.mark.parametrize("env_id", NATIVE_IDS)
def test_a_megabyte_answer_is_invalid_input_without_being_parsed(env_id):
    env, task = _task(env_id)
    verdict = _timed(env, f"<answer>{MEGABYTE}</answer>", task)
    assert verdict.status.value == "invalid_input" and "over the limit" in verdict.reason
    # Through step(), the environment's own action limit answers first.
    gym_env = gym.make(env_id)
    gym_env.reset(seed=0)
    _, reward, terminated, _, info = gym_env.step(f"<answer>{MEGABYTE}</answer>")
    assert reward == 0.0 and terminated and info["verdict"]["status"] == "invalid_input"


@pytest.mark.parametrize("env_id", NATIVE_IDS)
@pytest.mark.parametrize(
    "answer",
    [
        DEEP[:9_000],
        "(" * 4_000 + ")" * 4_000,
        "9" * 9_000,
        "2**99999999**99999999",
        "9^9^9^9",
        "x" * 9_000,
        "\u0000\ufffd" * 1000,
        "<answer>" * 1000,
        "\n" * 9_000,
        ", " * 4_000,
        "0 " * 4_000,
        "A=1, " * 1_500,
        "Alice: knight, " * 600,
    ],
)
def test_hostile_answers_are_wrong_in_bounded_time(env_id, answer):
    env, task = _task(env_id, level=5)
    verdict = _timed(env, f"<answer>{answer}</answer>", task)
    assert verdict.reward == 0.0 and verdict.status.value in ("wrong", "no_answer", "invalid_input")


def test_ten_thousand_nested_parentheses():
    env, task = _task("rlvr/Countdown-v0")
    verdict = _timed(env, f"<answer>{DEEP}</answer>", task)
    assert verdict.status.value == "invalid_input" and "characters" in verdict.reason
    # The parser itself is iterative: no recursion limit, linear time.
    start = time.perf_counter()
    assert evaluate_expression(DEEP) == (Fraction(7), [3, 4])
    assert evaluate_expression("(" * 100_000 + "1" + ")" * 100_000)[0] == 1
    assert time.perf_counter() - start < 2.0
    with pytest.raises(ExpressionError, match="unbalanced"):
        evaluate_expression("(" * 50_000 + "1")


@pytest.mark.parametrize(
    "answer",
    [
        "2**1000000",
        "2^1000000",
        "10**10**10",
        "1e999999999",
        "99999999999999999999 * 2",
        "2" + "*2" * 800,
    ],
)
def test_countdown_has_no_exponent_and_no_foreign_numbers(answer):
    env, task = _task("rlvr/Countdown-v0", level=5)
    verdict = _timed(env, f"<answer>{answer}</answer>", task)
    assert verdict.status.value == "wrong", verdict.reason


@pytest.mark.parametrize(
    "grid",
    [
        "a b c d e f g h i\n" * 9,
        "NaN " * 81,
        "1.5 2 3 4 5 6 7 8 9\n" * 9,
        "-1 2 3 4 5 6 7 8 9\n" * 9,
        "123456789" * 9,
        "1 2 3 4 5 6 7 8 9\n" * 10_00,
        "١٢٣٤٥٦٧٨٩\n" * 9,  # Arabic-Indic digits are digits to str.isdigit, but not 1-9 here
        "{}",
        "[[1,2,3,4,5,6,7,8,9]]",
    ],
)
def test_non_numeric_or_malformed_grids_are_wrong(grid):
    env, task = _task("rlvr/Sudoku-v0")
    verdict = _timed(env, f"<answer>{grid}</answer>", task)
    assert verdict.status.value in ("wrong", "invalid_input") and verdict.reward == 0.0


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_trivial_completions_earn_nothing(family):
    env_id = next(e for e, f, _ in NATIVE_ENVS if f == family)
    env = gym.make(env_id).unwrapped
    for seed in range(5):
        prompt, _ = env.reset(seed=seed)
        task = env.task
        for completion in ["0", "", "{}", prompt, "<answer>0</answer>", "<answer>{}</answer>"]:
            assert env.verify(completion, task).reward == 0.0, (family, completion[:60])
        assert env.verify(f"<answer>{prompt}</answer>", task).reward == 0.0
        assert env.verify(f"<answer>{task.prompt}</answer>", task).reward == 0.0


def test_every_verdict_is_bounded_for_random_printable_noise():
    rng = np.random.default_rng(0)
    alphabet = np.array(list("0123456789 ()+-*/=,:;\n|abcdeABCDE.→-knightknave"))
    for env_id in NATIVE_IDS:
        env, task = _task(env_id)
        for _ in range(50):
            noise = "".join(rng.choice(alphabet, size=int(rng.integers(1, 400))))
            assert _timed(env, f"<answer>{noise}</answer>", task, 0.5).reward in (0.0, 1.0)
