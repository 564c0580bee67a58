"""Batch verification over a process pool, for vectorised environments and evaluation sweeps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...verdict import Verdict
from .grader import resolve_options, verify_many


def verify_batch(
    responses: Sequence[str], answers: Sequence[Any] | str, **options: Any
) -> list[Verdict]:
    """Verify many responses; placeholder that runs in-process."""
    if isinstance(answers, str):
        answers = [answers] * len(responses)
    resolve_options(options)
    return verify_many(list(zip(responses, answers)), options)
