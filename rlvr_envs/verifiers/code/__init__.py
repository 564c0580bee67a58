"""Code verifier: run a candidate in the sandbox, decide outside it, from data it cannot forge.

Three kinds of tests:

- **assert-style** test code (HumanEval's ``check(candidate)``, MBPP's assert lists): decided by
  record and replay (:mod:`.harness`): the tests run on the host against stubs, the sandbox only
  computes the candidate's return values for the arguments the tests pass, as plain data.
- **function cases** ``[{"input": [args...], "output": expected}, ...]``: the sandbox receives only
  the inputs; outputs come back as strictly typed plain data and are compared here.
- **stdin/stdout cases** ``[{"stdin": "...", "stdout": "..."}, ...]``: the program runs once per
  case; its output is compared here (trailing whitespace per line ignored) and it must exit cleanly.

A pass needs positive evidence for every test: a result record per call produced by the runner
after the candidate was imported, and a final host pass in which every assertion held. An exit
status, a printed marker or an exception handler of the candidate's never counts.
"""

from __future__ import annotations

import ast
import json
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ...tasks import Task
from ...verdict import Status, Verdict
from .harness import Call, HarnessError, PassOutcome, TestProgram, parse_quietly, quiet_compile

RUNNER_SOURCE = Path(__file__).with_name("_runner.py").read_text(encoding="utf-8")
MAX_RESPONSE_CHARS = 200_000
MAX_ROUNDS = 8

_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)```", re.DOTALL)
_PYTHON_TAGS = {"", "python", "py", "python3", "py3"}


# --- extraction ------------------------------------------------------------------------------------


def extract_code(response: str) -> tuple[str | None, str]:
    """The last fenced Python block (or the raw text when there is no fence), and why not if none."""
    blocks = _FENCE.findall(response)
    if blocks:
        python = [body for tag, body in blocks if tag.lower() in _PYTHON_TAGS]
        if not python:
            tags = sorted({tag for tag, _ in blocks})
            return None, f"no Python code block (found a block in {', '.join(tags)})"
        code = python[-1]
    else:
        code = response
    if not code.strip():
        return None, "empty response" if not response.strip() else "empty code block"
    return code, ""


def defines(code: str, name: str) -> bool:
    """True when ``code`` parses and defines ``name`` at module level."""
    try:
        tree = parse_quietly(code)
    except (SyntaxError, ValueError):
        return False
    for node in tree.body:
        if (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and node.name == name
        ):
            return True
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return True
    return False


# --- sandbox access ------------------------------------------------------------------------------


def _resolve(sandbox: Any) -> Any:
    """A sandbox object: the given one, a named backend, or the process's shared ``auto`` one."""
    if sandbox is None or isinstance(sandbox, str):
        import sandbox as sandbox_package

        # get_sandbox shares one pool per backend and process and resolves "auto" once.
        return sandbox_package.get_sandbox(sandbox or "auto")
    return sandbox


def _limits(limits: Any, timeout_s: float | None) -> Any:
    import sandbox as sandbox_package

    if limits is None:
        limits = sandbox_package.Limits()
    if timeout_s is not None:
        limits = limits.replace(wall_time_s=timeout_s)
    return limits


_EXEC_STATUS = {
    "timeout": Status.TIMEOUT,
    "memory_limit": Status.MEMORY_LIMIT,
    "output_limit": Status.OUTPUT_LIMIT,
    "sandbox_error": Status.SANDBOX_ERROR,
}


def _failure_from_exec(result: Any, summary: dict[str, Any] | None = None) -> Verdict | None:
    """A verdict for a job that hit a limit or broke the sandbox, else None."""
    status = _EXEC_STATUS.get(getattr(result.status, "value", str(result.status)))
    if status is None:
        return None
    detail = result.detail or status.value.replace("_", " ")
    return Verdict.make(status, detail, details={"exec": summary or _exec_summary(result)})


def _exec_summary(result: Any) -> dict[str, Any]:
    return {
        "status": getattr(result.status, "value", str(result.status)),
        "exit_code": result.exit_code,
        "signal": result.signal,
        "wall_time_s": round(result.wall_time_s, 4),
        "stderr_tail": result.stderr_text[-1000:],
        "backend": result.backend,
    }


# --- running the candidate -----------------------------------------------------------------------


def _parse_records(stdout: str) -> tuple[dict[str, Any], dict[int, dict[str, Any]], bool]:
    header: dict[str, Any] = {}
    records: dict[int, dict[str, Any]] = {}
    done = False
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(record, dict):
            continue
        if "i" in record and isinstance(record["i"], int):
            records.setdefault(record["i"], record)
        elif "done" in record:
            done = True
        else:
            header.update(record)
    return header, records, done


def _run_calls(
    code: str, calls: Sequence[list[Any]], sandbox: Any, limits: Any
) -> tuple[list[dict[str, Any]] | None, Verdict | None, dict[str, Any]]:
    """Call the candidate's functions in the sandbox; results per call, or a failure verdict."""
    result = sandbox.run_python(
        RUNNER_SOURCE,
        files={"solution.py": code, "calls.json": json.dumps(list(calls))},
        limits=limits,
    )
    summary = _exec_summary(result)
    failure = _failure_from_exec(result, summary)
    if failure is not None:
        return None, failure, summary
    header, records, done = _parse_records(result.stdout_text)
    if "import_error" in header:
        name, message = header["import_error"]
        status = (
            Status.SYNTAX_ERROR
            if name in ("SyntaxError", "IndentationError")
            else Status.RUNTIME_ERROR
        )
        reason = f"the solution failed at import: {name}: {message}"
        return None, Verdict.make(status, reason, details={"exec": summary}), summary
    missing = [i for i in range(len(calls)) if i not in records]
    if not header.get("imported") or missing or not done:
        where = f"before call {missing[0]}" if missing else "before the runner finished"
        how = (
            f"killed by signal {result.signal}"
            if result.signal
            else f"exit code {result.exit_code}"
        )
        reason = f"the solution stopped {where} ({how})"
        return None, Verdict.make(Status.RUNTIME_ERROR, reason, details={"exec": summary}), summary
    return [records[i] for i in range(len(calls))], None, summary


def _verify_asserts(
    code: str, program: TestProgram, sandbox: Any, limits: Any, max_rounds: int
) -> tuple[PassOutcome | None, Verdict | None, dict[str, Any]]:
    known: list[tuple[Call, dict[str, Any]]] = []
    info: dict[str, Any] = {"rounds": 0, "calls": 0}
    for _ in range(max_rounds + 1):
        outcome = program.run_pass(known)
        if outcome.final:
            return outcome, None, info
        if not outcome.new_calls:
            return (
                None,
                Verdict.make(
                    Status.ERROR,
                    "the tests could not make progress (a call depends on a pending value in a way "
                    "the harness cannot resolve)",
                ),
                info,
            )
        if info["rounds"] == max_rounds:
            break
        calls = [c for c, _ in known] + outcome.new_calls
        records, failure, summary = _run_calls(code, [c.payload for c in calls], sandbox, limits)
        info["rounds"] += 1
        info["calls"] = len(calls)
        info["exec"] = summary
        if failure is not None:
            return None, failure, info
        known = list(zip(calls, records))
    return (
        None,
        Verdict.make(Status.ERROR, f"the tests needed more than {max_rounds} sandbox rounds"),
        info,
    )


def _equal(a: Any, b: Any, float_tolerance: float) -> bool:
    """Type-strict equality of plain data (``1 != 1.0 != True``), with optional float tolerance."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if a == b or (a != a and b != b):
            return True
        return float_tolerance > 0 and abs(a - b) <= float_tolerance * max(1.0, abs(a), abs(b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y, float_tolerance) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k], float_tolerance) for k in a)
    return a == b


def _normalise_output(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()).strip()


# --- verdicts ------------------------------------------------------------------------------------


def _score(
    passed: int, total: int, reward: str, first_failure: str | None, status: Status
) -> Verdict:
    fraction = passed / total if total else 0.0
    if passed == total and total > 0:
        return Verdict.make(
            Status.CORRECT, f"all {total} tests passed", details={"passed": passed, "total": total}
        )
    value = fraction if reward == "fraction" else 0.0
    return Verdict.make(
        status,
        f"{passed}/{total} tests passed; first failure: {first_failure}",
        reward=value,
        details={"passed": passed, "total": total},
    )


def verify(
    response: str,
    tests: Any,
    entry_point: str | None = None,
    *,
    sandbox: Any = None,
    limits: Any = None,
    setup: str | None = None,
    prefix: str | None = None,
    reward: str = "all",
    timeout_s: float | None = None,
    float_tolerance: float = 0.0,
    max_rounds: int = MAX_ROUNDS,
) -> Verdict:
    """Run the code in ``response`` against ``tests`` in a sandbox and judge it outside.

    ``tests``: assert-style test code (a string, or a list of assert lines), a list of function
    cases ``{"input": [...], "output": ...}`` (needs ``entry_point``), or a list of stdin/stdout
    cases ``{"stdin": ..., "stdout": ...}``. ``setup`` is trusted code run before the tests on the
    host (e.g. HumanEval's prompt, whose helpers the tests use); ``prefix`` is prepended to the
    candidate when it does not define ``entry_point`` itself (completion-style answers).
    ``reward="fraction"`` pays the fraction of tests passed instead of all-or-nothing.
    """
    start = time.perf_counter()
    verdict = _verify(
        response,
        tests,
        entry_point,
        sandbox=sandbox,
        limits=limits,
        setup=setup,
        prefix=prefix,
        reward=reward,
        timeout_s=timeout_s,
        float_tolerance=float_tolerance,
        max_rounds=max_rounds,
    )
    return verdict.replace(elapsed_s=time.perf_counter() - start)


def _verify(
    response,
    tests,
    entry_point,
    *,
    sandbox,
    limits,
    setup,
    prefix,
    reward,
    timeout_s,
    float_tolerance,
    max_rounds,
) -> Verdict:
    if not isinstance(response, str):
        raise TypeError(f"response must be a str, got {type(response).__name__}")
    if reward not in ("all", "fraction"):
        raise ValueError(f"reward must be 'all' or 'fraction', got {reward!r}")
    if len(response) > MAX_RESPONSE_CHARS:
        return Verdict.make(
            Status.INVALID_INPUT,
            f"response has {len(response)} characters, over {MAX_RESPONSE_CHARS}",
        )
    try:
        response.encode("utf-8")
    except UnicodeEncodeError:
        return Verdict.make(Status.INVALID_INPUT, "response is not valid Unicode text")
    code, why = extract_code(response)
    if code is None:
        return Verdict.make(Status.NO_CODE, why)
    if prefix and entry_point and not defines(code, entry_point):
        code = f"{prefix.rstrip()}\n{code}"
    try:
        quiet_compile(code, "solution.py")
    except (SyntaxError, ValueError) as error:
        line = getattr(error, "lineno", None)
        return Verdict.make(
            Status.SYNTAX_ERROR,
            f"{type(error).__name__}: {getattr(error, 'msg', error)}"
            + (f" (line {line})" if line else ""),
            extracted=code,
        )
    box = _TimedSandbox(_resolve(sandbox))
    run_limits = _limits(limits, timeout_s)

    if _is_io_cases(tests):
        verdict = _verify_io(code, tests, box, run_limits, reward)
    elif _is_function_cases(tests):
        if not entry_point:
            raise ValueError("function cases need an entry_point")
        verdict = _verify_function_cases(
            code, tests, entry_point, box, run_limits, reward, float_tolerance
        )
    else:
        verdict = _verify_assert_tests(
            code, tests, entry_point, setup, box, run_limits, reward, max_rounds
        )
    return verdict.replace(
        extracted=code, details={**verdict.details, "sandbox_s": round(box.seconds, 6)}
    )


class _TimedSandbox:
    """Counts the time spent waiting on the sandbox, to tell it from the verifier's own work."""

    def __init__(self, box: Any) -> None:
        self.box = box
        self.seconds = 0.0

    def run_python(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.box.run_python(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start

    def run_python_many(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.box.run_python_many(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


def _is_io_cases(tests: Any) -> bool:
    return (
        isinstance(tests, Sequence)
        and not isinstance(tests, str)
        and bool(tests)
        and all(isinstance(t, Mapping) and "stdin" in t and "stdout" in t for t in tests)
    )


def _is_function_cases(tests: Any) -> bool:
    return (
        isinstance(tests, Sequence)
        and not isinstance(tests, str)
        and bool(tests)
        and all(isinstance(t, Mapping) and "input" in t and "output" in t for t in tests)
    )


def _failure_status(raised_by_candidate: bool, why: str | None) -> Status:
    """WRONG for a failed check; RUNTIME_ERROR (or MEMORY_LIMIT) when the candidate raised."""
    if not raised_by_candidate:
        return Status.WRONG
    # RLIMIT_AS turns an oversized allocation into a MemoryError the candidate could catch.
    return Status.MEMORY_LIMIT if why and "MemoryError" in why else Status.RUNTIME_ERROR


def _verify_assert_tests(code, tests, entry_point, setup, box, limits, reward, max_rounds):
    if isinstance(tests, Mapping):
        setup = "\n".join(filter(None, [setup, tests.get("setup")]))
        tests = tests.get("tests") or tests.get("asserts")
    if isinstance(tests, Sequence) and not isinstance(tests, str):
        tests = "\n".join(str(t) for t in tests)
    if not isinstance(tests, str):
        raise TypeError("tests must be test code, a list of asserts, or a list of cases")
    try:
        program = TestProgram(tests, entry_point=entry_point, setup=setup, solution=code)
        outcome, failure, info = _verify_asserts(code, program, box, limits, max_rounds)
    except HarnessError as error:
        return Verdict.make(Status.ERROR, f"harness: {error}")
    if failure is not None:
        return failure.replace(details={**failure.details, **info})
    first = outcome.failures[0] if outcome.failures else None
    raised = (first and first[3]) or (not first and outcome.aborted_by_candidate)
    if first:
        why = f"assert #{first[0]} (line {first[1]}): {first[2]}"
    else:
        why = outcome.aborted
    verdict = _score(outcome.passed, outcome.total, reward, why, _failure_status(raised, why))
    return verdict.replace(details={**verdict.details, **info})


def _verify_function_cases(code, cases, entry_point, box, limits, reward, float_tolerance):
    from ._runner import from_plain, to_plain

    calls = [[entry_point, to_plain(list(case["input"])), to_plain({})] for case in cases]
    records, failure, summary = _run_calls(code, calls, box, limits)
    if failure is not None:
        return failure
    passed, first = 0, None
    raised = False
    for index, (case, record) in enumerate(zip(cases, records)):
        if "v" in record:
            got = from_plain(record["v"])
            if _equal(got, case["output"], float_tolerance):
                passed += 1
                continue
            why = f"case {index}: returned {got!r}, expected {case['output']!r}"
        elif "exc" in record:
            why = f"case {index}: raised {record['exc'][0]}: {record['exc'][1]}"
            raised = raised or first is None
        elif "missing" in record:
            why = f"the solution does not define {entry_point}()"
            raised = raised or first is None
        else:
            why = f"case {index}: returned {record.get('bad')}"
        first = first or why
    verdict = _score(passed, len(cases), reward, first, _failure_status(raised, first))
    return verdict.replace(details={**verdict.details, "exec": summary})


def _verify_io(code, cases, box, limits, reward):
    jobs = [{"code": code, "stdin": case["stdin"], "limits": limits} for case in cases]
    results = box.run_python_many(jobs)
    passed, first, worst = 0, None, None
    for index, (case, result) in enumerate(zip(cases, results)):
        failure = _failure_from_exec(result)
        if failure is not None:
            worst = worst or failure
            first = first or f"case {index}: {failure.reason}"
            continue
        if result.status.value != "ok":
            first = (
                first
                or f"case {index}: exit code {result.exit_code}, signal {result.signal}: {result.stderr_text[-300:]}"
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
    return _score(passed, len(cases), reward, first, Status.WRONG)


class CodeVerifier:
    """Environment-side code verifier: reads tests, entry point and setup from ``task.answer``."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def __call__(self, completion: str, task: Task) -> Verdict:
        answer = task.answer
        if not isinstance(answer, Mapping) or "tests" not in answer:
            raise ValueError(f"task {task.id}: answer must be a mapping with 'tests'")
        return verify(
            completion,
            answer["tests"],
            answer.get("entry_point"),
            setup=answer.get("setup"),
            prefix=answer.get("prefix"),
            **self.options,
        )
