"""Record and replay grades correct solutions correctly, and the hacks still score 0."""

from __future__ import annotations

import pytest

from rlvr_envs import Status
from rlvr_envs.verifiers.code import verify


def fence(code: str) -> str:
    return f"```python\n{code}\n```"


def test_arguments_mutated_in_place_are_replayed(local_box):
    code = "def sort_inplace(l):\n    l.sort()\n"
    tests = [
        "l = [3, 1, 2]",
        "sort_inplace(l)",
        "assert l == [1, 2, 3]",
        "grid = [[2, 1], [4, 3]]",
        "inner = grid[0]",
        "for row in grid:\n    sort_inplace(row)",
        "assert grid == [[1, 2], [3, 4]] and inner == [1, 2]",
    ]
    assert verify(fence(code), tests, "sort_inplace", sandbox=local_box).correct
    lazy = verify(
        fence("def sort_inplace(l):\n    return sorted(l)"),
        tests,
        "sort_inplace",
        sandbox=local_box,
    )
    assert lazy.status is Status.WRONG, lazy


def test_dict_and_set_arguments_mutated_in_place(local_box):
    code = "def fill(d, s):\n    d['k'] = 1\n    s.add(2)\n    s.discard(1)\n"
    tests = ["d, s = {}, {1}", "fill(d, s)", "assert d == {'k': 1} and s == {2}"]
    assert verify(fence(code), tests, "fill", sandbox=local_box).correct


def test_module_constants_of_the_solution(local_box):
    code = "LIMIT = 10\nNAMES = ('a', 'b')\ndef f():\n    return 10\n"
    tests = ["assert f() == LIMIT", "assert NAMES[1] == 'b'", "assert LIMIT == 10"]
    assert verify(fence(code), tests, "f", sandbox=local_box).correct
    wrong = verify(
        fence("LIMIT = 11\nNAMES = ()\ndef f():\n    return 10\n"), tests, "f", sandbox=local_box
    )
    assert wrong.status is Status.WRONG, wrong


def test_a_missing_constant_is_the_candidates_fault(local_box):
    verdict = verify(
        fence("def f():\n    return 10\n"), ["assert f() == LIMIT"], "f", sandbox=local_box
    )
    assert verdict.status is Status.RUNTIME_ERROR, verdict


@pytest.mark.parametrize("depth", [30, 150])
def test_long_chains_of_dependent_calls(local_box, depth):
    tests = f"x = 0\nfor _ in range({depth}):\n    x = inc(x)\nassert x == {depth}"
    verdict = verify(fence("def inc(x):\n    return x + 1"), tests, "inc", sandbox=local_box)
    assert verdict.correct, verdict
    assert verdict.details["rounds"] <= 2, verdict.details


def test_chains_through_operators_are_batched(local_box):
    tests = "x = 0\nfor _ in range(100):\n    x = inc(x) * 1 + 1\nassert x == 200"
    verdict = verify(fence("def inc(x):\n    return x + 1"), tests, "inc", sandbox=local_box)
    assert verdict.correct, verdict
    assert verdict.details["rounds"] <= 2, verdict.details


def test_json_sourced_cases_compare_as_json(local_box):
    cases = [
        {"input": [1], "output": [1, 1]},
        {"input": [2], "output": 2},
        {"input": [3], "output": {"3": [3.0]}},
    ]
    code = (
        "def f(x):\n    if x == 1: return (1, 1)\n    if x == 2: return 2.0\n    return {3: (3,)}\n"
    )
    assert verify(fence(code), cases, "f", sandbox=local_box).correct
    strict = verify(fence(code), cases, "f", sandbox=local_box, compare="strict")
    assert strict.status is Status.WRONG, strict
    for wrong in (
        "def f(x):\n    return [True, True] if x == 1 else True",
        "def f(x):\n    return float('nan')",
        "def f(x):\n    return {1, 1} if x == 1 else '2'",
    ):
        verdict = verify(fence(wrong), cases, "f", sandbox=local_box, reward="fraction")
        assert verdict.reward == 0.0, (wrong, verdict)


def test_python_given_cases_stay_type_strict(local_box):
    cases = [{"input": [2], "output": (2, 2)}]
    assert verify(fence("def f(x):\n    return (x, x)"), cases, "f", sandbox=local_box).correct
    listy = verify(fence("def f(x):\n    return [x, x]"), cases, "f", sandbox=local_box)
    assert listy.status is Status.WRONG, listy


@pytest.mark.parametrize(
    "code",
    [
        "class A:\n    def __eq__(self, o): return True\n    def __hash__(self): return 0\n"
        "def f(x):\n    return A()",
        "class I(int):\n    def __eq__(self, o): return True\n    __hash__ = int.__hash__\n"
        "def f(x):\n    return I(0)",
        "def f(x):\n    return float('nan')",
        "def f(x):\n    x.clear()\n    x.append(float('nan'))",
    ],
)
@pytest.mark.parametrize(
    "tests",
    [
        ["l = [1, 2]", "assert f(l) == [1, 2] or l == [2, 1]"],
        [{"input": [[1, 2]], "output": [2, 1]}],
    ],
)
def test_hacks_against_the_new_replay_still_score_zero(local_box, code, tests):
    verdict = verify(fence(code), tests, "f", sandbox=local_box, reward="fraction")
    assert verdict.reward == 0.0 and verdict.status in (Status.WRONG, Status.RUNTIME_ERROR), verdict
