"""What a job produced: a status from a closed set plus the raw facts behind it (data only)."""

from __future__ import annotations

import signal as _signal
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any


class ExecStatus(str, Enum):
    """How a job ended. Exactly one applies; see ``classify`` for the precedence."""

    OK = "ok"
    NONZERO_EXIT = "nonzero_exit"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    SIGNAL = "signal"
    SANDBOX_ERROR = "sandbox_error"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ExecResult:
    """The outcome of one job. ``stdout``/``stderr`` are bytes, capped at the output limit."""

    status: ExecStatus
    exit_code: int | None = None
    signal: int | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    wall_time_s: float = 0.0
    cpu_time_s: float = 0.0
    max_rss_kb: int = 0
    backend: str = ""
    detail: str = ""  # a short human explanation of the status

    @property
    def ok(self) -> bool:
        """True when the job exited with status 0 within every limit."""
        return self.status is ExecStatus.OK

    @property
    def stdout_text(self) -> str:
        """stdout decoded as UTF-8, invalid bytes replaced."""
        return self.stdout.decode("utf-8", "replace")

    @property
    def stderr_text(self) -> str:
        """stderr decoded as UTF-8, invalid bytes replaced."""
        return self.stderr.decode("utf-8", "replace")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (output as replaced-UTF-8 text)."""
        d = asdict(self)
        d["status"] = self.status.value
        d["stdout"] = self.stdout_text
        d["stderr"] = self.stderr_text
        return d

    @classmethod
    def sandbox_error(cls, detail: str, backend: str = "", wall_time_s: float = 0.0) -> ExecResult:
        """A result for a job the sandbox could not run or finish (never the job's fault)."""
        return cls(
            ExecStatus.SANDBOX_ERROR, backend=backend, detail=detail, wall_time_s=wall_time_s
        )


def _signal_name(signum: int) -> str:
    try:
        return _signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def classify(
    raw: dict[str, Any], cpu_limit_s: float, wall_limit_s: float
) -> tuple[ExecStatus, str]:
    """Status and explanation from the worker's raw report.

    Precedence: an infrastructure fault first, then the limits in the order they stop a job
    (output, time, memory), then how the process ended.
    """
    if raw.get("error"):
        return ExecStatus.SANDBOX_ERROR, str(raw["error"])
    sig = raw.get("signal")
    if raw.get("output_limited"):
        return ExecStatus.OUTPUT_LIMIT, "output limit exceeded; the job was killed"
    if raw.get("timed_out") == "wall":
        return ExecStatus.TIMEOUT, f"wall time limit of {wall_limit_s:g} s exceeded"
    if sig == _signal.SIGXCPU or (sig == _signal.SIGKILL and raw.get("cpu_s", 0.0) >= cpu_limit_s):
        return ExecStatus.TIMEOUT, f"CPU time limit of {cpu_limit_s:g} s exceeded"
    if raw.get("memory_error") or raw.get("oom_killed"):
        return ExecStatus.MEMORY_LIMIT, "memory limit exceeded"
    if sig is not None:
        return ExecStatus.SIGNAL, f"killed by {_signal_name(sig)}"
    code = raw.get("exit_code")
    if code:
        return ExecStatus.NONZERO_EXIT, f"exit status {code}"
    return ExecStatus.OK, ""
