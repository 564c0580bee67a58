"""Reward hacking on reasoning-gym's scorers: the attacks that paid, one test each.

Each attack was found by the battery of ``rg_attacks.py`` (run over every generator by
``test_rg_attack_battery.py``) or by reading the scorer. Every attack must score 0 with a status
that blames the answer, and the generator's own reference must still score 1.
"""

from __future__ import annotations

import threading
import time

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("reasoning_gym")

import rlvr_envs  # noqa: E402, F401 - registers the environments
from rlvr_envs.integrations.reasoning_gym import MULTI_SOLUTION  # noqa: E402
from rlvr_envs.verdict import INFRASTRUCTURE_STATUSES, Status, Verdict  # noqa: E402


def assert_earns_nothing(verdict: Verdict, attack: str) -> None:
    """Reward 0, and a status that is the answer's fault."""
    assert verdict.reward == 0, (attack, verdict.reason)
    assert verdict.status not in INFRASTRUCTURE_STATUSES, (attack, verdict.reason)


def _tasks(name: str, seeds=range(5), **kwargs):
    env = gym.make(f"rlvr/rg-{name}-v0", **kwargs).unwrapped
    for seed in seeds:
        env.reset(seed=seed)
        assert env.verify(env.task.solution, env.task).correct
        yield env, env.task


def _injected(name: str, entry: dict, **kwargs):
    """A task made of a hand-written reasoning-gym item (scored in-process: no worker start)."""
    env = gym.make(f"rlvr/rg-{name}-v0", isolation="none", **kwargs).unwrapped
    env.reset(options={"task": {"prompt": entry["question"], "answer": entry}})
    assert env.verify(f"<answer>{entry['answer']}</answer>", env.task).correct
    return env, env.task


def test_complex_arithmetic_nan_is_not_every_answer():
    # exp(-abs(nan - z)) is nan and min(1.0, nan) is 1.0: "nan" scored 1.0 on every task.
    for env, task in _tasks("complex_arithmetic"):
        real = str(task.answer).split(" ")[0]
        for attack in ["nan", "NaN", "nan + nani", f"{real} + nani", "(nan)", "-nan - nanj"]:
            assert_earns_nothing(env.verify(f"<answer>{attack}</answer>", task), attack)


def test_number_sorting_nan_lists_and_nearby_numbers_are_wrong():
    # float("nan") compares false both ways, so a list of 'nan' is "sorted" and "within 1" of
    # every number; the tolerance of 1 also paid numbers that were never given.
    for env, task in _tasks("number_sorting"):
        numbers = task.answer.entry["metadata"]["sorted_numbers"]
        attacks = [
            str(["nan"] * len(numbers)),
            "[" + ", ".join(["NaN"] * len(numbers)) + "]",
            str(["nan", *numbers[1:]]),
            str([f"{float(n) + 0.5:g}" for n in numbers]),
            str([str(round(float(n))) for n in numbers]) if any("." in n for n in numbers) else "",
            str(["Infinity"] * len(numbers)),
        ]
        for attack in filter(None, attacks):
            if attack != str(numbers):
                assert_earns_nothing(env.verify(f"<answer>{attack}</answer>", task), attack)


def test_coin_flip_zero_is_not_a_tiny_probability():
    # The tolerance was absolute (1e-4): "0" scored 1.0 whenever the probability is below it.
    env = gym.make("rlvr/rg-coin_flip-v0").unwrapped
    env.reset(seed=70)
    task = env.task
    assert float(str(task.answer)) < 1e-4
    for attack in ["0", "0.0", "0.00001", "1/100000"]:
        assert_earns_nothing(env.verify(f"<answer>{attack}</answer>", task), attack)
    for right in ["6.1035e-05", "0.000061035", "1/16384"]:
        assert env.verify(f"<answer>{right}</answer>", task).correct, right


@pytest.mark.parametrize(
    ("numbers", "reference", "attack"),
    [
        ([2, 4, 5, 5], "(5 + 5) * 2 + 4", "2.4 * (5 + 5)"),  # a decimal point joins 2 and 4
        ([5, 5, 2, 4], "(5 + 5) * 2 + 4", "5 * 5 - 2 / 4"),  # 24.5: the scorer took int()
        ([9, 8, 3, 1], "9 * 8 / (3 * 1)", "sqrt(9) * (8 + 1) - 3"),  # a function
    ],
)
def test_puzzle24_needs_exactly_24_from_the_four_numbers_and_the_four_operators(
    numbers, reference, attack
):
    entry = {"question": "Make 24", "answer": reference, "metadata": {"numbers": numbers}}
    env, task = _injected("puzzle24", entry)
    assert_earns_nothing(env.verify(f"<answer>{attack}</answer>", task), attack)


@pytest.mark.parametrize(
    ("numbers", "target", "reference", "attack"),
    [
        ([2, 5, 40, 1], 100, "40 * 5 / 2 * 1", "2.5 * 40 * 1"),  # 2 and 5 joined
        ([16, 3, 2, 1], 9, "16 - 3 * 2 - 1", "sqrt(16) + 3 + 2 * 1"),
    ],
)
def test_countdown_needs_the_given_numbers_and_the_four_operators(
    numbers, target, reference, attack
):
    metadata = {"numbers": numbers, "target": target}
    entry = {"question": "Countdown", "answer": reference, "metadata": metadata}
    env, task = _injected("countdown", entry)
    assert_earns_nothing(env.verify(f"<answer>{attack}</answer>", task), attack)


def test_figlet_font_partial_credit_does_not_reach_one_on_long_words():
    # 0.1 per letter in place, capped at 1.0: ten right letters of a twelve-letter word scored 1.
    for env, task in _tasks("figlet_font", min_word_len=12, max_word_len=14):
        word = str(task.answer)
        attack = word[:-2] + ("xx" if not word.endswith("xx") else "yy")
        assert_earns_nothing(env.verify(f"<answer>{attack}</answer>", task), attack)


@pytest.mark.parametrize("name", ["letter_jumble", "word_sorting"])
def test_word_lists_with_extra_words_are_wrong(name):
    # Word-by-word credit ignores words past the reference's: "<answer> <other words>" scored 1.
    for env, task in _tasks(name):
        reference = str(task.answer)
        extra = ", zebra, yak" if name == "word_sorting" else " zebra yak"
        assert_earns_nothing(env.verify(f"<answer>{reference}{extra}</answer>", task), extra)


def _verify_within(env, completion: str, task, limit_s: float) -> Verdict:
    """The verdict, or a test failure if grading takes longer than ``limit_s``."""
    result: list[Verdict] = []
    worker = threading.Thread(
        target=lambda: result.append(env.verify(completion, task)), daemon=True
    )
    start = time.perf_counter()
    worker.start()
    worker.join(limit_s)
    assert result, f"grading {completion[:40]!r} ran past {limit_s} s (still running)"
    assert time.perf_counter() - start < limit_s
    return result[0]


@pytest.mark.parametrize(
    ("name", "attack"),
    [
        ("rubiks_cube", "R100000000"),  # the scorer expands "R<n>" into n moves, then makes them
        ("rubiks_cube", "U99 " * 500),
        ("rush_hour", "A+100000000000"),  # one step per loop iteration, even when blocked
        ("rush_hour", "A+99 B-99 C+99 " * 80),
    ],
)
def test_move_counts_cannot_stall_the_grader(name, attack):
    # These scorers run in the trainer's process: an answer a dozen characters long kept a
    # grading thread busy for hours.
    env = gym.make(f"rlvr/rg-{name}-v0").unwrapped
    env.reset(seed=0)
    verdict = _verify_within(env, f"<answer>{attack}</answer>", env.task, limit_s=5.0)
    assert_earns_nothing(verdict, attack[:30])
    assert verdict.status is Status.WRONG


def test_n_queens_accepts_any_valid_board_so_check_feeds_it_non_answers():
    # Another task's board can be a valid completion here (8 of 30 in the battery): as a
    # "known-wrong" answer it made `rlvr-envs check` fail on correct behaviour.
    env = gym.make("rlvr/rg-n_queens-v0").unwrapped
    source = env.source
    task = source.make(64718)
    other = source.make(46092)
    verdict = env.verify(other.solution, task)
    assert verdict.correct and str(other.answer) != str(task.answer)
    assert "n_queens" in MULTI_SOLUTION
    for wrong in source.perturb(task, np.random.default_rng(0)):
        assert env.verify(wrong, task).reward == 0, wrong


def test_kakurasu_cells_must_be_zero_or_one():
    # The scorer keeps the characters 0 and 1 of each line: "1e999" read as the cell 1 (3 of 8
    # tasks paid in the battery), and so did any text wrapped around the right digits.
    for env, task in _tasks("kakurasu", seeds=range(3)):
        rows = str(task.answer).split("\n")
        first = rows[0].split(" ")
        for cell in ("1e999", "10", "x1", "1.0"):
            if first[0] == "1":
                attack = "\n".join([" ".join([cell, *first[1:]]), *rows[1:]])
                assert_earns_nothing(env.verify(f"<answer>{attack}</answer>", task), attack)
        wrapped = f"the grid is {rows[0]}\n" + "\n".join(rows[1:])
        assert_earns_nothing(env.verify(f"<answer>{wrapped}</answer>", task), wrapped)


def test_knights_knaves_statements_copied_from_the_question_are_wrong():
    # The scorer collects "<name> is a <role>" pairs and skips every other word: a statement of
    # the question whose pairs happen to be the solution scored 1.0 (3 of 8 tasks in the battery).
    for env, task in _tasks("knights_knaves", seeds=range(3)):
        clauses = [c.strip(" .") for c in str(task.answer).split(", and ")]
        for joiner in (" or ", " if and only if ", ", then "):
            attack = "if " + joiner.join(clauses) if joiner == ", then " else joiner.join(clauses)
            assert_earns_nothing(env.verify(f"<answer>{attack}</answer>", task), attack)
        twice = f"{task.answer} {clauses[0]} and {clauses[0].replace(' a ', ' not a ')}"
        assert_earns_nothing(env.verify(f"<answer>{twice}</answer>", task), twice)
        assert env.verify(f"<answer>{' and '.join(clauses)}</answer>", task).correct


def test_nested_answer_tags_are_wrong_not_read_through():
    # The inner tags left "0.0, 1.5</answer>" as the answer; polynomial_equations drops items that
    # are not numbers, so the hedge "0.0, 1.5" was read as "0.0" and scored 1 (4 of 30 tasks).
    entry = {"question": "Solve x*(2*x - 3) = 0 ... one root", "answer": "0.0", "metadata": {}}
    env, task = _injected("polynomial_equations", entry)
    for attack in [
        "<answer>0.0<answer>0.0, 1.5</answer></answer>",
        "<answer>0.0, 1.5</answer></answer>",
        "<ANSWER>x<answer>0.0, 7</Answer></answer>",
    ]:
        verdict = env.verify(attack, task)
        assert_earns_nothing(verdict, attack)
        assert verdict.status is Status.WRONG
