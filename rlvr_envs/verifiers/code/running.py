"""Running the candidate in the sandbox, the time budget, and the verdict helpers they share."""

from __future__ import annotations

import functools
import json
import marshal
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sandbox.base import Job
from sandbox.worker_modules import ModuleMain, register_worker_module

from ...verdict import Seconds, Status, Verdict
from .results import MalformedResults, RunnerOutput, parse_prefix, parse_results

RUNNER_SOURCE = Path(__file__).with_name("_runner.py").read_text(encoding="utf-8")
RUNNER_MODULE = "rlvr_code_runner"
# Every sandbox worker started from now on holds the runner compiled, so a job does not load it.
RUNNER_DIGEST = register_worker_module(RUNNER_MODULE, RUNNER_SOURCE)
MIN_ROUND_S = 0.05  # the least wall time worth giving a sandbox round
# Workers started before the runner was registered, and services elsewhere, do not hold it: the
# job then loads it from the files that travel with it, compiled too (compiling it costs a job
# more than running it), with the interpreter tag its bytecode is for; a sandbox interpreter of
# another version compiles the source instead. ``marshal.loads`` of the whole file, not
# ``marshal.load`` of the file object: the latter reads the file a few bytes at a time.
RUNNER_LOADER = f"""import sys
runner = sys.modules.get("{RUNNER_MODULE}")
if getattr(runner, "__source_digest__", None) == "{RUNNER_DIGEST}":
    runner.main()
try:
    with open("runner.tag") as f:
        if f.read() != sys.implementation.cache_tag:
            raise ValueError
    import marshal
    with open("runner.code", "rb") as f:
        code = marshal.loads(f.read())
except Exception:
    with open("runner.py", encoding="utf-8") as f:
        code = compile(f.read(), "runner.py", "exec")
exec(code, {{"__name__": "__main__", "__file__": "runner.py"}})
"""
CACHE_TAG = sys.implementation.cache_tag or ""
RUNNER_FILES = ("runner.py", "runner.code", "runner.tag")
# Where a worker holds the runner, a job calls its main() directly: no loader to compile, and the
# runner's files are not sent.
RUNNER_MAIN = ModuleMain(RUNNER_MODULE, RUNNER_DIGEST, frozenset(RUNNER_FILES))


@functools.lru_cache(maxsize=1)
def runner_files() -> dict[str, bytes | str]:
    """The runner's files for a job: its source, its bytecode and the tag of that bytecode."""
    code = compile(RUNNER_SOURCE, "runner.py", "exec", dont_inherit=True, optimize=2)
    return {
        "runner.py": RUNNER_SOURCE,
        "runner.code": marshal.dumps(code),
        "runner.tag": CACHE_TAG,
    }


def resolve_sandbox(sandbox: Any) -> Any:
    """A sandbox object: the given one, a named backend, or the process's shared ``auto`` one."""
    if sandbox is None or isinstance(sandbox, str):
        import sandbox as sandbox_package

        # get_sandbox shares one pool per backend and process and resolves "auto" once.
        return sandbox_package.get_sandbox(sandbox or "auto")
    return sandbox


def resolve_limits(limits: Any, timeout_s: float | None) -> Any:
    """The sandbox limits, with ``timeout_s`` as the wall time when given."""
    import sandbox as sandbox_package

    if limits is None:
        limits = sandbox_package.Limits()
    if timeout_s is not None:
        limits = limits.replace(wall_time_s=timeout_s)
    return limits


class Budget:
    """The time one verification may spend on the candidate: sandbox rounds and host passes.

    Only time the candidate can be blamed for is spent: a round's own run time as the sandbox
    measured it, a pass's own run time as the judge measured it; queueing is not.
    """

    def __init__(self, seconds: float) -> None:
        self.total = seconds
        self.left = seconds

    def spend(self, seconds: float) -> None:
        """Take ``seconds`` off what is left."""
        self.left -= max(0.0, seconds)

    def limits_for_round(self, limits: Any) -> Any:
        """The sandbox limits of the next round: what is left of the budget, at most."""
        wall = max(MIN_ROUND_S, min(limits.wall_time_s, self.left))
        cpu = limits.cpu_time_s
        if wall == limits.wall_time_s and (cpu is None or cpu <= wall):
            return limits  # the common first round: nothing to change (and to validate again)
        return limits.replace(wall_time_s=wall, cpu_time_s=None if cpu is None else min(cpu, wall))

    def timeout(self, what: str) -> Verdict:
        """The verdict for ``what`` running out of the budget."""
        return Verdict.make(Status.TIMEOUT, f"{what} exceeded the {self.total:g} s time limit")


_EXEC_STATUS = {
    "timeout": Status.TIMEOUT,
    "memory_limit": Status.MEMORY_LIMIT,
    "output_limit": Status.OUTPUT_LIMIT,
    "sandbox_error": Status.SANDBOX_ERROR,
}


def failure_from_exec(result: Any, summary: dict[str, Any] | None = None) -> Verdict | None:
    """A verdict for a job that hit a limit or broke the sandbox, else None."""
    status = _EXEC_STATUS.get(getattr(result.status, "value", str(result.status)))
    if status is None:
        return None
    detail = result.detail or status.value.replace("_", " ")
    return Verdict.make(status, detail, details={"exec": summary or exec_summary(result)})


def exec_summary(result: Any) -> dict[str, Any]:
    """The facts about a sandbox job worth keeping in a verdict."""
    return {
        "status": getattr(result.status, "value", str(result.status)),
        "exit_code": result.exit_code,
        "signal": result.signal,
        "wall_time_s": round(result.wall_time_s, 4),
        "stderr_tail": result.stderr_text[-1000:],
        "backend": result.backend,
    }


def run_calls(
    code: str,
    calls: Sequence[list[Any]],
    names: Sequence[str],
    sandbox: Any,
    limits: Any,
    compiled: bytes | None = None,
    keep_prefix: bool = False,
) -> tuple[RunnerOutput | None, Verdict | None, dict[str, Any]]:
    """Call the candidate's functions in the sandbox; what the runner reported, or a verdict.

    ``compiled`` is the solution's bytecode (``marshal``), spared the job when its interpreter
    is this one. With ``keep_prefix``, a verdict comes with the well-formed records written
    before the job went wrong (:func:`.results.parse_prefix`) instead of None.
    """
    result = _submit_calls(code, calls, names, sandbox, limits, compiled)
    out, failure, summary = _read_calls(result, len(calls))
    if failure is not None and keep_prefix:
        out = parse_prefix(result.stdout, len(calls))
    return out, failure, summary


def _submit_calls(
    code: str,
    calls: Sequence[list[Any]],
    names: Sequence[str],
    sandbox: Any,
    limits: Any,
    compiled: bytes | None,
) -> Any:
    request = {"names": list(names), "calls": list(calls), "tag": CACHE_TAG}
    files = {**runner_files(), "solution.py": code, "calls.json": json.dumps(request)}
    if compiled is not None:
        files["solution.code"] = compiled
    if hasattr(sandbox, "submit"):
        job = Job(code=RUNNER_LOADER, files=files, limits=limits, module_main=RUNNER_MAIN)
        result = sandbox.submit(job)
    else:  # an object with run_python only (duck typing): the loader covers every case
        result = sandbox.run_python(RUNNER_LOADER, files=files, limits=limits)
    return result


def _read_calls(
    result: Any, calls: int
) -> tuple[RunnerOutput | None, Verdict | None, dict[str, Any]]:
    summary = exec_summary(result)
    failure = failure_from_exec(result, summary)
    if failure is not None:
        return None, failure, summary
    try:
        out = parse_results(result.stdout, calls)
    except MalformedResults as error:
        reason = f"the solution corrupted the runner's results ({error})"
        return None, Verdict.make(Status.RUNTIME_ERROR, reason, details={"exec": summary}), summary
    if out.import_error is not None:
        name, message = out.import_error
        status = (
            Status.SYNTAX_ERROR
            if name in ("SyntaxError", "IndentationError")
            else Status.RUNTIME_ERROR
        )
        reason = f"the solution failed at import: {name}: {message}"
        return None, Verdict.make(status, reason, details={"exec": summary}), summary
    missing = [i for i in range(calls) if i not in out.records]
    if not out.imported or missing or not out.done:
        where = f"before call {missing[0]}" if missing else "before the runner finished"
        how = (
            f"killed by signal {result.signal}"
            if result.signal
            else f"exit code {result.exit_code}"
        )
        reason = f"the solution stopped {where} ({how})"
        return None, Verdict.make(Status.RUNTIME_ERROR, reason, details={"exec": summary}), summary
    return out, None, summary


class Timings:
    """Where one verification's time went, in seconds: parsing (the tests and the answer),
    recording (the host pass that collects the tests' calls), sandbox rounds (waiting on the
    sandbox) and host replay (the judged passes over the candidate's values)."""

    PARTS = ("parse", "record", "sandbox", "replay")

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(self.PARTS, 0.0)

    @contextmanager
    def measure(self, part: str) -> Iterator[None]:
        """Add the time the ``with`` block takes to ``part``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[part] += time.perf_counter() - start

    def details(self) -> dict[str, float]:
        """The verdict's ``details["timings"]``: ``{"parse_s": ..., ...}``, as :class:`Seconds`
        (durations: two verdicts that decided alike stay equal, as Gymnasium's checks want)."""
        return {f"{part}_s": Seconds(round(self.seconds[part], 6)) for part in self.PARTS}


class TimedSandbox:
    """Counts the time spent waiting on the sandbox, to tell it from the verifier's own work."""

    def __init__(self, box: Any, timings: Timings | None = None) -> None:
        self.box = box
        self.timings = timings or Timings()

    @property
    def seconds(self) -> float:
        """Seconds spent waiting on the sandbox so far."""
        return self.timings.seconds["sandbox"]

    def run_python(self, *args: Any, **kwargs: Any) -> Any:
        with self.timings.measure("sandbox"):
            return self.box.run_python(*args, **kwargs)

    def run_python_many(self, *args: Any, **kwargs: Any) -> Any:
        with self.timings.measure("sandbox"):
            return self.box.run_python_many(*args, **kwargs)

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        with self.timings.measure("sandbox"):
            return self.box.submit(*args, **kwargs)


def score(
    passed: int, total: int, reward: str, first_failure: str | None, status: Status
) -> Verdict:
    """CORRECT when every test passed, else ``status`` with the reward ``reward`` asks for."""
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


def failure_status(raised_by_candidate: bool, why: str | None) -> Status:
    """WRONG for a failed check; RUNTIME_ERROR (or MEMORY_LIMIT) when the candidate raised."""
    if not raised_by_candidate:
        return Status.WRONG
    # RLIMIT_AS turns an oversized allocation into a MemoryError the candidate could catch.
    return Status.MEMORY_LIMIT if why and "MemoryError" in why else Status.RUNTIME_ERROR
