"""Deciding ``assert f(...) == expected`` tests without a judge pass (:mod:`.direct`).

Every verdict decided that way must be the judged pass's: the comparisons run both ways on the
reference suites with their perturbations and on every hostile case, and each shape of test or
of returned value the direct decision must leave to the judge is fed to it.
"""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np
import pytest

from rlvr_envs import Status
from rlvr_envs.verifiers.code import asserts, clear_caches, defines, harness, programs, verify

from .test_batch import hostile_cases
from .test_candidate_faults import _FIND_RESULTS
from .verdicts import decided

ADD = "def add(a, b):\n    return a + b\n"


def _fence(code: str) -> str:
    return f"```python\n{code}```"


@pytest.fixture
def judged(monkeypatch):
    """Counts judged passes; the verdict of ``verify`` both ways, direct first."""
    calls = []
    real = asserts._judged_pass

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(asserts, "_judged_pass", counting)

    def both(response, tests, entry_point, **options):
        clear_caches()
        before = len(calls)
        direct = verify(response, tests, entry_point, **options)
        used = len(calls) - before
        monkeypatch.setattr(asserts, "DIRECT", False)
        clear_caches()
        try:
            reference = verify(response, tests, entry_point, **options)
        finally:
            monkeypatch.setattr(asserts, "DIRECT", True)
        same = _apart_from_a_stopped_job(direct, reference)
        assert same[0] == same[1], same
        return direct, used

    return both


def _program(tests: str, entry_point: str = "add", setup: str | None = None) -> harness.TestProgram:
    program = harness.TestProgram(harness.CompiledTests(tests, setup, entry_point), modules={})
    programs.first_pass(program)
    return program


# --- which tests qualify -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tests",
    [
        "assert add(1, 2) == 3\nassert 5 == add(2, 3)",
        "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert True, 'note'\n",
        "for i in range(5):\n    assert add(i, i) == 2 * i",
        "import random\nx = random.randint(0, 9)\nassert add(x, 1) == x + 1",
        "assert add(1, 2) == 3\nassert 1 + 1 == 2\nassert len([1]) == 1",
        "assert add([1], [2]) == [1, 2]\nassert add((1,), (2,)) == (1, 2)",
        "LIMIT = 3\nassert add(1, 2) == LIMIT\nassert LIMIT == 3",
    ],
)
def test_plain_comparisons_of_one_call_are_decided_directly(tests):
    assert _program(tests).direct is not None


@pytest.mark.parametrize(
    "tests, setup",
    [
        ("r = add(1, 2)\nassert r == 3", None),  # the value is kept: it could be used again
        ("assert abs(add(1, 2) - 3) < 1e-9", None),  # not a plain ==
        ("assert add(1, 2) == add(2, 1)", None),  # two values of the candidate
        ("assert add(1, 2) != 4", None),
        ("assert add(1, 2) == 3 and True", None),
        ("assert [add(1, 2)] == [3]", None),
        ("assert add(add(1, 1), 1) == 3", None),  # a dependent call
        ("assert eval('add(1, 2)') == 3", None),  # dynamic code hides any use
        ("assert helper() == 3", "def helper():\n    return add(1, 2)\n"),  # setup calls it
        ("def check(candidate):\n    f = candidate\n    assert f(1, 2) == 3\n", None),
        ("def check(candidate):\n    assert candidate(1, 2) == 3\ncheck(add)\n", None),
        ("add(0, 0)\nassert add(1, 2) == 3", None),  # a call no assertion compares
        ("assert add(1, 2) == iter([3])", None),  # an iterator as the expected value
        ("assert add(1, 2) == object()", None),  # not plain data
    ],
)
def test_other_uses_of_the_candidate_go_to_the_judge(tests, setup):
    assert _program(tests, setup=setup).direct is None


def test_tests_using_a_solution_value_go_to_the_judge():
    # LIMIT is the solution's (a free name of the tests): it stands for the candidate too.
    program = _program("assert f() == LIMIT", entry_point="f")
    assert "LIMIT" in program.candidate_names and program.direct is None


# --- what the candidate returned -------------------------------------------------------------------

DECIDED_DIRECTLY = [
    ADD,
    "def add(a, b):\n    return a + b + 1\n",
    "def add(a, b):\n    return None\n",
    "def add(a, b):\n    return float('nan')\n",
    "def add(a, b):\n    return [a, (b, [b, 'x'])]\n",
    "def add(a, b):\n    return True\n",
    "def add(a, b):\n    return 5.0\n",  # 5.0 == 5, as the judged pass decides
    "def add(a, b):\n    return [0] * 60_000\n",  # large, still linear to compare
    "def add(a, b):\n    return 'x' * 200_000\n",
]

JUDGED = [
    "def add(a, b):\n    raise ValueError('no')\n",
    "def add(a, b):\n    return {a: b}\n",  # dicts and sets: hashing a candidate can slow down
    "def add(a, b):\n    return {a, b}\n",
    "def add(a, b):\n    return object()\n",  # a handle
    "def add(a, b):\n    return 10 ** 100\n",  # a tagged integer
    "def add(a, b):\n    return b'5'\n",
    "def add(a, b):\n    return 1j\n",
    "def add(a, b):\n    x = []\n    for _ in range(70):\n        x = [x]\n    return x\n",
    "add = 5\n",  # not a function
    "class add:\n    def __init__(self, a, b):\n        pass\n",
    "def other(a, b):\n    return a + b\n",  # the entry point is missing
]


@pytest.mark.parametrize("code", DECIDED_DIRECTLY)
def test_plain_values_are_decided_without_a_judge_as_the_judge_would(code, judged, local_box):
    tests = "assert add(2, 3) == 5\nassert add(0, 0) == 0\nassert 5 == add(2, 3)"
    verdict, passes = judged(_fence(code), tests, "add", sandbox=local_box, reward="fraction")
    assert passes == 0, verdict


@pytest.mark.parametrize("code", JUDGED)
def test_other_values_go_to_the_judge_with_the_same_verdict(code, judged, local_box):
    tests = "assert add(2, 3) == 5\nassert add(0, 0) == 0"
    verdict, passes = judged(_fence(code), tests, "add", sandbox=local_box)
    assert passes >= 1 and not verdict.correct, verdict


def test_a_call_that_changes_its_argument_goes_to_the_judge(judged, local_box):
    code = "def add(a, b):\n    a.append(b)\n    return a\n"
    tests = "x = [1]\nassert add(x, 2) == [1, 2]\nassert x == [1]"
    verdict, passes = judged(_fence(code), tests, "add", sandbox=local_box)
    assert passes == 1 and verdict.status.value == "wrong"  # x changed: the 2nd assert fails


def test_a_correct_answer_is_decided_directly(judged, local_box):
    verdict, passes = judged(_fence(ADD), "assert add(2, 3) == 5", "add", sandbox=local_box)
    assert verdict.correct and passes == 0


# --- both ways on the suites and on every hostile case ------------------------------------------


def _apart_from_a_stopped_job(direct, judged):
    """What both decided; where the direct verdict stopped its job at the first failure (all or
    nothing), not how the job ended, which the judged way waited for."""
    a, b = decided(direct), decided(judged)
    if (direct.details.get("exec") or {}).get("status") == "stopped":
        a, b = (v[:4] + ([item for item in v[4] if item[0] != "exec"],) for v in (a, b))
    return a, b


def _both_ways(answers, tasks, verify_one):
    verdicts = {}
    for direct in (True, False):
        asserts.DIRECT = direct
        clear_caches()
        try:
            verdicts[direct] = [verify_one(answer, task) for answer, task in zip(answers, tasks)]
        finally:
            asserts.DIRECT = True
    pairs = [_apart_from_a_stopped_job(a, b) for a, b in zip(verdicts[True], verdicts[False])]
    return [(i, a, b) for i, (a, b) in enumerate(pairs) if a != b]


@pytest.mark.slow
@pytest.mark.parametrize(
    "env_id, direct_at_least", [("rlvr/HumanEval-v0", 145), ("rlvr/MBPP-v0", 400)]
)
def test_direct_and_judged_verdicts_agree_on_the_reference_suites(
    env_id, direct_at_least, shared_data, local_box
):
    env = gym.make(env_id, sandbox=local_box).unwrapped
    tasks = env.source.tasks
    rng = np.random.default_rng(0)
    pairs = [(t.solution, t) for t in tasks] + [
        (wrong, t) for t in tasks for wrong in env.perturb(t, rng)
    ]
    differ = _both_ways([a for a, _ in pairs], [t for _, t in pairs], env.verify)
    assert not differ, differ[:5]
    clear_caches()
    for task in tasks:
        env.verify(task.solution, task)
    direct = sum(
        1
        for entry in programs._entries.values()
        for p in entry.programs.values()
        if getattr(p, "direct", None) is not None
    )
    print(f"\n{env_id}: {len(pairs)} answers, direct == judged; {direct} tasks decided directly")
    assert direct >= direct_at_least


@pytest.mark.slow
def test_direct_and_judged_verdicts_agree_on_every_hostile_case(local_box):
    cases = hostile_cases()
    differ = _both_ways(
        [r for r, _, _ in cases],
        [(t, e) for _, t, e in cases],
        lambda response, task: verify(
            response, task[0], task[1], sandbox=local_box, timeout_s=1.5, reward="fraction"
        ),
    )
    assert not differ, differ
    print(f"\n{len(cases)} hostile and honest cases: direct == judged")


# --- literal-only tests: a first pass without compiling them ----------------------------------


def _first_pass_both_ways(tests, setup, entry_point):
    """The first pass of a task's tests, replaying their literal checks and running them."""
    compiled = harness.CompiledTests(tests, setup, entry_point)
    seen = []
    for literal in (True, False):
        program = harness.TestProgram(compiled, modules={})
        if not literal:
            program.literal_checks = None
        log = []
        outcome = program.run_pass([], None, log=log)
        direct = harness.DirectDecision.from_log(program.candidate_names, log, outcome.new_calls)
        seen.append(repr((outcome, log, direct and vars(direct))))
        if literal:
            seen.append(compiled._code is None)  # not compiled for the literal pass
    return compiled, seen


@pytest.mark.parametrize(
    "env_id, literal_at_least", [("rlvr/HumanEval-v0", 108), ("rlvr/MBPP-v0", 400)]
)
def test_a_literal_first_pass_records_what_the_rewritten_tests_record(
    env_id, literal_at_least, shared_data
):
    """On every reference task whose tests are literal checks, the first pass that replays them
    logs the same calls, comparisons and outcome as running the rewritten tests (which are then
    never compiled unless a later pass needs them)."""
    env = gym.make(env_id).unwrapped
    literal = 0
    for task in env.source.tasks:
        answer = task.answer
        tests = answer["tests"] if isinstance(answer["tests"], str) else "\n".join(answer["tests"])
        compiled, (replayed, uncompiled, ran) = _first_pass_both_ways(
            tests, answer.get("setup"), answer.get("entry_point")
        )
        if compiled.literal_checks is not None:
            literal += 1
            assert uncompiled and replayed == ran, task.id
    assert literal >= literal_at_least


@pytest.mark.parametrize(
    "tests, literal",
    [
        ("assert f(1) == 2\nassert 3 == f([1, (2, 'a')], None)", True),
        ("def check(candidate):\n    assert candidate(1) == 2\n", True),
        ("METADATA = {'a': 1}\ndef check(c):\n    'doc'\n    assert c(-1.5) == {1, 2}\n", True),
        ("f = g\nassert f(1) == 2", False),  # the tests bind the name they call
        ("assert f(x) == 2", False),  # a name, not a literal
        ("assert f(1) != 2", False),
        ("assert f(1, k=2) == 2", False),
        ("assert len(f(1)) == 2", False),
        ("def check(c):\n    assert c(1) == 2\nassert f(2) == 3", False),  # run in another order
        ("def check(c, d):\n    assert c(1) == 2", False),
        ("import math\nassert f(1) == 2", False),
        ("assert f(1) == set()", False),  # a call: the tests may have rebound the name
        ("assert f(-1, 1 + 2j, {'a': (1, [2])}, {3}) == -0.5", True),
    ],
)
def test_literal_checks_are_recognised_only_where_they_are_all_there_is(tests, literal):
    compiled, (replayed, uncompiled, ran) = _first_pass_both_ways(tests, None, "f")
    assert (compiled.literal_checks is not None) is literal is uncompiled
    assert replayed == ran


# --- defines() -------------------------------------------------------------------------------------


def test_defines_finds_the_name_in_any_spelling_python_accepts():
    assert defines("def add(a, b):\n    return a + b\n", "add")
    assert not defines("    return a + b\n", "add")
    assert not defines("def other():\n    return add\n", "add")
    # NFKC: a fullwidth letter names the same identifier, though ``"add" not in code``.
    assert defines("def \uff41dd(a, b):\n    return a + b\n", "add")


# Answers whose module-level definitions are plain or not: the verifier decides most of them
# without parsing (a def or class at column 0 that the compiled module makes at that line) and
# must decide every one as defines() does.
DEFINES_CASES = [
    "def add(a, b):\n    return a + b\n",
    "async def add(a, b):\n    return a + b\n",
    "class add:\n    pass\n",
    "@staticmethod\ndef add(a, b):\n    return a + b\n",
    'x = """\ndef add(a, b):\n"""\nprint(x)\n',
    "s = 'a' \\\n'def add(a, b): pass'\n",
    "if True:\n    def add(a, b):\n        return a + b\n",
    "def add_one(a):\n    return a + 1\n",
    "add = lambda a, b: a + b\n",
    "def add(a, b):\n    return a +\n",
    "def add(a, b):\n    def add(c):\n        return c\n    return add(a) + b\n",
    "def other():\n    pass\ndef add(a, b):\n    return a + b\n",
    "def add_one(a):\n    return a + 1\n\ndef add(a, b):\n    return a + b\n",
    "def\tadd(a, b):\n    return a + b\n",
    "def add2(a):\n    return a\nclass add(object):\n    pass\n",
    "def \uff41dd(a, b):\n    return a + b\n",
    "    return a + b\n",
]


@pytest.mark.parametrize("code", DEFINES_CASES)
def test_the_prompt_is_prepended_exactly_when_defines_says_so(code):
    from rlvr_envs.verifiers.code import _checked_code

    checked = _checked_code(f"```python\n{code}```", "add", "# the prompt\n")
    ran = checked.extracted if hasattr(checked, "extracted") else checked[0]
    assert ran.startswith("# the prompt") is not defines(code, "add"), checked


# The answers above whose entry point is a def or class at column 0, made there by the module.
PLAIN_DEFINITIONS = [
    "def add(a, b):\n    return a + b\n",
    "async def add(a, b):\n    return a + b\n",
    "class add:\n    pass\n",
    "def add(a, b):\n    def add(c):\n        return c\n    return add(a) + b\n",
    "def other():\n    pass\ndef add(a, b):\n    return a + b\n",
    "def add_one(a):\n    return a + 1\n\ndef add(a, b):\n    return a + b\n",
    "def\tadd(a, b):\n    return a + b\n",
    "def add2(a):\n    return a\nclass add(object):\n    pass\n",
]


@pytest.mark.parametrize("code", PLAIN_DEFINITIONS)
def test_a_plain_definition_at_column_0_is_decided_without_a_parse(code, monkeypatch):
    import rlvr_envs.verifiers.code as code_verifier

    def no_parse(*args, **kwargs):
        raise AssertionError("parsed")

    assert code in DEFINES_CASES and defines(code, "add")
    monkeypatch.setattr(code_verifier, "parse_quietly", no_parse)
    checked = code_verifier._checked_code(f"```python\n{code}```", "add", "# the prompt\n")
    assert not checked[0].startswith("# the prompt"), checked


# --- all or nothing: the first failure decides ------------------------------------------------

TWO_CALLS = "assert add(1, 1) == 2\nassert add(2, 2) == 4\nassert add(3, 3) == 6"


def _exec_status(verdict):
    return verdict.details["exec"]["status"]


@pytest.mark.parametrize(
    "after, status_when_fraction",
    [
        ("while True:\n            pass", "timeout"),  # loops
        ("import os\n        os._exit(0)", "runtime_error"),  # quits
        ("import os\n        os.write(1, b'junk\\n')\n        os._exit(0)", "runtime_error"),
        ("x = bytearray(10 ** 10)", "memory_limit"),
    ],
)
def test_what_a_failing_answer_does_after_its_first_failure_does_not_count(
    after, status_when_fraction, local_box
):
    code = (
        "calls = []\n"
        "def add(a, b):\n"
        "    calls.append(1)\n"
        "    if len(calls) == 2:\n"
        f"        {after}\n"
        "    return a + b + (len(calls) == 1)\n"
    )
    start = time.monotonic()
    verdict = verify(_fence(code), TWO_CALLS, "add", sandbox=local_box, timeout_s=5)
    assert verdict.status is Status.WRONG and verdict.reward == 0.0, verdict
    assert verdict.details["passed"] == 0 and verdict.details["total"] == 3
    assert "assert #1" in verdict.reason and _exec_status(verdict) == "stopped"
    assert time.monotonic() - start < 4, verdict
    # Paying a fraction needs every test: there the job's end decides.
    fraction = verify(
        _fence(code), TWO_CALLS, "add", sandbox=local_box, timeout_s=2, reward="fraction"
    )
    assert fraction.status.value == status_when_fraction, fraction


def test_a_slow_failing_answer_is_stopped_early_and_graded_as_if_it_ran(judged, local_box):
    code = (
        "import time\ndef add(a, b):\n    if a > 1:\n        time.sleep(3)\n    return a + b + 1\n"
    )
    start = time.monotonic()
    verdict = verify(_fence(code), TWO_CALLS, "add", sandbox=local_box, timeout_s=10)
    assert time.monotonic() - start < 2, verdict
    assert verdict.status is Status.WRONG and _exec_status(verdict) == "stopped"
    assert verdict.details["rounds"] == 1
    # The same verdict as the judged pass over every value (which waits for them all).
    both, _ = judged(_fence(code), TWO_CALLS, "add", sandbox=local_box, timeout_s=10)
    assert decided(both) == decided(verdict)


def test_a_slow_correct_answer_runs_again_on_its_whole_budget(local_box, monkeypatch):
    code = "import time\ndef add(a, b):\n    time.sleep(0.55)\n    return a + b\n"
    # 1.65 s of calls: past the short first run, and within the 2 s budget only if that run
    # is not counted against it.
    assert asserts.FIRST_SLICE_S + 3 * 0.55 > 2.0 >= 4 * asserts.FIRST_SLICE_S
    jobs = []
    submit = local_box.submit
    monkeypatch.setattr(local_box, "submit", lambda job: jobs.append(job) or submit(job))
    verdict = verify(_fence(code), TWO_CALLS, "add", sandbox=local_box, timeout_s=2.0)
    assert verdict.correct, verdict
    assert [job.limits.wall_time_s for job in jobs] == [asserts.FIRST_SLICE_S, 2.0]
    assert verdict.details["rounds"] == 1 and _exec_status(verdict) == "ok"


def test_all_or_nothing_counts_the_tests_passed_before_the_first_failure(judged, local_box):
    code = "def add(a, b):\n    return 4 if a == 1 else a + b\n"
    tests = "assert add(0, 0) == 0\nassert add(1, 1) == 2\nassert add(2, 2) == 4"
    for reward, passed in (("all", 1), ("fraction", 2)):
        verdict, passes = judged(_fence(code), tests, "add", sandbox=local_box, reward=reward)
        assert passes == 0 and verdict.details == {**verdict.details, "passed": passed, "total": 3}
        assert "assert #2" in verdict.reason
    # The judged way counts alike (a dict return needs the judge).
    code = "def add(a, b):\n    return {4: 0} if a == 1 else a + b\n"
    verdict, passes = judged(_fence(code), tests, "add", sandbox=local_box)
    assert passes == 1 and verdict.details["passed"] == 1 and verdict.details["total"] == 3


def test_records_that_all_pass_without_the_runners_end_are_not_a_pass(local_box):
    """The first failure decides early; passing needs the runner's own end, as before. Here the
    candidate writes its last record itself (right answers) and quits before the runner can."""
    code = _FIND_RESULTS + (
        "calls = []\n"
        "def add(a, b):\n"
        "    calls.append(1)\n"
        "    if len(calls) == 3:\n"
        '        _write(b\'{"i": 2, "v": %d}\\n\' % (a + b))\n'
        "        os._exit(0)\n"
        "    return a + b\n"
    )
    for reward in ("all", "fraction"):
        verdict = verify(_fence(code), TWO_CALLS, "add", sandbox=local_box, reward=reward)
        assert verdict.status is Status.RUNTIME_ERROR and verdict.reward == 0.0, verdict
