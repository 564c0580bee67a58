"""The code verifier's behaviour apart from hacks: extraction, statuses, the three test styles."""

from __future__ import annotations

import pytest

from rlvr_envs import Status
from rlvr_envs.verifiers.code import extract_code, verify
from rlvr_envs.verifiers.code._runner import (
    Opaque,
    from_plain,
    has_reference,
    has_tag,
    to_plain,
)
from rlvr_envs.verifiers.code.harness import HarnessError, TestProgram

ADD_TESTS = (
    "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(0, 0) == 0\n"
)


def fence(code, lang="python"):
    return f"Here you go:\n```{lang}\n{code}\n```\nDone."


# --- extraction --------------------------------------------------------------------------------


def test_extract_last_python_block():
    text = "```python\nx = 1\n```\nthen\n```py\ny = 2\n```\n```text\nnot code\n```"
    assert extract_code(text) == ("y = 2\n", "")


def test_extract_raw_text_without_fences():
    assert extract_code("def f():\n    return 1\n")[0].startswith("def f")


@pytest.mark.parametrize(
    "text, why",
    [
        ("", "empty response"),
        ("   \n", "empty response"),
        ("```python\n\n```", "empty code block"),
        ("```javascript\nconsole.log(1)\n```", "javascript"),
    ],
)
def test_extract_failures(text, why):
    code, reason = extract_code(text)
    assert code is None and why in reason


# --- plain data --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -5,
        2**80,
        1.5,
        float("inf"),
        "ünï",
        [1, [2]],
        (1, "a"),
        {1, 2},
        frozenset({3}),
        {"a": (1, 2), 3: None},
        b"\x00\xff",
        1 + 2j,
    ],
)
def test_plain_round_trip_is_type_exact(value):
    back = from_plain(to_plain(value))
    assert back == value and type(back) is type(value)


def test_references_are_found_at_any_depth():
    """``has_tag`` walks a plain form without recursion: at any depth, in lists and mapping
    values, and a form nested thousands deep answers instead of exhausting the stack."""
    ref = {"__result": 0}
    assert has_reference([1, {"__dict": [["k", [2, ref]]]}])
    assert not has_reference([1, {"__dict": [["__result", 3]]}, "__ref"])
    assert has_tag({"__iter": []}, ("__iter",)) and not has_tag([[[]]], ("__iter",))
    deep: list = [ref]
    for _ in range(5000):
        deep = [deep]
    assert has_reference(deep) and not has_reference(deep[0][0][1:])


def test_plain_rejects_or_masks_non_plain_values():
    class Sneaky(int):
        pass

    with pytest.raises(TypeError):
        to_plain(Sneaky(1))
    masked = from_plain(to_plain(Sneaky(1), opaque=True))
    assert isinstance(masked, Opaque) and masked != 1 and bool(masked)


# --- statuses -------------------------------------------------------------------------------------


def test_correct_and_wrong(local_box):
    ok = verify(fence("def add(a, b):\n    return a + b"), ADD_TESTS, "add", sandbox=local_box)
    assert ok.correct and ok.reward == 1.0 and ok.details["total"] == 2
    bad = verify(fence("def add(a, b):\n    return a - b"), ADD_TESTS, "add", sandbox=local_box)
    assert bad.status is Status.WRONG and "assert #1" in bad.reason and bad.reward == 0.0


def test_fraction_reward(local_box):
    code = fence("def add(a, b):\n    return 5")
    verdict = verify(code, ADD_TESTS, "add", sandbox=local_box, reward="fraction")
    assert verdict.status is Status.WRONG and verdict.reward == 0.5


BAD_RESPONSES = [
    ("", Status.NO_CODE),
    ("I would write a function that adds.", Status.SYNTAX_ERROR),
    (fence("console.log(1)", "js"), Status.NO_CODE),
    (fence("def add(a, b)\n    return a + b"), Status.SYNTAX_ERROR),
    (fence("def add(a, b):\n    raise ValueError('no')"), Status.RUNTIME_ERROR),
    (
        fence("import missing_module_xyz\ndef add(a, b):\n    return a + b"),
        Status.RUNTIME_ERROR,
    ),
    (fence("def other(a, b):\n    return a + b"), Status.RUNTIME_ERROR),
    (fence("def add(a, b):\n    while True: pass"), Status.TIMEOUT),
    (fence("def add(a, b):\n    x = bytearray(2**34)"), Status.MEMORY_LIMIT),
    (fence("def add(a, b):\n    print('x' * 10**8)\n    return a + b"), Status.OUTPUT_LIMIT),
    ("x" * 1_000_000, Status.INVALID_INPUT),
    ("```python\nprint('\udcff')\n```", Status.INVALID_INPUT),
]


@pytest.mark.parametrize("response, status", BAD_RESPONSES)
def test_bad_responses_get_a_clear_status_quickly(response, status, local_box):
    verdict = verify(response, ADD_TESTS, "add", sandbox=local_box, timeout_s=2)
    assert verdict.status is status, verdict
    assert verdict.reward == 0.0 and verdict.elapsed_s < 10


def test_non_string_response_is_a_type_error():
    with pytest.raises(TypeError):
        verify(b"def add(): pass", ADD_TESTS, "add")


def test_completion_style_answer_gets_the_prompt_prefix(local_box):
    prompt = 'def add(a, b):\n    """Add two numbers."""\n'
    verdict = verify(
        "    return a + b\n", ADD_TESTS, "add", sandbox=local_box, prefix=prompt, setup=prompt
    )
    assert verdict.correct, verdict


@pytest.mark.parametrize("depth", [3000, 40000])
def test_nesting_too_deep_to_parse_is_the_candidates_syntax_error(depth, local_box):
    """Whether a completion defines the entry point itself is decided on its parsed tree: nesting
    too deep for the parser (a RecursionError, or a MemoryError deeper still) is a syntax error
    of the candidate's, not a crash of the verifier."""
    code = fence("def add(a, b):\n    return a + b\nx = " + "not " * depth + "1")
    prompt = 'def add(a, b):\n    """Add two numbers."""\n'
    verdict = verify(code, ADD_TESTS, "add", sandbox=local_box, prefix=prompt, setup=prompt)
    assert verdict.status is Status.SYNTAX_ERROR, verdict


# --- the three test styles -------------------------------------------------------------------------


def test_mbpp_asserts_with_shadowed_builtin_and_imported_module(local_box):
    code = fence(
        "import sys\ndef sum(a, b):\n    return a + b\ndef size(t):\n    return sys.getsizeof(t)"
    )
    tests = ["assert sum(1, 2) == 3", "assert size((1, 2)) == sys.getsizeof((1, 2))"]
    assert verify(code, tests, "sum", sandbox=local_box).correct


def test_dependent_calls_run_in_one_round(local_box):
    tests = (
        "assert inc(inc(inc(100))) == 103\nassert [inc(i) for i in range(50)] == list(range(1, 51))"
    )
    verdict = verify(fence("def inc(x):\n    return x + 1"), tests, "inc", sandbox=local_box)
    assert verdict.correct and verdict.details["rounds"] == 1


def test_seeded_random_tests_are_replayed_identically(local_box):
    tests = (
        "def check(candidate):\n"
        "    import random\n"
        "    for _ in range(30):\n"
        "        s = ''.join(random.choice('abc') for _ in range(random.randint(1, 9)))\n"
        "        assert candidate(s) == s[::-1]\n"
    )
    assert verify(fence("def rev(s):\n    return s[::-1]"), tests, "rev", sandbox=local_box).correct


def test_expected_exceptions(local_box):
    tests = (
        "def check(candidate):\n"
        "    try:\n"
        "        candidate(-1)\n"
        "        assert False, 'should raise'\n"
        "    except ValueError:\n"
        "        pass\n"
        "    assert candidate(4) == 2\n"
    )
    good = "def root(x):\n    if x < 0: raise ValueError('negative')\n    return int(x ** 0.5)"
    assert verify(fence(good), tests, "root", sandbox=local_box).correct
    lax = "def root(x):\n    return int(abs(x) ** 0.5)"
    assert verify(fence(lax), tests, "root", sandbox=local_box).status is Status.WRONG


def test_function_cases_can_be_type_strict(local_box):
    cases = [{"input": [2], "output": 4}, {"input": [3], "output": 9}]
    assert verify(fence("def sq(x):\n    return x * x"), cases, "sq", sandbox=local_box).correct
    floats = verify(
        fence("def sq(x):\n    return float(x * x)"),
        cases,
        "sq",
        sandbox=local_box,
        compare="strict",
    )
    assert floats.status is Status.WRONG and "returned 4.0" in floats.reason
    with pytest.raises(ValueError, match="entry_point"):
        verify(fence("x"), cases, None, sandbox=local_box)


def test_stdin_stdout_cases(local_box):
    cases = [{"stdin": "1 2\n", "stdout": "3\n"}, {"stdin": "10 -4\n", "stdout": "6"}]
    good = fence("a, b = map(int, input().split())\nprint(a + b)   ")
    assert verify(good, cases, sandbox=local_box).correct
    wrong = verify(fence("print(3)"), cases, sandbox=local_box, reward="fraction")
    assert wrong.status is Status.WRONG and wrong.reward == 0.5
    crash = verify(fence("print(3)\nraise SystemExit(1)"), cases, sandbox=local_box)
    assert crash.status is Status.RUNTIME_ERROR


def test_harness_rejects_tests_it_cannot_decide():
    with pytest.raises(HarnessError, match="no assert"):
        TestProgram("x = 1", entry_point="f")
    with pytest.raises(HarnessError, match="do not parse"):
        TestProgram("assert (", entry_point="f")


def test_tests_passing_objects_to_the_candidate_are_an_error_verdict(local_box):
    tests = "class Node:\n    pass\nassert depth(Node()) == 1"
    verdict = verify(fence("def depth(n):\n    return 1"), tests, "depth", sandbox=local_box)
    assert verdict.status is Status.ERROR and "cannot run it in isolation" in verdict.reason


def test_jobs_find_the_runner_warmed_in_the_template(box):
    """The runner's ``__worker_warm__`` ran in the worker before its template forked: a job finds
    the runner's functions in CPython's specialised form before it has run any of them."""
    from rlvr_envs.verifiers.code.running import RUNNER_MODULE

    probe = (
        "import dis, sys\n"
        f"runner = sys.modules[{RUNNER_MODULE!r}]\n"
        "def specialised(f):\n"
        "    names = [i.opname for i in dis.get_instructions(f)]\n"
        "    return names != [i.opname for i in dis.get_instructions(f, adaptive=True)]\n"
        "functions = (runner.run_request, runner.Session.run, runner.to_plain, runner._read)\n"
        "print([specialised(f) for f in functions])"
    )
    result = box.run_python(probe)
    assert result.stdout == b"[True, True, True, True]\n", result


def test_the_runner_runs_from_source_on_another_interpreter(local_box, monkeypatch):
    """The runner travels compiled for this interpreter; another one compiles its source."""
    from rlvr_envs.verifiers.code import running

    files = dict(running.runner_files(), **{"runner.tag": "other-interpreter"})
    monkeypatch.setattr(running, "runner_files", lambda: files)
    verdict = verify(fence("def add(a, b):\n    return a + b"), ADD_TESTS, "add", sandbox=local_box)
    assert verdict.correct, verdict
