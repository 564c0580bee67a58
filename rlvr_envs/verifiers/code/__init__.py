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

:func:`verify_batch` verifies many answers at once (a GRPO group, a vector step) with exactly the
verdicts of :func:`verify` one by one; a task's tests are prepared once for all its answers
(:mod:`.programs`), and a verdict's ``details["timings"]`` says where its time went.
"""

from __future__ import annotations

import ast
import marshal
import re
import time
import types
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ...tasks import Task
from ...verdict import Seconds, Status, Verdict
from . import programs
from .asserts import verify_assert_tests
from .cases import is_function_cases, is_io_cases, verify_function_cases, verify_io
from .compare import COMPARE_MODES
from .harness import parse_quietly, quiet_compile
from .running import (
    RUNNER_SOURCE,
    Budget,
    TimedSandbox,
    Timings,
    resolve_limits,
    resolve_sandbox,
)

__all__ = [
    "RUNNER_SOURCE",
    "CodeVerifier",
    "clear_caches",
    "defines",
    "extract_code",
    "parse_quietly",
    "verify",
    "verify_batch",
]

MAX_RESPONSE_CHARS = 200_000
MAX_ROUNDS = 200  # a safety net; the time budget normally ends a long exchange first

_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)```", re.DOTALL)
_TOP_DEF = re.compile(r"^(?:async[ \t]+def|def|class)[ \t]+(\w+)", re.M)
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
    tree = _tree_naming(code, name)
    return tree is not None and _defines(tree, name)


def _tree_naming(code: str, name: str) -> ast.Module | None:
    """The tree of ``code`` if its text may name ``name``; None if not, or if it does not parse
    (nesting too deep to parse included: that is the candidate's syntax error, found later)."""
    if name not in code and code.isascii():
        return None  # spares a parse; other scripts may spell it differently (NFKC)
    try:
        return parse_quietly(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _compiled_if_defined(code: str, name: str) -> types.CodeType | None:
    """``code`` compiled, when a ``def`` or ``class`` of ``name`` at column 0 is one: the compiled
    module then makes that function or class at that line, and so defines ``name`` at module
    level. None whenever the case is less plain (the parsed tree then decides, as in
    :func:`defines`); this spares most answers a parse."""
    if not code.isascii():
        return None
    # One pattern for every name: a pattern built per entry point misses re's cache on every
    # new task (84 us to compile it, against 1.4 us for the scan).
    found = next((m for m in _TOP_DEF.finditer(code) if m[1] == name), None)
    if found is None:
        return None
    line = code.count("\n", 0, found.start()) + 1
    try:
        compiled = quiet_compile(code, "solution.py", inherit=False)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for const in compiled.co_consts:
        if (
            isinstance(const, types.CodeType)
            and const.co_name == name
            and const.co_firstlineno == line
        ):
            return compiled
    return None


def _defines(tree: ast.Module, name: str) -> bool:
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
    ``reward="fraction"`` pays the fraction of tests passed instead of all-or-nothing. With
    ``reward="all"``, assert-style tests count as a test run that stops at its first failing
    assertion: ``details["passed"]`` are the assertions that held before it, and where the
    verifier compares the values itself (:mod:`.direct`) the job is stopped there, so what the
    candidate does after its first failure (a slow call, a loop, a crash) does not count.
    ``timeout_s`` bounds the whole verification (see the module docstring). ``compare`` picks
    how function cases compare outputs: ``"auto"`` (as JSON would when the expected output is
    JSON data, else type-strict), ``"json"`` or ``"strict"``.
    """
    start = time.perf_counter()
    _check_arguments([response], reward, compare)
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


def _check_arguments(responses: Sequence[Any], reward: str, compare: str) -> None:
    for response in responses:
        if not isinstance(response, str):
            raise TypeError(f"response must be a str, got {type(response).__name__}")
    if reward not in ("all", "fraction"):
        raise ValueError(f"reward must be 'all' or 'fraction', got {reward!r}")
    if compare not in COMPARE_MODES:
        raise ValueError(f"compare must be one of {COMPARE_MODES}, got {compare!r}")


def verify_batch(
    responses: Sequence[str],
    tests: Any = None,
    entry_point: str | None = None,
    *,
    problems: Sequence[Mapping[str, Any]] | None = None,
    setup: str | None = None,
    prefix: str | None = None,
    sandbox: Any = None,
    max_concurrency: int | None = None,
    **options: Any,
) -> list[Verdict]:
    """Verify many answers at once; the verdicts, in order, are those of ``verify`` one by one.

    Typically one GRPO group (G answers to one task: ``tests``, ``entry_point``, ``setup``,
    ``prefix`` as for :func:`verify`) or a vector environment's step, where each answer has its
    own task: ``problems`` then holds one mapping per response with ``tests`` and optionally
    ``entry_point``, ``setup`` and ``prefix`` (a task's ``answer``). The answers are pipelined
    over the sandbox pool: up to ``max_concurrency`` (default: twice the sandbox's workers) are
    in flight, so one answer's host replay overlaps the others' sandbox rounds; tests are
    prepared once per task, and host passes that wait at the same time share one judge round
    trip. Identical answers to the same task (same tests, entry point, setup and prefix) are
    verified once and share the verdict. ``options`` are :func:`verify`'s (``limits``,
    ``reward``, ``timeout_s``...).
    """
    responses = list(responses)
    if problems is None:
        if tests is None:
            raise ValueError("give the tests (shared by every response) or problems (one each)")
        shared = {"tests": tests, "entry_point": entry_point, "setup": setup, "prefix": prefix}
        tasks: list[Mapping[str, Any]] = [shared] * len(responses)
    else:
        if tests is not None or entry_point is not None or setup is not None or prefix is not None:
            raise ValueError("give either shared tests/entry_point/setup/prefix or problems")
        tasks = list(problems)
        if len(tasks) != len(responses):
            raise ValueError(f"{len(responses)} responses but {len(tasks)} problems")
        for task in tasks:
            if not isinstance(task, Mapping) or "tests" not in task:
                raise ValueError(f"a problem must be a mapping with 'tests', got {task!r:.200}")
    _check_arguments(responses, options.get("reward", "all"), options.get("compare", "auto"))
    if not responses:
        return []
    box = resolve_sandbox(sandbox)
    # Identical answers to the same task (a GRPO group's repeats) are verified once.
    first: dict[tuple[str, tuple[Any, ...]], int] = {}
    twin = [
        first.setdefault((response, _task_key(task)), index)
        for index, (response, task) in enumerate(zip(responses, tasks))
    ]
    unique = sorted(first.values())
    threads = max_concurrency or 2 * max(1, int(getattr(box, "workers", 1) or 1))
    threads = max(1, min(threads, len(unique)))

    def one(index: int) -> Verdict:
        task = tasks[index]
        return verify(
            responses[index],
            task["tests"],
            task.get("entry_point"),
            setup=task.get("setup"),
            prefix=task.get("prefix"),
            sandbox=box,
            **options,
        )

    if threads == 1:
        verdicts = {i: one(i) for i in unique}
    else:
        with ThreadPoolExecutor(threads, thread_name_prefix="rlvr-verify") as pool:
            verdicts = dict(zip(unique, pool.map(one, unique)))
    return [verdicts[i] for i in twin]


def _task_key(task: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes two tasks the same task for verification: tests, entry point, setup, prefix."""
    tests = task["tests"]
    return (
        tests if isinstance(tests, str) else repr(tests),
        task.get("entry_point"),
        task.get("setup"),
        task.get("prefix"),
    )


def clear_caches() -> None:
    """Forget the tests prepared for every task (they are kept for later answers to the same task)."""
    programs.clear()


def _checked_code(
    response: str, entry_point: str | None, prefix: str | None
) -> tuple[str, bytes, ast.Module | None] | Verdict:
    """The candidate's code, ready to run, its bytecode (``marshal``) and its tree when it was
    parsed (None when it was not); or the verdict that it has none worth running."""
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
    tree = program = None
    if prefix and entry_point:
        program = _compiled_if_defined(code, entry_point)
        if program is None:
            tree = _tree_naming(code, entry_point)
            if tree is None or not _defines(tree, entry_point):
                code, tree = f"{prefix.rstrip()}\n{code}", None
    try:
        # Compiled as the sandbox would (no future flags of this module): the bytecode travels.
        # From the tree when there is one: the same bytecode, without parsing the text again.
        if program is None:
            program = quiet_compile(code if tree is None else tree, "solution.py", inherit=False)
        compiled = marshal.dumps(program)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        line = getattr(error, "lineno", None)
        return Verdict.make(
            Status.SYNTAX_ERROR,
            f"{type(error).__name__}: {getattr(error, 'msg', error)}"
            + (f" (line {line})" if line else ""),
            extracted=code,
        )
    return code, compiled, tree


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
    timings = Timings()
    with timings.measure("parse"):
        checked = _checked_code(response, entry_point, prefix)
    if isinstance(checked, Verdict):
        return checked.replace(details={**checked.details, "timings": timings.details()})
    code, compiled, tree = checked
    box = TimedSandbox(resolve_sandbox(sandbox), timings)
    run_limits = resolve_limits(limits, timeout_s)
    budget = Budget(run_limits.wall_time_s)
    if is_io_cases(tests):
        verdict = verify_io(code, tests, box, run_limits, reward)
    elif is_function_cases(tests):
        if not entry_point:
            raise ValueError("function cases need an entry_point")
        verdict = verify_function_cases(
            code,
            tests,
            entry_point,
            box,
            run_limits,
            reward,
            float_tolerance,
            compare,
            compiled=compiled,
        )
    else:
        verdict = verify_assert_tests(
            code,
            tests,
            entry_point,
            setup,
            box,
            run_limits,
            reward,
            max_rounds,
            budget,
            compiled=compiled,
            tree=tree,
        )
    return verdict.replace(
        extracted=code,
        details={
            **verdict.details,
            "sandbox_s": Seconds(round(box.seconds, 6)),
            "timings": timings.details(),
        },
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

    def batch_key(self) -> tuple[Any, ...]:
        """Verifiers with equal keys verify each other's completions alike (one batch)."""
        return (type(self), *sorted((k, _hashable(v)) for k, v in self.options.items()))

    def verify_batch(self, completions: Sequence[str], tasks: Sequence[Task]) -> list[Verdict]:
        """Verdicts for many completions (each of its own task) at once; see :func:`verify_batch`."""
        answers = []
        for task in tasks:
            if not isinstance(task.answer, Mapping) or "tests" not in task.answer:
                raise ValueError(f"task {task.id}: answer must be a mapping with 'tests'")
            answers.append(task.answer)
        return verify_batch(completions, problems=answers, **self.options)


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))  # the same object (a sandbox, a dict of options), not an equal one
    return value
