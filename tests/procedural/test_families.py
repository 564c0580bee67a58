"""The native procedural families: presets, knobs, reference-free checkers, solvers."""

from __future__ import annotations

import dataclasses
import random

import gymnasium as gym
import numpy as np
import pytest

import rlvr_envs  # noqa: F401 - registers the environments
from rlvr_envs.envs import NATIVE_ENVS
from rlvr_envs.envs.procedural import FAMILIES, family_env
from rlvr_envs.envs.procedural.common import wrap_answer
from rlvr_envs.tasks import Task

FAMILY_LEVELS = [(name, level) for name, f in FAMILIES.items() for level in f.levels]


def _tasks(env, n: int = 6, seed: int = 0) -> list[Task]:
    rng = np.random.default_rng(seed)
    return [env.source.sample(rng) for _ in range(n)]


def _verify(env, answer: str, task: Task):
    return env.verify(wrap_answer(answer, "tags"), task)


def test_every_family_is_registered_under_its_id():
    assert sorted(family for _, family, _ in NATIVE_ENVS) == sorted(FAMILIES)
    for env_id, family, _ in NATIVE_ENVS:
        env = gym.make(env_id)
        assert env.unwrapped.source.family is FAMILIES[family]


@pytest.mark.parametrize(("name", "level"), FAMILY_LEVELS)
def test_solver_answers_pass_and_perturbed_ones_fail(name, level):
    family = FAMILIES[name]
    env = family_env(family, level=level)
    rng = np.random.default_rng(level)
    for task in _tasks(env):
        answer = family.solve(task)
        verdict = _verify(env, answer, task)
        assert verdict.correct, (task.prompt, answer, verdict.reason)
        wrongs = family.perturb(task, answer, random.Random(0))
        assert wrongs
        for wrong in wrongs:
            verdict = _verify(env, wrong, task)
            assert verdict.reward == 0.0, (task.prompt, wrong)
        assert env.perturb(dataclasses.replace(task, solution=wrap_answer(answer, "tags")), rng)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_the_verifier_never_calls_the_solver(name):
    def no_solver(task):
        raise AssertionError("the verifier called the solver")

    family = FAMILIES[name]
    env = family_env(dataclasses.replace(family, solve=no_solver))
    for task in _tasks(env, 3):
        assert env.verify(wrap_answer(family.solve(task), "tags"), task).correct


@pytest.mark.parametrize("env_id", [e for e, _, _ in NATIVE_ENVS])
def test_the_same_seed_gives_the_same_task_and_levels_differ(env_id):
    a, b = gym.make(env_id, level=1), gym.make(env_id, level=1)
    assert a.reset(seed=5)[0] == b.reset(seed=5)[0]
    assert a.reset(seed=5)[0] != a.reset(seed=6)[0]
    hard = gym.make(env_id, level=5)
    _, info = hard.reset(seed=5)
    assert ":" in info["task_id"] and "/L5:" in info["task_id"]
    assert hard.unwrapped.source.get(info["task_id"]).prompt == hard.unwrapped.task.prompt


def test_knobs_override_the_preset_and_change_task_ids():
    env = gym.make("rlvr/Countdown-v0", level=2, num_numbers=5)
    _, info = env.reset(seed=0)
    assert len(info["metadata"]["numbers"]) == 5
    assert info["task_id"].startswith("countdown/L2-")
    plain = gym.make("rlvr/Countdown-v0", level=2)
    assert plain.reset(seed=0)[1]["task_id"].startswith("countdown/L2:")


@pytest.mark.parametrize(
    ("env_id", "kwargs", "message"),
    [
        ("rlvr/Countdown-v0", {"level": 9}, "level must be one of"),
        ("rlvr/Countdown-v0", {"num_numbers": 9}, "num_numbers"),
        ("rlvr/Sudoku-v0", {"blanks": 81}, "blanks"),
        ("rlvr/MiniSudoku-v0", {"box_rows": 5}, "boxes"),
        ("rlvr/KnightsKnaves-v0", {"kinds": "is,maybe"}, "kinds"),
        ("rlvr/GraphShortestPath-v0", {"min_hops": 50}, "min_hops"),
        ("rlvr/GraphConnectivity-v0", {"num_components": 0}, "num_components"),
        ("rlvr/Cryptarithm-v0", {"max_length": 9}, "max_length"),
        ("rlvr/Sorting-v0", {"order": "sideways"}, "order"),
        ("rlvr/StringManipulation-v0", {"alphabet": "ab"}, "alphabet"),
        ("rlvr/Sorting-v0", {"answer_format": "xml"}, "answer_format"),
    ],
)
def test_bad_knobs_are_refused_with_a_clear_error(env_id, kwargs, message):
    with pytest.raises(ValueError, match=message):
        gym.make(env_id, **kwargs)


def test_boxed_answer_format():
    env = gym.make("rlvr/Sorting-v0", answer_format="boxed")
    prompt, _ = env.reset(seed=0)
    assert "\\boxed{}" in prompt and "<answer>" not in prompt
    answer = FAMILIES["sorting"].solve(env.unwrapped.task)
    assert env.step(f"So: \\boxed{{{answer}}}")[1] == 1.0
    env.reset(seed=0)
    _, _, _, _, info = env.step(f"\\boxed{{{answer}}} or \\boxed{{{answer[::-1]}}}")
    assert info["verdict"]["status"] == "wrong" and "adjacent" in info["verdict"]["reason"]


def test_countdown_metadata_and_rules():
    env = gym.make("rlvr/Countdown-v0", level=3).unwrapped
    task = _tasks(env, 1)[0]
    numbers, target = task.metadata["numbers"], task.metadata["target"]
    assert task.answer == {"numbers": numbers, "target": target}
    answer = FAMILIES["countdown"].solve(task)
    assert _verify(env, f"{answer} = {target}", task).correct
    unicode = answer.replace("*", "×").replace("/", "÷").replace("-", "−")
    assert _verify(env, unicode, task).correct
    assert "not" in _verify(env, f"{answer} = {target + 1}", task).reason
    assert not _verify(env, str(target), task).correct  # the target itself is not a given number


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("3 + ", "ends with an operator"),
        ("(3 + 4", "unbalanced '('"),
        ("3 + 4)", "unbalanced ')'"),
        ("3 4", "two numbers in a row"),
        ("3(4)", "implicit products"),
        ("-3 + 4", "without a left operand"),
        ("3 / (4 - 4)", "division by zero"),
        ("3 ** 4", "without a left operand"),
        ("3 ^ 4", "unexpected character '^'"),
        ("x + 1", "unexpected character 'x'"),
    ],
)
def test_countdown_rejects_malformed_expressions_with_a_reason(expression, reason):
    task = Task("t", "", {"numbers": [3, 4, 4, 1], "target": 7})
    verdict = FAMILIES["countdown"].check(expression, task)
    assert verdict.status.value == "wrong" and reason in verdict.reason


def test_countdown_numbers_may_be_used_at_most_as_often_as_given():
    task = Task("t", "", {"numbers": [5, 5, 2], "target": 12})
    check = FAMILIES["countdown"].check
    assert check("5 + 5 + 2", task).correct
    assert check("(5 + 5) / 5 * 2 * 3", task).status.value == "wrong"  # three fives, and a 3
    assert check("2 * 5 + 2", task).status.value == "wrong"  # two twos


def test_knights_and_knaves_answer_forms():
    env = gym.make("rlvr/KnightsKnaves-v0", level=3).unwrapped
    task = _tasks(env, 1)[0]
    names = task.answer["names"]
    answer = FAMILIES["knights_knaves"].solve(task)
    roles = dict(part.split(": ") for part in answer.split(", "))
    prose = ", ".join(f"{n} is a {roles[n]}" for n in names[:-1])
    prose += f", and {names[-1]} is a {roles[names[-1]]}."
    assert _verify(env, prose, task).correct
    assert _verify(
        env, "\n".join(f"{n.upper()} - {roles[n]}" for n in reversed(names)), task
    ).correct
    both = f"{answer}, {names[0]} is a knight or a knave"
    assert not _verify(env, both, task).correct
    assert "Zed" in _verify(env, f"{answer}, Zed: knight", task).reason


# family, task data, answers that must pass, (answer, part of the reason) pairs that must fail
CHECKER_CASES = [
    (
        "mini_sudoku",
        {"puzzle": [[1, 2, 3, 4], [3, 4, 1, 2], [0] * 4, [0] * 4], "box_rows": 2, "box_cols": 2},
        [
            "1 2 3 4\n3 4 1 2\n2 1 4 3\n4 3 2 1",
            "1 2 3 4\n3 4 1 2\n2 3 4 1\n4 1 2 3",  # the other valid completion
            "1234\n3412\n2143\n4321",
            "1 2 | 3 4\n3 4 | 1 2\n----+----\n2 1 | 4 3\n4 3 | 2 1",
        ],
        [
            ("2 1 3 4\n3 4 1 2\n1 2 4 3\n4 3 2 1", "given"),
            ("1 2 3 4\n3 4 1 2\n2 1 4 3\n2 1 4 3", "repeats"),
            ("1 2 3 4\n3 4 1 2\na b c d\n4 3 2 1", "not a digit"),
            ("1 2 3 4\n3 4 1 2\n2 1 4 3\n4 3 2 10", "not a digit"),
            ("1 2 3 4\n3 4 1 2", "rows"),
        ],
    ),
    (
        "graph_shortest_path",
        {
            "edges": [[0, 1, 1], [1, 3, 1], [0, 2, 1], [2, 3, 1], [3, 4, 1]],
            "num_nodes": 5,
            "source": 0,
            "target": 4,
            "distance": 3,
        },
        ["0 1 3 4", "0 -> 2 -> 3 -> 4"],
        [("0 3 4", "not an edge"), ("0 1 0 2 3 4", "length 5"), ("0 1 3 9", "no node")],
    ),
    (
        "graph_connectivity",
        {"edges": [[0, 1, 1], [2, 3, 1]], "num_nodes": 5},
        ["4\n3 2\n1 0", "0 1\n2 3\n4"],
        [
            ("0\n1\n2 3\n4", "different groups"),
            ("0 1 4\n2 3", "not connected"),
            ("0 1\n1 2 3\n4", "more than once"),
        ],
    ),
    (
        "cryptarithm",
        {"words": ["A", "B", "CD"]},  # A + B = CD has several solutions
        ["A=9, B=3, C=1, D=2", "A=8, B=5, C=1, D=3", "a: 9; b: 3; c = 1, d -> 2"],
        [
            ("A=9, B=2, C=1, D=1", "share"),
            ("A=3, B=2, C=0, D=5", "starts"),
            ("A=9, A=8, B=3, C=1, D=2", "two digits"),
            ("A=9, B=3, C=1, D=2 (I think)", "cannot read"),
        ],
    ),
    (
        "sorting",
        {"numbers": ["2.5", "-1", "10"], "order": "descending"},
        ["10, 2.50, -1", "[10.0, 2.5, −1]"],
        [
            ("-1, 2.5, 10", "order"),
            ("10, 2.5", "each exactly once"),
            ("10, 2.5, -1, and done", "not a number"),
        ],
    ),
]


@pytest.mark.parametrize(("family", "data", "good", "bad"), CHECKER_CASES)
def test_checkers_accept_every_valid_answer_and_say_why_others_fail(family, data, good, bad):
    task = Task("t", "", data)
    check = FAMILIES[family].check
    for answer in good:
        assert check(answer, task).correct, answer
    for answer, reason in bad:
        verdict = check(answer, task)
        assert verdict.status.value == "wrong" and reason in verdict.reason, (answer, verdict)


def test_string_edits_are_exact_and_copying_the_start_fails():
    env = gym.make("rlvr/StringManipulation-v0", level=4).unwrapped
    for task in _tasks(env, 20):
        result = FAMILIES["string_manipulation"].solve(task)
        assert result != task.answer["start"]
        assert _verify(env, f'"{result}"', task).correct
        assert not _verify(env, result.swapcase(), task).correct or result.swapcase() == result
        assert not _verify(env, task.answer["start"], task).correct
