"""Small environments for tests that should not depend on a particular verifier."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym

from rlvr_envs import DatasetSource, Task, TextEnv


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


# Environments whose benchmark data is not in ../shared/data: a small file of our own in the same
# row schema stands in, so the environment's loading and checking code still runs offline.
OFFLINE_DATA = {"rlvr/IFEval-v0": Path(__file__).resolve().parent / "data" / "ifeval_sample.jsonl"}


def make_offline(env_id: str, **kwargs: Any) -> gym.Env:
    """``gym.make``, with a local stand-in file for environments whose data is only on the hub."""
    if env_id in OFFLINE_DATA:
        kwargs.setdefault("data_path", OFFLINE_DATA[env_id])
    return gym.make(env_id, **kwargs)
