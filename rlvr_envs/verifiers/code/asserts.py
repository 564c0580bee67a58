"""Assert-style tests: host passes and sandbox rounds until a pass needs nothing more.

The tests are prepared once per task and the first pass runs here, once per task too (it holds no
value of any candidate's yet; see :mod:`.programs`); every later pass replays the candidate's
values and runs in a judge process (:mod:`.judge`), unless the first round can be decided
without one (:mod:`.direct`). Rounds and passes share one time budget; running out of it, or of
memory in a pass, is the candidate's ``timeout`` or ``memory_limit``.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import Any

from ...verdict import Status, Verdict
from . import programs
from .direct import DirectDecision
from .harness import HarnessError, TestProgram
from .judge import JudgeBreach, JudgeFailed, shared_pool
from .replay import Call, PassOutcome
from .running import Budget, failure_status, run_calls, score

MIB = 1 << 20
# Decide a first round without a judged pass when the tests allow it (:mod:`.direct`); the
# equivalence tests turn it off to compare the two ways.
DIRECT = True
# The first round's short run for all-or-nothing rewards (see ``_first_round``).
FIRST_SLICE_S = 0.5


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
    tree: ast.Module | None = None,
) -> Verdict:
    """Run assert-style tests against ``code``; the verdict of their final host pass.

    ``compiled`` is the code's bytecode (``marshal``), which the sandbox uses when it can;
    ``tree`` its parsed form, if the caller has it.
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
            program = programs.program_for(tests, setup, entry_point, code, tree)
        outcome, failure, info = _exchange(
            (code, compiled), program, box, limits, max_rounds, budget, stop=reward == "all"
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
    # All or nothing: the assertions that held before the first failure, as a test run that
    # stops there counts them (and a pass stopped there knows no others).
    passed = outcome.passed_first if reward == "all" else outcome.passed
    verdict = score(passed, outcome.total, reward, why, failure_status(raised, why))
    return verdict.replace(details={**verdict.details, **info})


def _exchange(
    solution: tuple[str, bytes | None],
    program: TestProgram,
    box: Any,
    limits: Any,
    max_rounds: int,
    budget: Budget,
    stop: bool = False,
) -> tuple[PassOutcome | None, Verdict | None, dict[str, Any]]:
    """Alternate passes and sandbox rounds; the final pass's outcome, or a verdict that ends it.

    ``stop`` (all-or-nothing rewards): a first round decided directly ends at the first failing
    assertion, whatever the job did after it (see :func:`_first_round`).
    """
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
        direct = program.direct if globals_info is None and DIRECT else None
        if direct is not None:
            out, failure, summary, decided = _first_round(
                solution, program, direct, calls, box, limits, budget, stop
            )
        else:
            out, failure, summary = run_calls(
                solution[0],
                [c.payload for c in calls],
                program.candidate_names,
                box,
                budget.limits_for_round(limits),
                compiled=solution[1],
            )
            decided = None
            budget.spend(float(summary.get("wall_time_s", 0.0)))
        info["rounds"] += 1
        info["calls"] = len(calls)
        info["exec"] = summary
        if decided is not None:
            return decided, None, info
        if failure is not None:
            return None, failure, info
        assert out is not None
        known = [(call, out.records[i]) for i, call in enumerate(calls)]
        globals_info = out.globals
        with box.timings.measure("replay"):
            outcome, failure = _judged_pass(program, known, globals_info, budget, limits)
        if failure is not None:
            return None, failure, info
    return outcome, None, info


def _first_round(
    solution: tuple[str, bytes | None],
    program: TestProgram,
    direct: DirectDecision,
    calls: list[Call],
    box: Any,
    limits: Any,
    budget: Budget,
    stop: bool,
) -> tuple[Any, Verdict | None, dict[str, Any], PassOutcome | None]:
    """The first round of tests :mod:`.direct` decides: the runner's output, or a verdict, and
    the pass's outcome when it was decided here (None: a judged pass decides).

    With ``stop``, the outcome is read up to the first failing assertion, from whatever the job
    wrote before it ended (a loop, a crash or junk after the first failure does not count), and
    the round first runs on a short clock (``FIRST_SLICE_S``): most failing answers fail at
    once, and an answer that is still running then runs again on the whole budget, the short
    run not counted against it. A verdict decided at a failure reports its job as ``stopped``,
    however it ended, so that it does not depend on where the job was when the verdict came.
    """
    payloads = [c.payload for c in calls]
    round_limits = budget.limits_for_round(limits)

    def run(run_limits: Any) -> tuple[Any, Verdict | None, dict[str, Any]]:
        return run_calls(
            solution[0],
            payloads,
            program.candidate_names,
            box,
            run_limits,
            compiled=solution[1],
            keep_prefix=stop,
        )

    def decide(out: Any, complete: bool) -> PassOutcome | None:
        if out is None:
            return None
        with box.timings.measure("replay"):
            outcome = direct.outcome(out.records, out.globals, stop=stop)
        if outcome is None or (not complete and not outcome.failures):
            return None
        return outcome

    if stop and round_limits.wall_time_s >= 4 * FIRST_SLICE_S:
        cpu = round_limits.cpu_time_s
        short = round_limits.replace(
            wall_time_s=FIRST_SLICE_S, cpu_time_s=None if cpu is None else min(cpu, FIRST_SLICE_S)
        )
        out, failure, summary = run(short)
        cut = failure is not None and summary.get("status") == "timeout"
        if not cut:  # it ended on its own: that is the round, as on the whole budget
            budget.spend(float(summary.get("wall_time_s", 0.0)))
        outcome = decide(out, failure is None)
        if outcome is not None:
            return out, None, _stopped(summary) if outcome.failures else summary, outcome
        if not cut:
            return out, failure, summary, None
    out, failure, summary = run(round_limits)
    budget.spend(float(summary.get("wall_time_s", 0.0)))
    outcome = decide(out, failure is None)
    if outcome is not None:
        return out, None, _stopped(summary) if outcome.failures and stop else summary, outcome
    return out, failure, summary, None


def _stopped(summary: dict[str, Any]) -> dict[str, Any]:
    """The job's facts for a verdict decided at the first failure: how it ended does not count."""
    return {**summary, "status": "stopped", "exit_code": None, "signal": None}


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
