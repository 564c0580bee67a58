"""Small environments for the rollout tests (module-level so worker processes can build them)."""

from __future__ import annotations

import threading
import time
from typing import Any

import gymnasium as gym

from rlvr_envs import DatasetSource, Task, TextEnv

WORDS = ["apple", "pear", "plum", "fig", "kiwi", "lime"]


def word_tasks() -> list[Task]:
    return [
        Task(id=f"word/{i}", prompt=f"Say the word {w}.", answer=w) for i, w in enumerate(WORDS)
    ]


def feedback(task: Task, completion: str, verdict: Any, turn: int) -> str:
    return f"Not quite (attempt {turn}). Say only the word."


def word_env(*, chat: bool = False, max_turns: int = 1, **kwargs: Any) -> TextEnv:
    """Exact-match word tasks; with ``max_turns > 1`` a wrong answer gets feedback and a retry."""
    return TextEnv(
        DatasetSource(word_tasks(), name="words"),
        "exact",
        chat=chat,
        max_turns=max_turns,
        feedback=feedback,
        **kwargs,
    )


class Recording(gym.Wrapper):
    """Keeps every observation the environment returned, per episode."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.episodes: list[list[Any]] = []

    def reset(self, **kwargs: Any) -> Any:
        observation, info = self.env.reset(**kwargs)
        self.episodes.append([observation])
        return observation, info

    def step(self, action: str) -> Any:
        result = self.env.step(action)
        self.episodes[-1].append((action, result[0]))
        return result


class Slow(gym.Wrapper):
    """Sleeps in ``step`` and logs when each step ran (to see overlap with generation)."""

    log: list[tuple[float, float]] = []
    lock = threading.Lock()

    def __init__(self, env: gym.Env, delay: float) -> None:
        super().__init__(env)
        self.delay = delay

    def step(self, action: str) -> Any:
        start = time.perf_counter()
        time.sleep(self.delay)
        result = self.env.step(action)
        with self.lock:
            Slow.log.append((start, time.perf_counter()))
        return result


class Faulty(gym.Wrapper):
    """Raises in ``step`` when the action contains ``trigger``."""

    def __init__(self, env: gym.Env, trigger: str) -> None:
        super().__init__(env)
        self.trigger = trigger

    def step(self, action: str) -> Any:
        if self.trigger in action:
            raise RuntimeError("the grader crashed")
        return self.env.step(action)
