"""The rollout engine: agents answer, environments verify, in parallel; for training and evaluation.

``collect_rollouts(agent, "rlvr/Arithmetic-v1", num_tasks=8, group_size=4)`` resets G environments
with the same seed per task (same seed, same task), lets the agent answer, steps the environments
and returns a :class:`~rlvr_envs.rollout.episode.RolloutBatch` of episodes for a GRPO-style
trainer. :meth:`RolloutRunner.run` is the streaming form evaluation uses: it takes episodes
(task id, seeds) and yields each one as soon as it is over, so a caller can store it and a rerun
can skip it.

Token mode (agents with a tokenizer and ``generate_tokens``, e.g. ``agents.HFAgent``) keeps one
token stream per episode: the first prompt's tokens, then each turn's sampled tokens (loss mask 1,
with their sampling log-probs) and the tokens of only the text the environment added (loss mask
0). Earlier turns are never re-tokenised. Text mode (any agent) records texts, rewards, verdicts
and token counts.

Environments are stepped on a pool (threads by default, worker processes with
``executor="process"``) while the agent generates for other episodes: with a
``generation_batch_size`` smaller than the number of episodes, batch k+1 is generated while batch k
is verified, and multi-turn episodes re-enter generation as soon as their feedback is back. A
Gymnasium vector environment can be given instead; it is run in waves of ``num_envs`` episodes.

The options where training and evaluation differ:

- ``on_error``: ``"raise"`` stops on an environment failure; ``"record"`` ends that episode with a
  fault (see :mod:`~rlvr_envs.rollout.episode`), which a trainer drops and an evaluation reports;
- ``seeding``: ``"call"`` (one sampling seed per agent call) or ``"sample"`` (one per sample; see
  :mod:`~rlvr_envs.rollout.generation`);
- resumability: :meth:`RolloutRunner.run` yields finished episodes one by one, and with
  ``seeding="sample"`` an episode's outcome depends only on its own task and seeds.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..agent.protocol import SamplingParams, supports_tokens
from .drivers import is_vector_env, run_pool, run_vector
from .episode import Episode, RolloutBatch
from .generation import AgentCaller
from .pools import ProcessPool, ThreadPool, env_factory
from .recorder import Recorder


def _resolve_mode(agent: Any, mode: str) -> str:
    if mode == "auto":
        return "tokens" if supports_tokens(agent) else "text"
    if mode not in ("tokens", "text"):
        raise ValueError(f"mode must be 'auto', 'tokens' or 'text', got {mode!r}")
    if mode == "tokens" and not supports_tokens(agent):
        raise TypeError(
            f"{agent!r} cannot report tokens (no tokenizer / generate_tokens); use mode='text'"
        )
    return mode


class RolloutRunner:
    """Holds an environment pool across calls (a trainer collects every step on the same envs)."""

    def __init__(
        self,
        env: Any,
        *,
        env_kwargs: Mapping[str, Any] | None = None,
        num_envs: int | None = None,
        workers: int | None = None,
        executor: str = "thread",
    ) -> None:
        self.vector = is_vector_env(env)
        if self.vector:
            if env_kwargs:
                raise ValueError("env_kwargs cannot be applied to an existing vector environment")
            self.venv = env
        else:
            if executor not in ("thread", "process"):
                raise ValueError(f"executor must be 'thread' or 'process', got {executor!r}")
            self.make_env = env_factory(env, env_kwargs or {})
            self.num_envs = num_envs
            self.workers = workers or min(
                32, (multiprocessing.cpu_count() or 2) * (4 if executor == "thread" else 1)
            )
            self.executor_kind = executor
            self.pool: ThreadPool | ProcessPool | None = None

    def close(self) -> None:
        """Close the environments (not a vector environment the caller passed in)."""
        if not self.vector and self.pool is not None:
            self.pool.close()
            self.pool = None

    def __enter__(self) -> RolloutRunner:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def collect(
        self,
        agent: Any,
        *,
        num_tasks: int,
        group_size: int = 1,
        seed: int = 0,
        task_ids: Sequence[str] | None = None,
        sampling: SamplingParams | Mapping[str, Any] | None = None,
        mode: str = "auto",
        generation_batch_size: int | None = None,
        on_error: str = "raise",
        seeding: str = "call",
        **sampling_overrides: Any,
    ) -> RolloutBatch:
        """Run ``group_size`` episodes on each of ``num_tasks`` tasks.

        Task ``k`` is reset with seed ``seed + k`` (or picked by ``task_ids[k]``); sampling is
        seeded from ``sampling["seed"]``, by default from ``seed`` too.
        """
        if not (
            isinstance(num_tasks, int)
            and num_tasks >= 1
            and isinstance(group_size, int)
            and group_size >= 1
        ):
            raise ValueError(
                f"need num_tasks >= 1 and group_size >= 1, got {num_tasks} and {group_size}"
            )
        if task_ids is not None and len(task_ids) != num_tasks:
            raise ValueError(f"task_ids has {len(task_ids)} entries for num_tasks={num_tasks}")
        episodes = [
            Episode(
                index=k * group_size + g,
                group_id=k,
                task_id=str(task_ids[k]) if task_ids is not None else None,
                seed=seed + k,
            )
            for k in range(num_tasks)
            for g in range(group_size)
        ]
        if self.vector and task_ids is not None:
            raise ValueError(
                "task_ids cannot be chosen per sub-environment of a vector environment; use seeds"
            )
        started = time.perf_counter()
        book = self._book(agent, sampling, sampling_overrides, mode, on_error, seeding, seed)
        for _ in self._drive(episodes, book, generation_batch_size):
            pass
        caller = book.caller
        timings = {"generate_s": caller.generate_s, **book.timings}
        timings["wall_s"] = time.perf_counter() - started
        timings["generation_calls"] = float(caller.calls)
        generated = sum(e.num_generated_tokens for e in episodes)
        timings["generated_tokens_per_s"] = (
            generated / caller.generate_s if caller.generate_s else 0.0
        )
        return RolloutBatch(episodes, group_size, num_tasks, book.mode, timings)

    def run(
        self,
        agent: Any,
        episodes: Sequence[Episode],
        *,
        sampling: SamplingParams | Mapping[str, Any] | None = None,
        mode: str = "auto",
        generation_batch_size: int | None = None,
        on_error: str = "raise",
        seeding: str = "sample",
        seed: int = 0,
    ) -> Iterator[Episode]:
        """Play ``episodes`` (index, task id, seeds set by the caller); yield each as it ends."""
        if len({e.index for e in episodes}) != len(episodes):
            raise ValueError("episode indices must be unique within a run")
        book = self._book(agent, sampling, {}, mode, on_error, seeding, seed)
        return self._drive(list(episodes), book, generation_batch_size)

    def _book(
        self,
        agent: Any,
        sampling: SamplingParams | Mapping[str, Any] | None,
        overrides: Mapping[str, Any],
        mode: str,
        on_error: str,
        seeding: str,
        seed: int,
    ) -> Recorder:
        if isinstance(sampling, SamplingParams):
            given = {k: getattr(sampling, k) for k in sampling.__dataclass_fields__}
        else:
            given = dict(sampling or {})
        given.update(overrides)
        caller = AgentCaller(
            agent,
            mode=_resolve_mode(agent, mode),
            sampling=given,
            seeding=seeding,
            base_seed=seed,
            on_error=on_error,
        )
        return Recorder(caller, on_error)

    def _drive(
        self, episodes: list[Episode], book: Recorder, generation_batch_size: int | None
    ) -> Iterator[Episode]:
        if self.vector:
            yield from run_vector(self.venv, episodes, book)
        elif episodes:
            yield from self._run_pool(episodes, book, generation_batch_size or len(episodes))

    def _run_pool(
        self, episodes: list[Episode], book: Recorder, batch_size: int
    ) -> Iterator[Episode]:
        if self.pool is None:
            pool_cls = ThreadPool if self.executor_kind == "thread" else ProcessPool
            self.pool = pool_cls(self.make_env, self.workers)
        slots = min(len(episodes), self.num_envs or len(episodes))
        return run_pool(self.pool, episodes, book, batch_size, slots)


def collect_rollouts(
    agent: Any,
    env: Any,
    *,
    num_tasks: int,
    group_size: int = 1,
    seed: int = 0,
    env_kwargs: Mapping[str, Any] | None = None,
    task_ids: Sequence[str] | None = None,
    sampling: SamplingParams | Mapping[str, Any] | None = None,
    mode: str = "auto",
    generation_batch_size: int | None = None,
    num_envs: int | None = None,
    workers: int | None = None,
    executor: str = "thread",
    on_error: str = "raise",
    seeding: str = "call",
    **sampling_overrides: Any,
) -> RolloutBatch:
    """One-shot rollouts; see :class:`RolloutRunner` to keep environments between calls.

    ``env`` is an environment id (made with ``gymnasium.make(env, **env_kwargs)``), a factory
    returning a fresh environment, or a Gymnasium vector environment. Sampling parameters
    (``temperature``, ``top_p``, ``max_new_tokens``, ``stop``, ``seed``) can be given as keywords.
    """
    with RolloutRunner(
        env, env_kwargs=env_kwargs, num_envs=num_envs, workers=workers, executor=executor
    ) as runner:
        return runner.collect(
            agent,
            num_tasks=num_tasks,
            group_size=group_size,
            seed=seed,
            task_ids=task_ids,
            sampling=sampling,
            mode=mode,
            generation_batch_size=generation_batch_size,
            on_error=on_error,
            seeding=seeding,
            **sampling_overrides,
        )
