"""Comparing verdicts of two runs: what they decided, not how long the machine took."""

from __future__ import annotations

import re
from typing import Any

from rlvr_envs import Verdict

_ADDRESS = re.compile(r"0x[0-9a-f]+")
_TIMING = frozenset({"timings", "sandbox_s"})


def decided(verdict: Verdict) -> tuple[Any, ...]:
    """Status, reward, reason (object addresses masked), code and every detail but timings."""
    details = {k: v for k, v in verdict.details.items() if k not in _TIMING}
    run = details.pop("exec", None)
    if run is not None:  # the sandbox job's outcome, not its duration or its pids
        details["exec"] = (run.get("status"), run.get("exit_code"), run.get("signal"))
    return (
        verdict.status,
        verdict.reward,
        _ADDRESS.sub("0x?", verdict.reason),
        verdict.extracted,
        sorted(details.items()),
    )
