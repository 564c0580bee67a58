"""Small environments for tests that should not depend on a particular verifier."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import pytest

from rlvr_envs import DatasetSource, Task, TextEnv
from rlvr_envs.data import DataError


def echo_tasks(n: int = 10) -> list[Task]:
    """Tasks whose correct answer is a word given in the prompt (non-ASCII included)."""
    words = [
        "alpha",
        "béta",
        "γάμμα",
        "δέλτα x",
        "ε−5",
        "中文",
        "naïve café",
        "😀 ok",
        "z",
        "Ωmega",
    ]
    return [
        Task(
            id=f"echo/{i}",
            prompt=f"Repeat exactly: {words[i % len(words)]}",
            answer=words[i % len(words)],
            solution=words[i % len(words)],
            metadata={"index": i},
        )
        for i in range(n)
    ]


def echo_env(**kwargs: Any) -> TextEnv:
    """A dataset environment graded by whole-response text match."""
    return TextEnv(DatasetSource(echo_tasks(), name="echo"), "exact", **kwargs)


def make_or_skip(env_id: str, **kwargs: Any) -> gym.Env:
    """``gym.make``, skipping the test when the data lives only on the hub and we are offline."""
    try:
        return gym.make(env_id, **kwargs)
    except DataError as error:
        if "Hugging Face hub" not in str(error):
            raise
        pytest.skip(f"{env_id}: its dataset is not available offline")
