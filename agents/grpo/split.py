"""Held-out evaluation tasks, a training stream that never shows their prompts, and their accuracy.

Held-out means unseen: tasks are kept apart by their prompt text, not by their ids or seeds (a
procedural source can draw the same question from many seeds, a dataset can hold a question
twice). The split records every prompt it hands to training, so a run can write both sets out
(``heldout.jsonl``, ``train_prompts.jsonl``) and show that they are disjoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlvr_envs.rollout import Episode, RolloutRunner
from rlvr_envs.tasks import Task

from .config import ConfigError

_DRAWS_PER_TASK = 50  # rejection-sampling budget before a source counts as exhausted


def prompt_text(observation: Any) -> str:
    """The text that identifies a prompt: the string itself, or chat messages as JSON."""
    if isinstance(observation, str):
        return observation
    return json.dumps(observation, sort_keys=True, ensure_ascii=False)


class TaskSplit:
    """Held-out evaluation tasks and a stream of training tasks whose prompts are never held out.

    Procedural sources: evaluation tasks are the first ``eval_tasks`` distinct prompts drawn with
    ``eval_seed``; training draws from the source's sampler and skips any task whose prompt is
    held out. Datasets: a seeded subset of distinct prompts is held out and training samples
    from the tasks whose prompt is not among them. Environments without a task source: reset
    seeds from a separate range; their prompts are read by resetting, and training groups that
    meet a held-out prompt are dropped (:meth:`drop_heldout`).
    """

    _EVAL_SEEDS = 2**40  # reset seeds from here on are evaluation's (no-source fallback)

    def __init__(self, env: Any, *, eval_tasks: int, eval_seed: int) -> None:
        source = getattr(env.unwrapped, "source", None)
        self.source = source
        self.eval_seed = eval_seed
        self.heldout: dict[str, str] = {}  # prompt -> task id, in evaluation order
        self.seen: dict[str, str] = {}  # every prompt handed to training -> its first task id
        self.last_tasks: dict[str, Task] = {}  # the Task objects of the last training() call
        self.train_ids: list[str] | None = None
        self.mode = "seeds"
        if source is not None and callable(getattr(source, "get", None)):
            if source.num_tasks is None and callable(getattr(source, "sample", None)):
                self.mode = "procedural"
                self._hold_out(self._draw_distinct(eval_tasks), eval_tasks)
            elif getattr(source, "tasks", None) is not None:
                self.mode = "dataset"
                self._split_dataset(list(source.tasks), eval_tasks)
        if self.mode == "seeds" and eval_tasks:
            for k in range(eval_tasks):
                observation, info = env.reset(seed=self._EVAL_SEEDS + eval_seed + k)
                key = prompt_text(observation)
                self.heldout.setdefault(key, str(info.get("task_id", f"seed:{eval_seed + k}")))
        self.eval_ids = list(self.heldout.values()) if self.mode != "seeds" else []
        self.num_eval = len(self.eval_ids) if self.mode != "seeds" else eval_tasks

    # --- building the split ---------------------------------------------------------------------

    def _draw_distinct(self, count: int) -> list[Task]:
        """Up to ``count`` tasks with distinct prompts, drawn with ``eval_seed``."""
        rng = np.random.default_rng(self.eval_seed)
        tasks: dict[str, Task] = {}
        for _ in range(count * _DRAWS_PER_TASK if count else 0):
            task = self.source.sample(rng)
            tasks.setdefault(task.prompt, task)
            if len(tasks) == count:
                break
        return list(tasks.values())

    def _hold_out(self, tasks: Sequence[Task], wanted: int) -> None:
        if len(tasks) < wanted:
            raise ConfigError(
                f"the environment's task source gave only {len(tasks)} distinct prompts in "
                f"{wanted * _DRAWS_PER_TASK} draws, fewer than eval_tasks={wanted}: its task space "
                "is too small to hold that many out and still train on unseen ones; lower "
                "eval_tasks or choose a larger task space"
            )
        self.heldout = {task.prompt: task.id for task in tasks}

    def _split_dataset(self, tasks: list[Task], eval_tasks: int) -> None:
        prompts = list(dict.fromkeys(task.prompt for task in tasks))  # distinct, in order
        order = np.random.default_rng(self.eval_seed).permutation(len(prompts))
        held = {prompts[i] for i in order[:eval_tasks]}
        first = {}
        for task in tasks:
            if task.prompt in held:
                first.setdefault(task.prompt, task.id)
        self.heldout = {prompt: first[prompt] for prompt in prompts if prompt in held}
        self.train_ids = [task.id for task in tasks if task.prompt not in held]
        self._train_prompts = {task.id: task.prompt for task in tasks if task.prompt not in held}
        if not self.train_ids:
            raise ConfigError(
                f"the dataset has {len(prompts)} distinct prompts; holding out "
                f"eval_tasks={eval_tasks} leaves none to train on: lower eval_tasks"
            )

    # --- training and evaluation tasks ------------------------------------------------------------

    def training(self, n: int, rng: np.random.Generator) -> tuple[list[str] | None, int]:
        """``n`` training tasks (ids, or None with consecutive reset seeds) and a reset seed;
        every prompt handed out is recorded in :attr:`seen` (procedural tasks are kept in
        :attr:`last_tasks`, so a caller need not rebuild them)."""
        seed = int(rng.integers(0, self._EVAL_SEEDS - n))
        self.last_tasks = {}
        if self.mode == "procedural":
            ids: list[str] = []
            for _ in range(n * _DRAWS_PER_TASK):
                task = self.source.sample(rng)
                if task.prompt not in self.heldout:
                    ids.append(task.id)
                    self.last_tasks[task.id] = task
                    self.seen.setdefault(task.prompt, task.id)
                    if len(ids) == n:
                        return ids, seed
            raise ConfigError(
                f"{n * _DRAWS_PER_TASK} draws from the task source gave only {len(ids)} tasks whose "
                "prompt is not held out: the task space is too small for eval_tasks"
            )
        if self.mode == "dataset":
            assert self.train_ids is not None
            picks = rng.choice(len(self.train_ids), size=n, replace=len(self.train_ids) < n)
            ids = [self.train_ids[i] for i in picks]
            for task_id in ids:
                self.seen.setdefault(self._train_prompts[task_id], task_id)
            return ids, seed
        return None, seed

    def drop_heldout(self, groups: Iterable[Sequence[Episode]]) -> tuple[list[list[Episode]], int]:
        """The groups whose prompt is not held out (recorded as seen), and how many were dropped.

        Only environments without a task source can meet a held-out prompt in training (their
        tasks are known only after a reset); elsewhere nothing is dropped.
        """
        kept, dropped = [], 0
        for group in groups:
            first = group[0] if group else None
            if first is None or first.observation is None:
                kept.append(list(group))
                continue
            if self.source is not None and self.mode != "seeds":
                kept.append(list(group))  # chosen by prompt already, recorded in training()
                continue
            if not self.admit(first.observation, first.task_id or f"seed:{first.seed}"):
                dropped += 1
                continue
            kept.append(list(group))
        return kept, dropped

    def admit(self, observation: Any, task_id: str) -> bool:
        """Whether a prompt met after a reset may be trained on (it is not held out); if so it
        is recorded as seen."""
        key = prompt_text(observation)
        if key in self.heldout:
            return False
        self.seen.setdefault(key, task_id)
        return True

    def evaluation(self) -> tuple[list[str] | None, int]:
        """The held-out tasks (ids, or None with reset seeds from the evaluation range)."""
        if self.mode == "seeds":
            return None, self._EVAL_SEEDS + self.eval_seed
        return list(self.eval_ids), self._EVAL_SEEDS + self.eval_seed

    # --- the record of what was held out and what was seen ----------------------------------------

    def overlap(self) -> int:
        """How many prompts training saw that are held out (0 unless something is broken)."""
        return len(self.heldout.keys() & self.seen.keys())

    def write(self, directory: Path) -> dict[str, int]:
        """Write ``heldout.jsonl`` and ``train_prompts.jsonl``; return their sizes and overlap."""
        for name, prompts in (("heldout.jsonl", self.heldout), ("train_prompts.jsonl", self.seen)):
            lines = (
                json.dumps({"task_id": task_id, "prompt": prompt}, ensure_ascii=False) + "\n"
                for prompt, task_id in prompts.items()
            )
            (directory / name).write_text("".join(lines), encoding="utf-8")
        return {
            "heldout_prompts": len(self.heldout),
            "train_prompts": len(self.seen),
            "overlap": self.overlap(),
        }

    def restore_seen(self, directory: Path) -> None:
        """Read back the training prompts a resumed run had already seen."""
        path = directory / "train_prompts.jsonl"
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    record = json.loads(line)
                    self.seen.setdefault(record["prompt"], record["task_id"])


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
