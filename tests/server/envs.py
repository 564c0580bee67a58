"""Small text environments for the server tests: an echo that can be slow, and records closes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gymnasium as gym

from rlvr_envs.spaces import UnicodeText


class EchoEnv(gym.Env):
    """Rewards 1 when the completion equals the prompt; ``delay_s`` slows every step.

    ``close_dir`` names a directory where each closed instance leaves a file, so a test in
    another process can count the closes.
    """

    metadata = {"render_modes": []}

    def __init__(self, delay_s: float = 0.0, close_dir: str | None = None) -> None:
        self.observation_space = UnicodeText(max_length=256)
        self.action_space = UnicodeText(max_length=256)
        self.delay_s = delay_s
        self.close_dir = close_dir
        self.closed = False
        self._prompt: str | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple:
        super().reset(seed=seed)
        if options and set(options) - {"word"}:
            raise ValueError(f"unknown options {sorted(set(options) - {'word'})}")
        word = (options or {}).get("word") or f"word{int(self.np_random.integers(1000))}"
        self._prompt = word
        return word, {"task_id": word, "turn": 0}

    def step(self, action: str) -> tuple:
        if self._prompt is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        time.sleep(self.delay_s)
        correct = action == self._prompt
        verdict = {"reward": float(correct), "status": "correct" if correct else "wrong"}
        info = {"task_id": self._prompt, "turn": 1, "verdict": verdict}
        self._prompt = None
        return action, float(correct), True, False, info

    def close(self) -> None:
        self.closed = True
        if self.close_dir is not None:
            marker = Path(self.close_dir) / f"closed-{id(self)}-{time.monotonic_ns()}"
            marker.write_text("closed")


if "servertest/Echo-v0" not in gym.registry:
    gym.register("servertest/Echo-v0", entry_point=EchoEnv, disable_env_checker=True)
