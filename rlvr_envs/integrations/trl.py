"""Any rlvr-envs verifier as a TRL reward function, and any environment with tools as a TRL
``environment_factory`` (:func:`environment_factory`, in :mod:`.trl_environment`).

TRL's ``GRPOTrainer`` calls each reward function with the batch's ``prompts``, ``completions``
(strings, or lists of messages for chat datasets), ``completion_ids`` and every other dataset
column as a keyword argument holding one value per completion; it wants one float per completion.
:func:`reward_function` builds such a function from an environment id: each completion is scored
by stepping the environment on its task, so the reward is exactly the environment's (verifier,
reward components and wrappers included). The task of a row comes from a ``task_id`` column, or
from an ``answer`` column (with the prompt) for data that is not in the environment.

    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer
    from rlvr_envs.integrations.trl import prompt_dataset, reward_function

    rows = prompt_dataset("rlvr/Arithmetic-v1", 1000, level=2)  # prompt, task_id, answer
    trainer = GRPOTrainer(
        model="Qwen/Qwen2.5-0.5B-Instruct",
        reward_funcs=reward_function("rlvr/Arithmetic-v1", level=2),
        train_dataset=Dataset.from_list(rows),
        args=GRPOConfig(output_dir="runs/trl"),
    )

This module imports neither torch nor TRL.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..tasks import Task
from ..verdict import INFRASTRUCTURE_STATUSES
from .trl_data import make_env, prompt_dataset

# Verdict statuses that are faults of the grading machinery, never of the completion.
INFRASTRUCTURE_FAULTS = frozenset(status.value for status in INFRASTRUCTURE_STATUSES)
# Keyword arguments TRL adds beside the dataset columns.
_TRL_KEYWORDS = frozenset(
    {"prompts", "completion_ids", "trainer_state", "log_extra", "log_metric", "environments"}
)


def _completion_text(completion: Any) -> str:
    """The text of a completion: a string, or the last assistant message of a chat completion."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion:
        last = completion[-1]
        if isinstance(last, Mapping) and isinstance(last.get("content"), str):
            return last["content"]
    raise TypeError(
        f"a completion must be a string or a list of chat messages, got {completion!r:.200}"
    )


def _prompt_text(prompt: Any) -> str:
    if prompt is None or isinstance(prompt, str):
        return prompt or ""
    return "\n".join(str(m.get("content", "")) for m in prompt if isinstance(m, Mapping))


class RewardFunction:
    """A TRL reward function that scores completions with an rlvr-envs environment."""

    def __init__(
        self,
        env_id: str,
        *,
        workers: int | None = None,
        on_fault: str = "none",
        **env_kwargs: Any,
    ) -> None:
        if on_fault not in ("none", "zero", "raise"):
            raise ValueError(f"on_fault must be 'none', 'zero' or 'raise', got {on_fault!r}")
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs)
        self.on_fault = on_fault
        self.workers = max(1, workers or min(8, os.cpu_count() or 1))
        self.__name__ = "rlvr_" + env_id.split("/")[-1].replace("-", "_")
        self._local = threading.local()
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        make_env(
            env_id, self.env_kwargs
        ).close()  # a bad id or argument fails here, not mid-training
        self.last_verdicts: list[dict[str, Any]] = []

    def _env(self) -> Any:
        env = getattr(self._local, "env", None)
        if env is None:
            env = self._local.env = make_env(self.env_id, self.env_kwargs)
        return env

    def score(self, completion: Any, task: Task | str) -> tuple[float | None, dict[str, Any]]:
        """The reward of one completion on one task (a Task, or a task id) and its verdict."""
        env = self._env()
        options = {"task": task} if isinstance(task, Task) else {"task_id": task}
        env.reset(options=options)
        _, reward, _, _, info = env.step(_completion_text(completion))
        verdict = dict(info.get("verdict") or {})
        if verdict.get("status") in INFRASTRUCTURE_FAULTS:
            if self.on_fault == "raise":
                raise RuntimeError(
                    f"{self.env_id}: verification failed ({verdict.get('status')}): "
                    f"{verdict.get('reason')}"
                )
            return (None if self.on_fault == "none" else 0.0), verdict
        return float(reward), verdict

    def tasks(self, count: int, prompts: Sequence[Any] | None, columns: Mapping[str, Any]) -> list:
        """The task of each completion, from the ``task_id`` column or ``answer`` + prompt."""
        if "task_id" in columns:
            return [str(t) for t in columns["task_id"]]
        if "answer" not in columns:
            raise ValueError(
                f"reward_function({self.env_id!r}) needs a 'task_id' or an 'answer' column in the "
                f"dataset to know each completion's task; columns given: {sorted(columns)}"
            )
        extra = {k: v for k, v in columns.items() if k != "answer"}
        tasks = []
        for i in range(count):
            metadata = {k: v[i] for k, v in extra.items()}
            prompt = _prompt_text(prompts[i] if prompts is not None else None)
            tasks.append(
                Task(id=f"trl-{i}", prompt=prompt, answer=columns["answer"][i], metadata=metadata)
            )
        return tasks

    def __call__(
        self, completions: Sequence[Any], prompts: Sequence[Any] | None = None, **kwargs: Any
    ) -> list[float | None]:
        """One reward per completion (None for a grading fault with ``on_fault='none'``)."""
        columns = {k: v for k, v in kwargs.items() if k not in _TRL_KEYWORDS}
        for name, values in columns.items():
            if len(values) != len(completions):
                raise ValueError(
                    f"column {name!r} has {len(values)} values for {len(completions)} completions"
                )
        tasks = self.tasks(len(completions), prompts, columns)
        if self.workers == 1 or len(completions) == 1:
            results = [self.score(c, t) for c, t in zip(completions, tasks)]
        else:
            with self._lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="rlvr-trl")
            results = list(self._executor.map(self.score, completions, tasks))
        self.last_verdicts = [verdict for _, verdict in results]
        log_metric = kwargs.get("log_metric")
        if callable(log_metric):
            faults = sum(v.get("status") in INFRASTRUCTURE_FAULTS for v in self.last_verdicts)
            log_metric(f"{self.__name__}/faults", float(faults))
        return [reward for reward, _ in results]

    def close(self) -> None:
        """Stop the worker threads (their environments are closed with them)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


def reward_function(
    env_id: str, *, workers: int | None = None, on_fault: str = "none", **env_kwargs: Any
) -> Callable[..., list[float | None]]:
    """A TRL reward function (completions + dataset columns -> rewards) for an environment.

    ``on_fault`` decides what a verifier or sandbox fault (status ``error`` / ``sandbox_error``)
    returns: ``"none"`` (TRL then warns and counts no reward from this function), ``"zero"``, or
    ``"raise"``. ``workers`` threads verify in parallel (each with its own environment).
    """
    return RewardFunction(env_id, workers=workers, on_fault=on_fault, **env_kwargs)


from .trl_environment import ToolEnvironment, environment_factory  # noqa: E402

__all__ = [
    "INFRASTRUCTURE_FAULTS",
    "RewardFunction",
    "ToolEnvironment",
    "environment_factory",
    "prompt_dataset",
    "reward_function",
]
