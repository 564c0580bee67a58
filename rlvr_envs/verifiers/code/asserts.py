"""Assert-style tests: host passes and sandbox rounds until a pass needs nothing more.

The tests are prepared once per task and the first pass runs here, once per task too (it holds no
value of any candidate's yet; see :mod:`.programs`); every later pass replays the candidate's
values and runs in a judge process (:mod:`.judge`), unless the first round can be decided
without one (:mod:`.direct`). Rounds and passes share one time budget; running out of it, or of
memory in a pass, is the candidate's ``timeout`` or ``memory_limit``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...verdict import Status, Verdict
from . import programs
from .harness import HarnessError, TestProgram
from .judge import JudgeBreach, JudgeFailed, shared_pool
from .replay import Call, PassOutcome
from .running import Budget, failure_status, run_calls, score

MIB = 1 << 20
# Decide a first round without a judged pass when the tests allow it (:mod:`.direct`); the
# equivalence tests turn it off to compare the two ways.
DIRECT = True


def verify_assert_tests(
    code: str,
    tests: Any,
    entry_point: str | None,
    setup: str | None,
    box: Any,
    limits: Any,
    reward: str,
    max_rounds: int,
    budget: Budget,
    compiled: bytes | None = None,
) -> Verdict:
    """Run assert-style tests against ``code``; the verdict of their final host pass.

    ``compiled`` is the code's bytecode (``marshal``), which the sandbox uses when it can.
    """
    if isinstance(tests, Mapping):
        setup = "\n".join(filter(None, [setup, tests.get("setup")]))
        tests = tests.get("tests") or tests.get("asserts")
    if isinstance(tests, Sequence) and not isinstance(tests, str):
        tests = "\n".join(str(t) for t in tests)
    if not isinstance(tests, str):
        raise TypeError("tests must be test code, a list of asserts, or a list of cases")
    try:
        with box.timings.measure("parse"):
            program = programs.program_for(tests, setup, entry_point, code)
        outcome, failure, info = _exchange(
            (code, compiled), program, box, limits, max_rounds, budget
        )
    except HarnessError as error:
        return Verdict.make(Status.ERROR, f"harness: {error}")
    if failure is not None:
        return failure.replace(details={**failure.details, **info})
    assert outcome is not None
    if outcome.memory_error:
        verdict = Verdict.make(
            Status.MEMORY_LIMIT, "the tests ran out of memory on the solution's values"
        )
        return verdict.replace(details={**verdict.details, **info})
    first = outcome.failures[0] if outcome.failures else None
    raised = (first and first[3]) or (not first and outcome.aborted_by_candidate)
    why = f"assert #{first[0]} (line {first[1]}): {first[2]}" if first else outcome.aborted
    verdict = score(outcome.passed, outcome.total, reward, why, failure_status(raised, why))
    return verdict.replace(details={**verdict.details, **info})


def _exchange(
    solution: tuple[str, bytes | None],
    program: TestProgram,
    box: Any,
    limits: Any,
    max_rounds: int,
    budget: Budget,
) -> tuple[PassOutcome | None, Verdict | None, dict[str, Any]]:
    """Alternate passes and sandbox rounds; the final pass's outcome, or a verdict that ends it."""
    info: dict[str, Any] = {"rounds": 0, "calls": 0}
    shared_pool()  # a judge starts now, while the first round runs, if none is up yet
    known: list[tuple[Call, dict[str, Any]]] = []
    globals_info: dict[str, Any] | None = None
    with box.timings.measure("record"):
        outcome = programs.first_pass(program)  # no value of the candidate's yet: once per task
    while not outcome.final:
        if globals_info is not None and not outcome.new_calls:
            return (
                None,
                Verdict.make(
                    Status.ERROR,
                    "the tests could not make progress (a call depends on a pending value in a way "
                    "the harness cannot resolve)",
                ),
                info,
            )
        if info["rounds"] >= max_rounds or budget.left <= 0:
            return (
                None,
                budget.timeout(f"the tests' exchange with the solution ({info['rounds']} rounds)"),
                info,
            )
        calls = [c for c, _ in known] + outcome.new_calls
        out, failure, summary = run_calls(
            solution[0],
            [c.payload for c in calls],
            program.candidate_names,
            box,
            budget.limits_for_round(limits),
            compiled=solution[1],
        )
        budget.spend(float(summary.get("wall_time_s", 0.0)))
        info["rounds"] += 1
        info["calls"] = len(calls)
        info["exec"] = summary
        if failure is not None:
            return None, failure, info
        assert out is not None
        known = [(call, out.records[i]) for i, call in enumerate(calls)]
        first_round = globals_info is None
        globals_info = out.globals
        with box.timings.measure("replay"):
            direct = program.direct if first_round and DIRECT else None
            decided = direct.outcome(out.records, globals_info) if direct is not None else None
            if decided is not None:
                return decided, None, info
            outcome, failure = _judged_pass(program, known, globals_info, budget, limits)
        if failure is not None:
            return None, failure, info
    return outcome, None, info


def _judged_pass(
    program: TestProgram,
    known: list[tuple[Call, dict[str, Any]]],
    globals_info: dict[str, Any],
    budget: Budget,
    limits: Any,
) -> tuple[PassOutcome, Verdict | None]:
    """A pass over the candidate's values in a judge process, within the budget."""
    wire = program.wire()
    request = {
        "key": wire["key"],
        "program": wire,
        "known": [[call.key, call.payload, record] for call, record in known],
        "globals": globals_info,
        "memory_bytes": int(limits.memory_mb * MIB),
        "cpu_s": max(budget.left, 0.01),
    }
    empty = PassOutcome(final=False)
    try:
        reply = shared_pool().run_pass(request, timeout=max(budget.left, 0.01))
    except JudgeBreach:
        budget.spend(budget.left)
        return empty, budget.timeout("the tests' passes over the solution's values")
    except JudgeFailed as error:
        if error.during_pass:  # it died twice on these values: they are the candidate's
            reason = f"the tests crashed on the solution's values ({error})"
            return empty, Verdict.make(Status.RUNTIME_ERROR, reason)
        return empty, Verdict.make(Status.ERROR, f"cannot run the host passes: {error}")
    budget.spend(float(reply.get("elapsed_s", 0.0)))
    if reply.get("memory_error"):
        return empty, Verdict.make(
            Status.MEMORY_LIMIT, "the tests ran out of memory on the solution's values"
        )
    if "harness_error" in reply:
        raise HarnessError(str(reply["harness_error"]))
    if "outcome" not in reply:
        return empty, Verdict.make(Status.RUNTIME_ERROR, str(reply.get("outcome_error")))
    return PassOutcome.from_dict(reply["outcome"]), None
