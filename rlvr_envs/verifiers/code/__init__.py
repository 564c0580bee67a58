"""Code verifier: run a candidate in the sandbox, decide outside it, from data it cannot forge.

Three kinds of tests:

- **assert-style** test code (HumanEval's ``check(candidate)``, MBPP's assert lists): decided by
  record and replay (:mod:`.harness`, :mod:`.replay`): the tests run on the host against stubs,
  the sandbox only computes the candidate's return values (and what its calls did to their
  arguments) for the arguments the tests pass, as plain data. Passes that replay the candidate's
  values run in a judge process (:mod:`.judge`), bounded in time and memory.
- **function cases** ``[{"input": [args...], "output": expected}, ...]``: the sandbox receives only
  the inputs; outputs come back as typed plain data and are compared here (:mod:`.compare`:
  as JSON would when the expectation came from JSON, else type-strict).
- **stdin/stdout cases** ``[{"stdin": "...", "stdout": "..."}, ...]``: the program runs once per
  case; its output is compared here (trailing whitespace per line ignored) and it must exit cleanly.

A pass needs positive evidence for every test: a result record per call produced by the runner
after the candidate was imported, and a final host pass in which every assertion held. An exit
status, a printed marker or an exception handler of the candidate's never counts. Whatever the
candidate does (corrupt the runner's output, hand back objects, stall the host passes, kill its
worker) is graded as the candidate's (``runtime_error``, ``wrong``, ``timeout``, ``memory_limit``);
``error`` is for tests the harness cannot run, ``sandbox_error`` for a broken sandbox.

``timeout_s`` (default: the sandbox limits' wall time) bounds the whole verification of one
answer: every sandbox round and every host pass together, time spent queueing for a sandbox
worker or a judge excluded. For stdin/stdout cases it bounds each case's run.
"""

from __future__ import annotations

import ast
import re
import time
from collections.abc import Mapping
from typing import Any

from ...tasks import Task
from ...verdict import Status, Verdict
from .asserts import verify_assert_tests
from .cases import is_function_cases, is_io_cases, verify_function_cases, verify_io
from .compare import COMPARE_MODES
from .harness import parse_quietly, quiet_compile
from .running import RUNNER_SOURCE, Budget, TimedSandbox, resolve_limits, resolve_sandbox

__all__ = ["RUNNER_SOURCE", "CodeVerifier", "defines", "extract_code", "parse_quietly", "verify"]

MAX_RESPONSE_CHARS = 200_000
MAX_ROUNDS = 200  # a safety net; the time budget normally ends a long exchange first

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


# --- verification --------------------------------------------------------------------------------


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
    compare: str = "auto",
) -> Verdict:
    """Run the code in ``response`` against ``tests`` in a sandbox and judge it outside.

    ``tests``: assert-style test code (a string, or a list of assert lines), a list of function
    cases ``{"input": [...], "output": ...}`` (needs ``entry_point``), or a list of stdin/stdout
    cases ``{"stdin": ..., "stdout": ...}``. ``setup`` is trusted code run before the tests on the
    host (e.g. HumanEval's prompt, whose helpers the tests use); ``prefix`` is prepended to the
    candidate when it does not define ``entry_point`` itself (completion-style answers).
    ``reward="fraction"`` pays the fraction of tests passed instead of all-or-nothing.
    ``timeout_s`` bounds the whole verification (see the module docstring). ``compare`` picks
    how function cases compare outputs: ``"auto"`` (as JSON would when the expected output is
    JSON data, else type-strict), ``"json"`` or ``"strict"``.
    """
    start = time.perf_counter()
    if not isinstance(response, str):
        raise TypeError(f"response must be a str, got {type(response).__name__}")
    if reward not in ("all", "fraction"):
        raise ValueError(f"reward must be 'all' or 'fraction', got {reward!r}")
    if compare not in COMPARE_MODES:
        raise ValueError(f"compare must be one of {COMPARE_MODES}, got {compare!r}")
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
        compare=compare,
    )
    return verdict.replace(elapsed_s=time.perf_counter() - start)


def _checked_code(response: str, entry_point: str | None, prefix: str | None) -> str | Verdict:
    """The candidate's code, ready to run, or the verdict that it has none worth running."""
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
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        line = getattr(error, "lineno", None)
        return Verdict.make(
            Status.SYNTAX_ERROR,
            f"{type(error).__name__}: {getattr(error, 'msg', error)}"
            + (f" (line {line})" if line else ""),
            extracted=code,
        )
    return code


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
    compare,
) -> Verdict:
    code = _checked_code(response, entry_point, prefix)
    if isinstance(code, Verdict):
        return code
    box = TimedSandbox(resolve_sandbox(sandbox))
    run_limits = resolve_limits(limits, timeout_s)
    budget = Budget(run_limits.wall_time_s)
    if is_io_cases(tests):
        verdict = verify_io(code, tests, box, run_limits, reward)
    elif is_function_cases(tests):
        if not entry_point:
            raise ValueError("function cases need an entry_point")
        verdict = verify_function_cases(
            code, tests, entry_point, box, run_limits, reward, float_tolerance, compare
        )
    else:
        verdict = verify_assert_tests(
            code, tests, entry_point, setup, box, run_limits, reward, max_rounds, budget
        )
    return verdict.replace(
        extracted=code, details={**verdict.details, "sandbox_s": round(box.seconds, 6)}
    )


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
