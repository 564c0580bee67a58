"""Hard bounds for the math verifier: sizes, magnitudes and a cooperative wall-clock deadline.

The verifier never hands work to a library that could run unbounded in C code: every big-integer
operation is sized before it runs (so no single step can take long), and every loop of the parser,
the evaluator and the comparer polls a :class:`Deadline`. Together these make the per-call time
bound hold from any thread and inside any process, without ``signal.alarm``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


class VerifyTimeout(Exception):
    """The per-call wall-clock bound was reached."""


class TooLarge(Exception):
    """An input or an intermediate value is beyond the configured size limits."""


class NotExact(Exception):
    """A value cannot be computed exactly (irrational, transcendental, unknown function)."""


class Undefined(Exception):
    """A value is undefined at this point (division by zero, outside a function's domain)."""


@dataclass(frozen=True)
class Limits:
    """Size and time limits of one verification."""

    timeout_s: float = 2.0  # wall-clock bound per call
    max_response_chars: int = 200_000  # longer responses are rejected as invalid input
    max_answer_chars: int = 2_000  # longest extracted (or gold) answer that is parsed
    max_depth: int = 60  # deepest bracket nesting in an answer
    max_int_bits: int = 20_000  # largest exact integer (numerator/denominator) ever built
    max_literal_digits: int = 4_000  # longest digit string in an answer
    max_factorial: int = 1_500  # largest n for which n! is computed exactly
    max_nodes: int = 2_000  # largest parsed expression


DEFAULT_LIMITS = Limits()


class Deadline:
    """A point in time after which :meth:`check` raises :class:`VerifyTimeout`."""

    __slots__ = ("end", "_count")

    def __init__(self, seconds: float) -> None:
        self.end = time.perf_counter() + seconds
        self._count = 0

    def check(self) -> None:
        """Raise :class:`VerifyTimeout` once the deadline has passed."""
        if time.perf_counter() > self.end:
            raise VerifyTimeout

    def tick(self) -> None:
        """A cheaper :meth:`check` for hot loops: looks at the clock every 64th call."""
        self._count += 1
        if not self._count & 63 and time.perf_counter() > self.end:
            raise VerifyTimeout
