"""Held-out evaluation tasks, a training stream that never includes them, and their accuracy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rlvr_envs.rollout import RolloutRunner
from rlvr_envs.tasks import take_tasks

from .config import ConfigError


class TaskSplit:
    """Held-out evaluation tasks and a stream of training tasks that never includes them.

    Procedural sources: evaluation tasks come from ``source.take(n, seed=eval_seed)``, training
    tasks from the source's sampler, skipping evaluation ids. Datasets: a seeded subset is held
    out and training samples from the rest. Environments without a task source: distinct reset
    seed ranges.
    """

    _EVAL_SEEDS = 2**40  # reset seeds from here on are evaluation's (no-source fallback)

    def __init__(self, env: Any, *, eval_tasks: int, eval_seed: int) -> None:
        source = getattr(env.unwrapped, "source", None)
        self.source = source
        self.eval_ids: list[str] = []
        self.train_ids: list[str] | None = None
        self.mode = "seeds"
        if source is not None and callable(getattr(source, "get", None)):
            if source.num_tasks is None and callable(getattr(source, "sample", None)):
                self.mode = "procedural"
                if eval_tasks:
                    tasks = take_tasks(source, eval_tasks, seed=eval_seed)
                    self.eval_ids = [t.id for t in tasks]
            elif getattr(source, "tasks", None) is not None:
                self.mode = "dataset"
                ids = [t.id for t in source.tasks]
                order = np.random.default_rng(eval_seed).permutation(len(ids))
                held = {ids[i] for i in order[:eval_tasks]}
                self.eval_ids = [i for i in ids if i in held]
                self.train_ids = [i for i in ids if i not in held]
                if not self.train_ids:
                    raise ConfigError(
                        f"the dataset has {len(ids)} tasks; holding out eval_tasks={eval_tasks} "
                        "leaves none to train on: lower eval_tasks"
                    )
        self.eval_seed = eval_seed
        self.num_eval = len(self.eval_ids) if self.mode != "seeds" else eval_tasks
        self._held = set(self.eval_ids)

    def training(self, n: int, rng: np.random.Generator) -> tuple[list[str] | None, int]:
        """``n`` training tasks (ids, or None with consecutive reset seeds) and a reset seed."""
        seed = int(rng.integers(0, self._EVAL_SEEDS - n))
        if self.mode == "procedural":
            ids: list[str] = []
            while len(ids) < n:
                task_id = self.source.sample(rng).id
                if task_id not in self._held:
                    ids.append(task_id)
            return ids, seed
        if self.mode == "dataset":
            assert self.train_ids is not None
            picks = rng.choice(len(self.train_ids), size=n, replace=len(self.train_ids) < n)
            return [self.train_ids[i] for i in picks], seed
        return None, seed

    def evaluation(self) -> tuple[list[str] | None, int]:
        """The held-out tasks (ids, or None with reset seeds from the evaluation range)."""
        if self.mode == "seeds":
            return None, self._EVAL_SEEDS + self.eval_seed
        return list(self.eval_ids), self._EVAL_SEEDS + self.eval_seed


def heldout_accuracy(
    runner: RolloutRunner,
    agent: Any,
    split: TaskSplit,
    max_new_tokens: int,
    autocast: Callable[[], Any],
) -> dict[str, float]:
    """Greedy accuracy (verdict ``correct``) and mean reward on the held-out tasks.

    Faults are recorded by the rollout engine as in training: they are counted (``faults``) and
    left out of the accuracy, which measures answers, not the grading machinery.
    """
    task_ids, seed = split.evaluation()
    with autocast():
        batch = runner.collect(
            agent,
            num_tasks=split.num_eval,
            group_size=1,
            seed=seed,
            task_ids=task_ids,
            sampling={"temperature": 0.0, "max_new_tokens": max_new_tokens, "seed": 0},
            on_error="record",
        )
    valid = [e for e in batch.episodes if e.valid]
    return {
        "accuracy": sum(e.correct for e in valid) / max(len(valid), 1),
        "reward": sum(e.reward for e in valid) / max(len(valid), 1),
        "length": sum(e.num_generated_tokens for e in valid) / max(len(valid), 1),
        "tasks": float(len(batch.episodes)),
        "faults": float(len(batch.episodes) - len(valid)),
    }
