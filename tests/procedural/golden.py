"""Golden tasks: the first tasks of every procedural environment, per seed, pinned by version.

``python -m tests.procedural.golden`` adds the golden tasks of environments that have none. It
never rewrites an existing entry: an environment whose tasks changed keeps failing until its id
is bumped (``-v0`` -> ``-v1``) and the new id gets its own entry.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym

import rlvr_envs
from rlvr_envs.integrations.reasoning_gym import ReasoningGymSource, entry_of

GOLDEN_PATH = Path(__file__).resolve().parent.parent / "data" / "procedural_golden.json"
SEEDS = (0, 1, 2)
NOT_TASKS = {"rlvr/Curriculum-v0"}  # its tasks are another environment's


def procedural_ids() -> list[str]:
    """Every registered ``rlvr/`` environment that generates its tasks."""
    return [
        info.id
        for info in rlvr_envs.list_envs(namespace="rlvr")
        if info.tasks == "procedural" and info.id not in NOT_TASKS
    ]


def _answer_of(env: Any, task: Any) -> Any:
    source = env.source
    if isinstance(source, ReasoningGymSource):  # entries can hold sets: pin the answer text
        return source.reference(entry_of(task))
    return task.answer


def golden_tasks(env_id: str, seeds: tuple[int, ...] = SEEDS) -> list[dict[str, Any]]:
    """What is pinned of ``env_id``'s first task for each seed: id, prompt head and a digest."""
    env = gym.make(env_id)
    rows = []
    for seed in seeds:
        prompt, info = env.reset(seed=seed)
        task = env.unwrapped.task
        content = {"prompt": prompt, "answer": _answer_of(env.unwrapped, task)}
        blob = json.dumps(content, sort_keys=True, default=repr).encode()
        rows.append(
            {
                "seed": seed,
                "task_id": info["task_id"],
                "prompt_head": prompt[:60],
                "sha256": hashlib.sha256(blob).hexdigest(),
            }
        )
    env.close()
    return rows


def load_golden(path: Path = GOLDEN_PATH) -> dict[str, list[dict[str, Any]]]:
    """The pinned tasks, by environment id."""
    return json.loads(path.read_text())["envs"]


def changed(env_id: str, golden: dict[str, list[dict[str, Any]]]) -> str | None:
    """None when ``env_id`` still makes its golden tasks, else what differs."""
    now = golden_tasks(env_id)
    if now == golden[env_id]:
        return None
    first = next(i for i, (a, b) in enumerate(zip(now, golden[env_id])) if a != b)
    return (
        f"{env_id} no longer makes its golden task for seed {SEEDS[first]} "
        f"({golden[env_id][first]['prompt_head']!r} -> {now[first]['prompt_head']!r}): "
        "a generator change needs a new version of the id, with its own golden tasks"
    )


def add_missing(env_ids: list[str], path: Path = GOLDEN_PATH) -> list[str]:
    """Pin the environments of ``env_ids`` that have no golden tasks yet; return them."""
    data = json.loads(path.read_text()) if path.exists() else {"seeds": list(SEEDS), "envs": {}}
    added = [e for e in env_ids if e not in data["envs"]]
    for env_id in added:
        data["envs"][env_id] = golden_tasks(env_id)
    data["envs"] = dict(sorted(data["envs"].items()))
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return added


if __name__ == "__main__":
    for env_id in add_missing(procedural_ids()):
        print(f"pinned {env_id}", file=sys.stderr)
