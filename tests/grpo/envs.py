"""Small environments for the trainer tests, registered under the ``grpotest/`` namespace."""

from __future__ import annotations

import time
from typing import Any

import gymnasium
import numpy as np

from rlvr_envs import ProceduralSource, Status, Task, TextEnv, Verdict, register
from rlvr_envs.envs.math import arithmetic_task


def _sums() -> ProceduralSource:
    return ProceduralSource(lambda rng: arithmetic_task(rng, 1), name="sums")


def always_one(**kwargs: Any) -> TextEnv:
    """Every completion gets reward 1: no group ever has a learning signal."""
    return TextEnv(_sums(), lambda completion, task: 1.0, template="{prompt}", **kwargs)


def flaky(**kwargs: Any) -> TextEnv:
    """One-digit sums; a completion that starts with '1' hits a (simulated) verifier fault."""

    def verify(completion: str, task: Task) -> Verdict:
        if completion.startswith("1"):
            return Verdict.make(Status.ERROR, "simulated grading fault")
        correct = completion.strip() == str(task.answer)
        return Verdict.make(Status.CORRECT if correct else Status.WRONG, "compared")

    return TextEnv(_sums(), verify, template="{prompt}", **kwargs)


def digits(**kwargs: Any) -> TextEnv:
    """Reward = fraction of digit characters in the completion: easy to move, for smoke runs."""

    def verify(completion: str, task: Task) -> float:
        text = completion.strip()
        return sum(c.isdigit() for c in text) / max(len(text), 1)

    source = ProceduralSource(
        lambda rng: Task("", f"Say a number near {int(rng.integers(100))}.", answer=None),
        name="digits",
    )
    return TextEnv(source, verify, template="{prompt}", **kwargs)


VERIFY_INTERVALS: list[tuple[float, float]] = []  # (start, end) of every slow verification


def slow(delay: float = 0.02, **kwargs: Any) -> TextEnv:
    """One-digit sums whose verifier takes ``delay`` seconds (and records when it ran)."""

    def verify(completion: str, task: Task) -> float:
        start = time.perf_counter()
        time.sleep(delay)
        VERIFY_INTERVALS.append((start, time.perf_counter()))
        return float(completion.strip() == str(task.answer))

    return TextEnv(_sums(), verify, template="{prompt}", **kwargs)


def curriculum(**kwargs: Any) -> gymnasium.Env:
    """Digits, with a curriculum's ``info["difficulty"]`` at reset (the task's first digit)."""

    class Difficulty(gymnasium.Wrapper):
        def reset(self, *, seed: int | None = None, options: dict | None = None) -> Any:
            observation, info = self.env.reset(seed=seed, options=options)
            first_digit = int(self.env.unwrapped.task.prompt.split()[-1][0])
            return observation, {**info, "difficulty": first_digit}

    return Difficulty(digits(**kwargs))


def register_test_envs() -> None:
    """Register the test environments once."""
    for name, factory in (
        ("grpotest/AlwaysOne-v0", always_one),
        ("grpotest/Flaky-v0", flaky),
        ("grpotest/Digits-v0", digits),
        ("grpotest/Slow-v0", slow),
        ("grpotest/Curriculum-v0", curriculum),
    ):
        if name not in gymnasium.registry:
            register(name, factory, description="trainer test environment", tasks="procedural")


__all__ = ["always_one", "digits", "flaky", "np", "register_test_envs"]
