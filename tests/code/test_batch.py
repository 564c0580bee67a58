"""``verify_batch``: the verdicts of ``verify`` one by one, many answers in flight at once.

The equivalence test runs every hostile case of the other test modules (reward hacks, attacks on
the runner's results, stalls of the host passes, a job that kills its worker, replay hacks,
bad responses) both ways on every backend; the reference suites are compared in
``test_code_envs``. The rest covers the batch API, the tests prepared once per task, the judge
round trips that passes share, and parsing from many threads.
"""

from __future__ import annotations

import ast
import gc
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

import pytest

from rlvr_envs import Status, Task
from rlvr_envs.verifiers.code import CodeVerifier, clear_caches, programs, verify, verify_batch
from rlvr_envs.verifiers.code.harness import parse_quietly
from rlvr_envs.verifiers.code.judge import JudgeBreach, JudgePool

from .test_candidate_faults import (
    _FIND_RESULTS,
    CASES,
    KILLS_ITS_WORKER,
    MBPP,
    RESULTS_ATTACKS,
    STALLS,
)
from .test_code_verifier import ADD_TESTS, BAD_RESPONSES
from .test_reward_hacking import HACKS, HONEST, STYLES
from .verdicts import decided

REPLAY_CASES = [
    (
        "def sort_inplace(l):\n    l.sort()\n",
        ["l = [3, 1, 2]", "sort_inplace(l)", "assert l == [1, 2, 3]"],
        "sort_inplace",
    ),
    ("LIMIT = 10\ndef f():\n    return 10\n", ["assert f() == LIMIT"], "f"),
    (
        "def inc(x):\n    return x + 1\n",
        "x = 0\nfor _ in range(150):\n    x = inc(x)\nassert x == 150",
        "inc",
    ),
    (
        "def f(x):\n    x.clear()\n    x.append(float('nan'))\n",
        ["l = [1, 2]", "assert f(l) == [1, 2] or l == [2, 1]"],
        "f",
    ),
    (
        "class S:\n    def __init__(self): self.items = []\n"
        "def make():\n    return S()\ndef push(s, x):\n    s.items.append(x)\ndef pop(s):\n    return s.items.pop()\n",
        ["s = make()", "push(s, 1)", "push(s, 2)", "assert pop(s) == 2", "assert pop(s) == 1"],
        "make",
    ),
]


def fence(code: str) -> str:
    return f"```python\n{code}```"


def hostile_cases() -> list[tuple[str, object, str]]:
    """(response, tests, entry point) of every hostile and honest case, each test style."""
    cases = []
    for style in sorted(STYLES):
        tests = STYLES[style]["tests"]
        cases.append((fence(HONEST), tests, "add"))
        cases += [(fence(HACKS[name]), tests, "add") for name in sorted(HACKS)]
        cases.append((fence(KILLS_ITS_WORKER), tests, "add"))
    for tests in (MBPP, CASES):
        for name in sorted(RESULTS_ATTACKS):
            code = _FIND_RESULTS + "def add(a, b):\n    return 0\n" + RESULTS_ATTACKS[name]
            cases.append((fence(code), tests, "add"))
    for code, tests, _ in STALLS.values():
        cases.append((fence(code), tests, code.split("(")[0].removeprefix("def ")))
    cases += [(fence(code), tests, entry) for code, tests, entry in REPLAY_CASES]
    cases += [(response, ADD_TESTS, "add") for response, _ in BAD_RESPONSES]
    return cases


@pytest.mark.slow
def test_verify_batch_matches_verify_on_every_hostile_case(box):
    cases = hostile_cases()
    options = {"sandbox": box, "timeout_s": 1.5, "reward": "fraction"}
    one_by_one = [verify(r, t, e, **options) for r, t, e in cases]
    batch = verify_batch(
        [r for r, _, _ in cases],
        problems=[{"tests": t, "entry_point": e} for _, t, e in cases],
        **options,
    )
    assert len(batch) == len(cases)
    differ = [
        (i, decided(a), decided(b))
        for i, (a, b) in enumerate(zip(one_by_one, batch))
        if decided(a) != decided(b)
    ]
    assert not differ, differ
    print(f"\n{box.name}: {len(cases)} hostile and honest cases, verify_batch == verify one by one")


# --- the API -------------------------------------------------------------------------------------


def test_verify_batch_keeps_order_and_shares_the_tests(local_box):
    answers = [fence(f"def add(a, b):\n    return a + b + {k % 3}\n") for k in range(9)]
    verdicts = verify_batch(answers, ADD_TESTS, "add", sandbox=local_box)
    assert [v.correct for v in verdicts] == [k % 3 == 0 for k in range(9)]
    assert verify_batch([], ADD_TESTS, "add", sandbox=local_box) == []
    alone = verify_batch(answers[:2], ADD_TESTS, "add", sandbox=local_box, max_concurrency=1)
    assert [decided(v) for v in alone] == [decided(v) for v in verdicts[:2]]


def test_verify_batch_takes_one_problem_per_answer(local_box):
    problems = [
        {"tests": ADD_TESTS, "entry_point": "add"},
        {"tests": [{"input": [2], "output": 4}], "entry_point": "sq"},
        {"tests": [{"stdin": "3\n", "stdout": "6\n"}]},
        {"tests": "assert add(1, 1) == 2", "entry_point": "add", "prefix": "def add(a, b):\n"},
    ]
    answers = [
        fence("def add(a, b):\n    return a + b\n"),
        fence("def sq(x):\n    return x * x\n"),
        fence("print(2 * int(input()))\n"),
        "    return a + b\n",
    ]
    verdicts = verify_batch(answers, problems=problems, sandbox=local_box)
    assert all(v.correct for v in verdicts), verdicts
    tasks = [Task(f"t{i}", "", p) for i, p in enumerate(problems)]
    assert [v.correct for v in CodeVerifier(sandbox=local_box).verify_batch(answers, tasks)] == [
        True
    ] * 4


class _CountingBox:
    """A sandbox that counts the jobs it runs."""

    def __init__(self, box):
        self.box = box
        self.workers = box.workers
        self.jobs = 0

    def submit(self, job):
        self.jobs += 1
        return self.box.submit(job)


def test_identical_answers_to_the_same_task_are_verified_once(local_box):
    right, wrong = fence(HONEST), fence("def add(a, b):\n    return a - b\n")
    box = _CountingBox(local_box)
    answers = [right, wrong, right, right, wrong]
    verdicts = verify_batch(answers, ADD_TESTS, "add", sandbox=box)
    assert [v.correct for v in verdicts] == [True, False, True, True, False]
    assert box.jobs == 2  # one sandbox round per distinct answer
    assert [decided(v) for v in verdicts] == [
        decided(verify(a, ADD_TESTS, "add", sandbox=local_box)) for a in answers
    ]
    # Equal tasks are the same task, whatever the objects; other tasks are not.
    box.jobs = 0
    same = [{"tests": ADD_TESTS, "entry_point": "add"} for _ in range(3)]
    other = {"tests": ADD_TESTS + "    assert candidate(1, 1) == 2\n", "entry_point": "add"}
    verdicts = verify_batch([right] * 4, problems=[*same, other], sandbox=box)
    assert all(v.correct for v in verdicts) and box.jobs == 2
    prefixed = [
        {"tests": "assert add(1, 1) == 2", "entry_point": "add", "prefix": p}
        for p in ("def add(a, b):\n", "def add(b, a):\n")
    ]
    box.jobs = 0
    verify_batch(["    return a + b\n"] * 2, problems=prefixed, sandbox=box)
    assert box.jobs == 2  # the prefix is part of the task


def test_a_verdict_says_where_its_time_went_and_stays_equal_across_runs(local_box):
    first, second = (verify(fence(HONEST), ADD_TESTS, "add", sandbox=local_box) for _ in "ab")
    timings = first.details["timings"]
    assert set(timings) == {"parse_s", "record_s", "sandbox_s", "replay_s"}
    assert timings["sandbox_s"] > 0 and sum(timings.values()) <= first.elapsed_s
    assert first.details["sandbox_s"] == timings["sandbox_s"]
    # Durations differ from run to run but compare equal, so a verdict that does not run code
    # (what Gymnasium's seeded-determinism check steps with) is equal in two runs.
    assert first.details["timings"] == second.details["timings"]
    no_code = [verify("no code here", ADD_TESTS, "add", sandbox=local_box) for _ in "ab"]
    assert "parse_s" in no_code[0].details["timings"]
    assert no_code[0] == no_code[1] and no_code[0].to_dict() == no_code[1].to_dict()


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({}, ValueError),  # neither tests nor problems
        ({"tests": ADD_TESTS, "problems": [{"tests": ADD_TESTS}]}, ValueError),
        ({"problems": []}, ValueError),  # one problem per response
        ({"problems": [{"entry_point": "add"}]}, ValueError),
        ({"tests": ADD_TESTS, "reward": "most"}, ValueError),
    ],
)
def test_verify_batch_rejects_bad_arguments(kwargs, error):
    with pytest.raises(error):
        verify_batch([fence(HONEST)], **kwargs)
    with pytest.raises(TypeError):
        verify_batch([b"def add(a, b): return a + b"], ADD_TESTS, "add")


# --- tests prepared once per task ----------------------------------------------------------------


def test_tests_are_prepared_and_recorded_once_per_task(local_box, monkeypatch):
    clear_caches()
    built, recorded = [], []
    compiled_tests, run_pass = programs.CompiledTests, programs.TestProgram.run_pass

    def counting_compile(*args, **kwargs):
        built.append(args)
        return compiled_tests(*args, **kwargs)

    def counting_pass(self, known, globals_info=None, **kwargs):
        if not known:
            recorded.append(self)
        return run_pass(self, known, globals_info, **kwargs)

    monkeypatch.setattr(programs, "CompiledTests", counting_compile)
    monkeypatch.setattr(programs.TestProgram, "run_pass", counting_pass)
    answers = [fence(f"def add(a, b):\n    return a + b + {k % 2}\n") for k in range(6)]
    verdicts = verify_batch(answers, ADD_TESTS, "add", sandbox=local_box)
    assert [v.correct for v in verdicts] == [True, False] * 3
    assert len(built) == 1 and len(recorded) == 1
    assert programs.cached_tasks() == 1
    clear_caches()
    assert programs.cached_tasks() == 0


def test_a_solution_importing_modules_the_tests_use_gets_its_own_program(local_box):
    tests = ["assert size((1, 2)) == sys.getsizeof((1, 2))"]
    with_sys = fence("import sys\ndef size(t):\n    return sys.getsizeof(t)\n")
    without = fence("def size(t):\n    return 56\n")
    plain = verify(without, tests, "size", sandbox=local_box)
    assert plain.status is Status.RUNTIME_ERROR, plain  # ``sys`` is then the solution's: missing
    assert verify(with_sys, tests, "size", sandbox=local_box).correct
    assert verify(without, tests, "size", sandbox=local_box).status is Status.RUNTIME_ERROR


def test_tests_that_cannot_run_stay_an_error_for_every_answer(local_box):
    for _ in range(2):  # the second comes from the cache
        verdict = verify(fence(HONEST), "x = 1", "add", sandbox=local_box)
        assert verdict.status is Status.ERROR and "no assert" in verdict.reason


# --- judge round trips ---------------------------------------------------------------------------


def _pass_request(tests: str, value: int) -> dict:
    from rlvr_envs.verifiers.code.harness import TestProgram
    from rlvr_envs.verifiers.code.replay import call_key

    program = TestProgram(tests, entry_point="f")
    payload = ["f", [1], {"__dict": []}]
    wire = program.wire()
    return {
        "key": wire["key"],
        "program": wire,
        "known": [[call_key(payload), payload, {"i": 0, "v": value}]],
        "globals": {"f": {"kind": "callable"}},
        "memory_bytes": 256 << 20,
        "cpu_s": 5.0,
    }


def test_passes_waiting_at_the_same_time_share_one_round_trip():
    pool = JudgePool(1)
    try:
        pool.run_pass(_pass_request("assert f(1) == 1", 1), 30)  # started and warm
        slow = _pass_request("assert sum(range(f(1))) > 0", 20_000_000)
        quick = [_pass_request("assert f(1) == 1", k) for k in range(6)]
        requests_before = pool.requests
        with ThreadPoolExecutor(7) as threads:
            first = threads.submit(pool.run_pass, slow, 30)
            time.sleep(0.05)  # the slow pass holds the only judge; the others queue behind it
            replies = list(threads.map(lambda r: pool.run_pass(r, 30), quick))
            assert first.result()["outcome"]["passed"] == 1
        assert [r["outcome"]["passed"] for r in replies] == [0, 1, 0, 0, 0, 0]
        assert pool.requests - requests_before == 2, "six queued passes, one round trip"
    finally:
        pool.close()


def test_a_pass_that_overruns_in_a_batch_fails_alone():
    pool = JudgePool(1)
    try:
        pool.run_pass(_pass_request("assert f(1) == 1", 1), 30)
        hold = _pass_request("assert sum(range(f(1))) > 0", 20_000_000)
        stall = _pass_request("assert sum(range(f(1))) > 0", 10**12)
        quick = [_pass_request("assert f(1) == 1", 1) for _ in range(3)]
        with ThreadPoolExecutor(5) as threads:
            holding = threads.submit(pool.run_pass, hold, 30)
            time.sleep(0.05)
            stalled = threads.submit(pool.run_pass, stall, 0.5)
            time.sleep(0.05)
            others = [threads.submit(pool.run_pass, q, 30) for q in quick]
            holding.result()
            with pytest.raises(JudgeBreach):
                stalled.result()
            assert [f.result()["outcome"]["passed"] for f in others] == [1, 1, 1]
    finally:
        pool.close()


def test_a_judge_that_dropped_a_program_gets_it_again():
    pool = JudgePool(1)
    try:
        request = _pass_request("assert f(1) == 1", 1)
        pool.run_pass(request, 30)
        other = _pass_request("assert f(1) == 2", 2)
        with pool._cond:  # the host believes the judge holds a program it never received
            pool._idle[0].programs[other["key"]] = None
        assert pool.run_pass(other, 30)["outcome"]["passed"] == 1
    finally:
        pool.close()


def test_a_judge_found_dead_is_replaced_without_blaming_anyone():
    pool = JudgePool(1)
    try:
        request = _pass_request("assert f(1) == 1", 1)
        pool.run_pass(request, 30)
        with pool._cond:
            dead = pool._idle[0].proc
        dead.kill()
        dead.wait()
        with ThreadPoolExecutor(1) as thread:  # a lost pass would wait forever
            assert thread.submit(pool.run_pass, request, 30).result(60)["outcome"]["passed"] == 1
    finally:
        pool.close()


# --- parsing from many threads -------------------------------------------------------------------


_MANY_DEFS = "\n".join(
    f"def f{i}(x):\n    return [y * {i} for y in range(x) if y % 2]" for i in range(60)
)


def _parse_concurrently(parses: list) -> list[BaseException]:
    """Run each ``parse()`` 40 times in its own thread, at a different stack depth, with the
    collector giving the GIL away in the middle of parses; the errors they raised."""
    errors: list[BaseException] = []

    def at_depth(depth: int, parse) -> None:
        if depth:
            return at_depth(depth - 1, parse)
        for _ in range(40):
            try:
                assert isinstance(parse(), ast.Module)
            except BaseException as error:  # noqa: BLE001 - collected and reported below
                errors.append(error)
                return

    def switch_threads(phase, info):
        time.sleep(0)  # gives the GIL away in the middle of a parse

    threshold = gc.get_threshold()
    gc.callbacks.append(switch_threads)
    gc.set_threshold(100, 5, 5)
    try:
        threads = [
            threading.Thread(target=at_depth, args=(d, parse))
            for d, parse in zip((1, 7, 13, 19), parses)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        gc.callbacks.remove(switch_threads)
        gc.set_threshold(*threshold)
    return errors


def test_parsing_from_many_threads_at_once():
    """CPython 3.11's ``ast.parse`` is not thread-safe: a thread switch during the tree's
    construction (here forced by a collector callback) used to raise ``SystemError: AST
    constructor recursion depth mismatch`` in a concurrent parse (HumanEval/25 under threads)."""
    ours = lambda: parse_quietly(_MANY_DEFS)  # noqa: E731
    assert not _parse_concurrently([ours, ours, ours])


def test_parsing_beside_parses_that_take_no_lock():
    """A parse of someone else's (sympy, ``ast.literal_eval``) in another thread takes no lock:
    ours retries the tree it could not build."""
    errors = _parse_concurrently(
        [lambda: parse_quietly(_MANY_DEFS), lambda: ast.parse(_MANY_DEFS)] * 2
    )
    ours = [e for e in errors if "parse_quietly" in "".join(_frames(e))]
    assert not ours, ours


def _frames(error: BaseException) -> list[str]:
    return [frame.name for frame in traceback.extract_tb(error.__traceback__)]
