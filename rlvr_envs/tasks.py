"""Tasks and task sources: where an environment's questions come from.

A :class:`Task` is plain data. A task source hands tasks out: :class:`DatasetSource` from a fixed
list (a benchmark file, a hub dataset), :class:`ProceduralSource` from a seeded generator that can
produce unlimited tasks and rebuild any of them from its id.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Task:
    """One question: its prompt, what the verifier checks against, and a reference solution."""

    id: str
    prompt: str
    answer: Any = None  # verifier input: an answer string, tests, instructions ...
    solution: str | None = None  # a reference completion that should earn full reward
    metadata: Mapping[str, Any] = field(default_factory=dict)  # subject, level, source ...

    def to_dict(self) -> dict[str, Any]:
        """Plain-data copy of the task."""
        return {
            "id": self.id,
            "prompt": self.prompt,
            "answer": copy.deepcopy(self.answer),
            "solution": self.solution,
            "metadata": copy.deepcopy(dict(self.metadata)),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, default_id: str = "task") -> Task:
        """Build a task from a mapping with at least ``prompt``; unknown keys go to metadata."""
        if not isinstance(data, Mapping):
            raise TypeError(f"a task must be a mapping, got {type(data).__name__}")
        if not isinstance(data.get("prompt"), str):
            raise ValueError("a task needs a 'prompt' string")
        known = {"id", "prompt", "answer", "solution", "metadata"}
        metadata = dict(data.get("metadata") or {})
        metadata.update({k: v for k, v in data.items() if k not in known})
        return cls(
            id=str(data.get("id", default_id)),
            prompt=data["prompt"],
            answer=data.get("answer"),
            solution=data.get("solution"),
            metadata=metadata,
        )


@runtime_checkable
class TaskSource(Protocol):
    """Something that hands out tasks: a fixed dataset or a seeded generator."""

    @property
    def num_tasks(self) -> int | None:
        """How many distinct tasks there are; None for an unbounded generator."""
        ...

    def sample(self, rng: np.random.Generator) -> Task:
        """Pick a task using ``rng`` (the environment's seeded generator)."""
        ...

    def get(self, task_id: str) -> Task:
        """The task with this id; ``KeyError`` when there is none."""
        ...


class DatasetSource:
    """A fixed list of tasks, sampled uniformly by the environment's generator."""

    def __init__(self, tasks: Iterable[Task], *, name: str = "dataset") -> None:
        self.tasks: list[Task] = list(tasks)
        self.name = name
        if not self.tasks:
            raise ValueError(f"{name}: the dataset has no tasks")
        self._by_id: dict[str, int] = {}
        for index, task in enumerate(self.tasks):
            if task.id in self._by_id:
                raise ValueError(f"{name}: duplicate task id {task.id!r}")
            self._by_id[task.id] = index

    @property
    def num_tasks(self) -> int:
        """Number of tasks in the dataset."""
        return len(self.tasks)

    def sample(self, rng: np.random.Generator) -> Task:
        """A uniformly random task."""
        return self.tasks[int(rng.integers(len(self.tasks)))]

    def get(self, task_id: str) -> Task:
        """The task with this id."""
        try:
            return self.tasks[self._by_id[task_id]]
        except KeyError:
            raise KeyError(f"{self.name}: no task with id {task_id!r}") from None

    def __len__(self) -> int:
        return len(self.tasks)

    def __iter__(self):
        return iter(self.tasks)


class ProceduralSource:
    """Unlimited tasks from ``generate(rng) -> Task``; each task id encodes its own seed.

    ``sample`` draws a fresh 63-bit seed from the environment's generator and builds the task from
    ``numpy.random.default_rng(seed)``, so ``get(task.id)`` rebuilds exactly the same task.
    """

    def __init__(
        self,
        generate: Callable[[np.random.Generator], Task],
        *,
        name: str,
        params: str = "",
    ) -> None:
        self.generate = generate
        self.name = name
        self._prefix = f"{name}/{params}:" if params else f"{name}:"

    @property
    def num_tasks(self) -> None:
        """Procedural sources are unbounded."""
        return None

    def make(self, seed: int) -> Task:
        """The task for one seed."""
        task = self.generate(np.random.default_rng(seed))
        return Task(
            id=f"{self._prefix}{seed}",
            prompt=task.prompt,
            answer=task.answer,
            solution=task.solution,
            metadata={**task.metadata, "seed": seed},
        )

    def sample(self, rng: np.random.Generator) -> Task:
        """A new task from a seed drawn with ``rng``."""
        return self.make(int(rng.integers(0, 2**63 - 1)))

    def get(self, task_id: str) -> Task:
        """Rebuild the task named by an id this source produced."""
        if not task_id.startswith(self._prefix):
            raise KeyError(f"{self.name}: task id {task_id!r} does not start with {self._prefix!r}")
        try:
            seed = int(task_id[len(self._prefix) :])
        except ValueError:
            raise KeyError(f"{self.name}: task id {task_id!r} does not end with a seed") from None
        return self.make(seed)

    def take(self, n: int, *, seed: int = 0) -> list[Task]:
        """``n`` tasks from a fixed seed, e.g. a held-out evaluation set."""
        return take_tasks(self, n, seed=seed)


def take_tasks(source: TaskSource, n: int, *, seed: int = 0) -> list[Task]:
    """``n`` tasks sampled from any source with a generator seeded by ``seed``."""
    rng = np.random.default_rng(seed)
    return [source.sample(rng) for _ in range(n)]


def tasks_from_rows(
    rows: Sequence[Mapping[str, Any]],
    *,
    prompt_field: str,
    answer_field: str | None = None,
    id_field: str | None = None,
    solution_field: str | None = None,
    name: str = "dataset",
    answer_fn: Callable[[Mapping[str, Any]], Any] | None = None,
) -> list[Task]:
    """Turn dataset rows into tasks, checking that the named fields exist."""
    tasks = []
    for index, row in enumerate(rows):
        if prompt_field not in row:
            raise KeyError(
                f"{name}: row {index} has no prompt field {prompt_field!r} (fields: {sorted(row)})"
            )
        if answer_fn is not None:
            answer = answer_fn(row)
        elif answer_field is not None:
            if answer_field not in row:
                raise KeyError(
                    f"{name}: row {index} has no answer field {answer_field!r} "
                    f"(fields: {sorted(row)})"
                )
            answer = row[answer_field]
        else:
            answer = None
        used = {prompt_field, answer_field, id_field, solution_field}
        tasks.append(
            Task(
                id=str(row[id_field]) if id_field and id_field in row else f"{name}/{index}",
                prompt=str(row[prompt_field]),
                answer=answer,
                solution=row.get(solution_field) if solution_field else None,
                metadata={k: v for k, v in row.items() if k not in used},
            )
        )
    return tasks
