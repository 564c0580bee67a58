"""The structured result every verifier returns.

A verdict says not only how much reward an answer earned but *why*: a wrong answer, a missing
answer, a timeout and a broken sandbox are different statuses, so an infrastructure fault can never
pass silently as a wrong answer (or a pass).
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Status(str, enum.Enum):
    """Why a verifier gave the reward it gave."""

    CORRECT = "correct"
    WRONG = "wrong"
    WRONG_FORM = "wrong_form"  # the right value in a form the task refuses (an unevaluated 3 + 5)
    NO_ANSWER = "no_answer"  # nothing could be extracted (empty, no \boxed{}, prose only)
    INVALID_INPUT = "invalid_input"  # the input itself is unacceptable (too long, bad Unicode)
    FORMAT_ERROR = "format_error"  # a required output format was not followed
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    NO_CODE = "no_code"
    SYNTAX_ERROR = "syntax_error"
    RUNTIME_ERROR = "runtime_error"
    SANDBOX_ERROR = "sandbox_error"  # the execution infrastructure failed, not the candidate
    ERROR = "error"  # the verifier itself failed: a bug or a bad task, never the answer's fault

    def __str__(self) -> str:
        return self.value


# Statuses that describe a fault of the grading machinery rather than of the answer. Training code
# should drop such samples instead of treating them as zero-reward answers.
INFRASTRUCTURE_STATUSES = frozenset({Status.SANDBOX_ERROR, Status.ERROR})


class Seconds(float):
    """A measured duration in seconds.

    Durations vary from run to run, so two ``Seconds`` always compare equal to each other: equality
    of verdicts (and Gymnasium's seeded-determinism checks over ``info``) is about outcomes, not
    about how long the machine took. Compared with a plain number it behaves as a ``float``.
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Seconds):
            return True
        return float.__eq__(self, other)  # type: ignore[arg-type]

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(Seconds)

    def __repr__(self) -> str:
        return f"Seconds({float(self)!r})"

    def __deepcopy__(self, memo: dict) -> Seconds:
        return self

    def __reduce__(self) -> tuple:
        return (Seconds, (float(self),))


def _plain(value: Any) -> Any:
    """Convert a value to JSON-friendly plain data (enums to strings, tuples to lists)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Seconds):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return str(value)


@dataclass(frozen=True)
class Verdict:
    """A verifier's structured judgement of one response."""

    reward: float
    status: Status
    reason: str = ""
    extracted: Any = None  # what the verifier read from the response (answer, code, ...)
    expected: Any = None  # what it compared against
    elapsed_s: float = 0.0
    components: Mapping[str, float] = field(default_factory=dict)  # named parts of the reward
    details: Mapping[str, Any] = field(default_factory=dict)  # verifier-specific extras

    def __post_init__(self) -> None:
        if not isinstance(self.status, Status):
            object.__setattr__(self, "status", Status(self.status))
        reward = float(self.reward)
        if not math.isfinite(reward):
            raise ValueError(f"a verdict's reward must be finite, got {self.reward!r}")
        object.__setattr__(self, "reward", reward)
        object.__setattr__(self, "elapsed_s", Seconds(self.elapsed_s))

    @property
    def correct(self) -> bool:
        """True when the response fully solved the task."""
        return self.status is Status.CORRECT

    @classmethod
    def make(
        cls,
        status: Status | str,
        reason: str = "",
        *,
        reward: float | None = None,
        **fields: Any,
    ) -> Verdict:
        """Build a verdict whose reward defaults to 1.0 when correct and 0.0 otherwise."""
        status = Status(status)
        if reward is None:
            reward = 1.0 if status is Status.CORRECT else 0.0
        return cls(reward=reward, status=status, reason=reason, **fields)

    def replace(self, **changes: Any) -> Verdict:
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (JSON-serialisable), as stored in ``info["verdict"]``."""
        return {
            "reward": self.reward,
            "correct": self.correct,
            "status": self.status.value,
            "reason": self.reason,
            "extracted": _plain(self.extracted),
            "expected": _plain(self.expected),
            "elapsed_s": self.elapsed_s,
            "components": {str(k): float(v) for k, v in self.components.items()},
            "details": _plain(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        """Rebuild a verdict from :meth:`to_dict` output."""
        return cls(
            reward=data["reward"],
            status=Status(data["status"]),
            reason=data.get("reason", ""),
            extracted=data.get("extracted"),
            expected=data.get("expected"),
            elapsed_s=data.get("elapsed_s", 0.0),
            components=dict(data.get("components") or {}),
            details=dict(data.get("details") or {}),
        )
