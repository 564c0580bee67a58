"""Function cases (inputs in, a value out) and stdin/stdout cases (a program per case)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...verdict import Status, Verdict
from ._runner import from_plain, to_plain
from .compare import values_equal
from .running import failure_from_exec, failure_status, run_calls, score


def is_io_cases(tests: Any) -> bool:
    """True for a non-empty list of ``{"stdin": ..., "stdout": ...}`` cases."""
    return (
        isinstance(tests, Sequence)
        and not isinstance(tests, str)
        and bool(tests)
        and all(isinstance(t, Mapping) and "stdin" in t and "stdout" in t for t in tests)
    )


def is_function_cases(tests: Any) -> bool:
    """True for a non-empty list of ``{"input": [...], "output": ...}`` cases."""
    return (
        isinstance(tests, Sequence)
        and not isinstance(tests, str)
        and bool(tests)
        and all(isinstance(t, Mapping) and "input" in t and "output" in t for t in tests)
    )


def _decode(data: Any) -> tuple[Any, str | None]:
    """A returned value, or why it cannot be rebuilt (the candidate's doing)."""
    try:
        return from_plain(data), None
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError) as error:
        return None, f"returned malformed data ({type(error).__name__})"


def verify_function_cases(
    code: str,
    cases: Sequence[Mapping[str, Any]],
    entry_point: str,
    box: Any,
    limits: Any,
    reward: str,
    float_tolerance: float,
    compare: str,
    compiled: bytes | None = None,
) -> Verdict:
    """Call ``entry_point`` on each case's inputs in one sandbox run; compare outputs here."""
    calls = [[entry_point, to_plain(list(case["input"])), to_plain({})] for case in cases]
    out, failure, summary = run_calls(code, calls, [], box, limits, compiled=compiled)
    if failure is not None:
        return failure
    assert out is not None
    passed, first = 0, None
    raised = False
    for index, case in enumerate(cases):
        record = out.records[index]
        if "v" in record:
            got, bad = _decode(record["v"])
            if bad is None and values_equal(got, case["output"], float_tolerance, compare):
                passed += 1
                continue
            why = f"case {index}: " + (bad or f"returned {got!r}, expected {case['output']!r}")
            raised = raised or (bad is not None and first is None)
        elif "exc" in record:
            why = f"case {index}: raised {record['exc'][0]}: {record['exc'][1]}"
            raised = raised or first is None
        elif "missing" in record:
            why = f"the solution does not define {entry_point}()"
            raised = raised or first is None
        else:
            why = f"case {index}: returned {record.get('bad')}"
        first = first or why
    verdict = score(passed, len(cases), reward, first, failure_status(raised, first))
    return verdict.replace(details={**verdict.details, "exec": summary})


def _normalise_output(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()).strip()


def verify_io(
    code: str, cases: Sequence[Mapping[str, Any]], box: Any, limits: Any, reward: str
) -> Verdict:
    """Run the program once per case (in parallel on the pool); compare what it printed."""
    jobs = [{"code": code, "stdin": case["stdin"], "limits": limits} for case in cases]
    results = box.run_python_many(jobs)
    passed, first, worst = 0, None, None
    for index, (case, result) in enumerate(zip(cases, results)):
        failure = failure_from_exec(result)
        if failure is not None:
            worst = worst or failure
            first = first or f"case {index}: {failure.reason}"
            continue
        if result.status.value != "ok":
            first = first or (
                f"case {index}: exit code {result.exit_code}, signal {result.signal}: "
                f"{result.stderr_text[-300:]}"
            )
            worst = worst or Verdict.make(Status.RUNTIME_ERROR, first)
            continue
        if _normalise_output(result.stdout_text) == _normalise_output(str(case["stdout"])):
            passed += 1
        else:
            first = first or (
                f"case {index}: printed {result.stdout_text[:200]!r}, expected "
                f"{str(case['stdout'])[:200]!r}"
            )
    if worst is not None and passed < len(cases) and reward == "all":
        return worst.replace(
            reason=f"{passed}/{len(cases)} tests passed; first failure: {first}",
            details={"passed": passed, "total": len(cases)},
        )
    return score(passed, len(cases), reward, first, Status.WRONG)
