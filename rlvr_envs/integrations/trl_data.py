"""Dataset rows for TRL from an environment's tasks (shared by the reward-function and the
environment-factory adapters)."""

from __future__ import annotations

from typing import Any

import gymnasium


def make_env(env_id: str, env_kwargs: dict[str, Any]) -> Any:
    """``gymnasium.make`` with the rlvr/ environments registered."""
    import rlvr_envs  # noqa: F401  (registers the rlvr/ environments)

    return gymnasium.make(env_id, **dict(env_kwargs))


def prompt_dataset(
    env_id: str, num_tasks: int | None = None, *, seed: int = 0, **env_kwargs: Any
) -> list[dict[str, Any]]:
    """Rows ``{"prompt", "task_id", "answer"}`` for TRL (``Dataset.from_list(rows)``).

    ``prompt`` is the environment's first observation (a string, or chat messages with
    ``chat=True``); procedural environments give ``num_tasks`` tasks from ``seed``, datasets
    their first ``num_tasks`` tasks (all by default). ``answer`` is left out when an answer is
    not a string (code tests), since ``task_id`` is enough for :func:`reward_function`.
    """
    env = make_env(env_id, env_kwargs)
    try:
        source = env.unwrapped.source
        if source.num_tasks is None:
            if num_tasks is None:
                raise ValueError(f"{env_id} is procedural: give num_tasks")
            tasks = source.take(num_tasks, seed=seed)
        else:
            tasks = list(source.tasks)[: num_tasks if num_tasks is not None else None]
        rows = []
        for task in tasks:
            observation, _ = env.reset(options={"task": task})  # built once, above
            rows.append({"prompt": observation, "task_id": task.id, "answer": task.answer})
    finally:
        env.close()
    if not all(isinstance(r["answer"], str) for r in rows):
        for row in rows:
            del row["answer"]
    return rows
