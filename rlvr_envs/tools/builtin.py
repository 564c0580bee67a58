"""The built-in tools: ``python`` (a stateful sandboxed session), ``calculator`` (exact, no code
execution) and ``run_tests`` (a code task's public tests, never its hidden ones)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .base import Tool, ToolContext, ToolError, ToolFault
from .calculator import CalculatorError, evaluate, format_value

RUN_TESTS_WALL_S = 10.0


def truncate(text: str, max_chars: int) -> str:
    """``text`` cut to about ``max_chars``: its head and tail, with what was left out counted."""
    if len(text) <= max_chars:
        return text
    head = max_chars * 2 // 3
    tail = max_chars - head
    dropped = len(text) - head - tail
    return f"{text[:head]}\n[... {dropped} characters left out ...]\n{text[len(text) - tail :]}"


def format_python_result(result: Any, max_chars: int) -> str:
    """What the model reads after a ``python`` call: output, traceback, and what the session did."""
    from sandbox.session import CallStatus

    parts = [p.rstrip("\n") for p in (result.stdout, result.stderr) if p]
    if result.stdout_truncated or result.stderr_truncated:
        parts.append("[output over the sandbox's limit was dropped]")
    lost = "the session restarted: variables, imports and files from earlier calls are gone"
    if result.status is CallStatus.TIMEOUT:
        parts.append(f"[stopped: {result.detail or 'over the time limit'}; {lost}]")
    elif result.status is CallStatus.CRASHED:
        parts.append(f"[the interpreter stopped ({result.detail}); {lost}]")
    elif result.status is CallStatus.MEMORY_LIMIT and result.state_lost:
        parts.append(f"[out of memory; {lost}]")
    text = "\n".join(parts) if parts else "(no output)"
    return truncate(text, max_chars)


def python_tool(code: str, context: ToolContext) -> str:
    """Run Python code in a sandboxed interpreter that lives for this episode: variables, imports
    and files persist from one call to the next. Printed output and errors are returned, and the
    value of a final expression is shown.

    Args:
        code: The Python source to run.
    """
    from sandbox import SandboxError
    from sandbox.session import CallStatus

    try:
        result = context.session().run(code)
    except SandboxError as exc:
        raise ToolFault(f"the Python sandbox could not run the call: {exc}") from exc
    if result.status is CallStatus.SANDBOX_ERROR:
        raise ToolFault(f"the Python sandbox failed: {result.detail}")
    return format_python_result(result, context.max_output_chars)


def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression exactly, e.g. "(12 + 7) * 3 / 4" gives 57/4. Supports
    + - * / // % ** (or ^) and parentheses on whole numbers and decimals.

    Args:
        expression: The arithmetic expression to evaluate.
    """
    try:
        return format_value(evaluate(expression))
    except CalculatorError as exc:
        raise ToolError(str(exc)) from None


_IMPORT = re.compile(r"^\s*(import\s+\S.*|from\s+\S+\s+import\s+.+)$")

# Runs in the sandbox: the solution, then each public test on its own (a failure does not hide
# the next). What it prints goes back to the model only; the verdict never depends on it.
_TEST_RUNNER = """
import json, sys, traceback
setup, tests = json.load(open("tests.json"))
ns = {"__name__": "__main__"}
try:
    exec(compile(setup + "\\n" + open("solution.py").read(), "solution.py", "exec"), ns)
except BaseException as exc:
    print("Your code failed before any test ran:")
    traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next, limit=-3, file=sys.stdout)
    sys.exit(0)
failed = 0
for i, test in enumerate(tests, 1):
    try:
        exec(compile(test, "test %d" % i, "exec"), dict(ns))
    except AssertionError:
        failed += 1
        print("FAILED: " + test.strip())
    except BaseException as exc:
        failed += 1
        print("ERROR: %s\\n  %s: %s" % (test.strip(), type(exc).__name__, exc))
print("%d of %d public tests passed." % (len(tests) - failed, len(tests)))
"""


def public_tests(task: Any) -> tuple[str, list[str]]:
    """(setup code, public test statements) of a code task; never its hidden tests.

    Public tests are ``metadata["public_tests"]`` or, failing that, the one example test shown in
    the prompt (``metadata["example"]``, as MBPP's). The setup is the task's trusted setup code
    and the import lines of its tests: imports hide nothing.
    """
    metadata = getattr(task, "metadata", None) or {}
    tests = metadata.get("public_tests")
    if tests is None and metadata.get("example"):
        tests = [metadata["example"]]
    if not tests:
        raise ToolError("this task has no public tests to run")
    answer = getattr(task, "answer", None)
    setup = []
    if isinstance(answer, Mapping):
        if isinstance(answer.get("setup"), str):
            setup.append(answer["setup"])
        if isinstance(answer.get("tests"), str):
            setup += [line for line in answer["tests"].splitlines() if _IMPORT.match(line)]
    return "\n".join(setup), [str(t) for t in tests]


def run_tests(code: str, context: ToolContext) -> str:
    """Run the task's public tests against your code and report which fail. Hidden tests are not
    run; passing these does not guarantee passing them.

    Args:
        code: Your complete solution, as Python source.
    """
    from sandbox import ExecStatus, Limits, SandboxError

    setup, tests = public_tests(context.task)
    files = {"solution.py": code, "tests.json": json.dumps([setup, tests])}
    try:
        result = context.sandbox().run_python(
            _TEST_RUNNER, files=files, limits=Limits(wall_time_s=RUN_TESTS_WALL_S)
        )
    except (SandboxError, ValueError) as exc:
        raise ToolFault(f"the test sandbox could not run: {exc}") from exc
    if result.status is ExecStatus.SANDBOX_ERROR:
        raise ToolFault(f"the test sandbox failed: {result.detail}")
    text = result.stdout_text.rstrip("\n")
    if result.status is not ExecStatus.OK:
        text += f"\n[the test run ended: {result.status.value} {result.detail}]".rstrip()
    return truncate(text or "(no output)", context.max_output_chars)


BUILTIN_TOOLS = (
    Tool.from_function(python_tool, name="python"),
    Tool.from_function(calculator),
    Tool.from_function(run_tests),
)
