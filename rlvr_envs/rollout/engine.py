"""The rollout engine: agents answer, environments verify, in parallel; for training and evaluation.

``collect_rollouts(agent, "rlvr/Arithmetic-v0", num_tasks=8, group_size=4)`` resets G environments
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
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

from ..agent.protocol import Observation, SamplingParams, supports_tokens
from .episode import AGENT_ERROR, Episode, RolloutBatch
from .generation import AgentCaller, weakest_source
from .pools import ProcessPool, RolloutError, ThreadPool, env_factory, timed
from .tokens import continuation_text, encode_observation, encode_text


class _Book:
    """Per-episode bookkeeping shared by the pool and vector-environment drivers."""

    def __init__(self, caller: AgentCaller, on_error: str) -> None:
        self.caller, self.mode, self.on_error = caller, caller.mode, on_error
        self.tokenizer = caller.tokenizer
        self.max_context = getattr(caller.agent, "max_context", None)
        self.timings = {"verify_s": 0.0, "reset_s": 0.0, "tokenize_s": 0.0}
        self.last: dict[int, Any] = {}

    def started(
        self, episode: Episode, observation: Observation, info: Mapping[str, Any], elapsed: float
    ) -> None:
        """Record a reset: the first observation, the task id, and (tokens) the prompt's ids."""
        self.timings["reset_s"] += elapsed
        episode.observation = observation
        episode.reset_info = dict(info) if isinstance(info, Mapping) else {}
        task_id = episode.reset_info.get("task_id")
        if task_id is not None:
            episode.task_id = str(task_id)
        if self.mode == "tokens":
            start = time.perf_counter()
            ids = encode_observation(self.tokenizer, observation)
            self.timings["tokenize_s"] += time.perf_counter() - start
            episode.token_ids, episode.loss_mask = list(ids), [0] * len(ids)
            episode.logprobs = [0.0] * len(ids)
            episode.prompt_length = len(ids)

    def fits(self, episode: Episode) -> bool:
        """False (and the episode ends, truncated) when its context has no room for a new token."""
        if (
            self.mode != "tokens"
            or self.max_context is None
            or len(episode.token_ids) < self.max_context
        ):
            return True
        episode.truncated = True
        return False

    def generate(self, batch: list[tuple[Episode, Observation]]) -> list[str | None]:
        """Sample one answer per episode; the action texts (None where the agent failed)."""
        actions: list[str | None] = []
        for (episode, _), result in zip(batch, self.caller.generate(batch)):
            if isinstance(result, Exception):
                reason = f"agent raised {type(result).__name__}: {result}"
                episode.add_fault(reason, status=AGENT_ERROR)
                actions.append(None)
            elif self.mode == "tokens":
                episode.token_ids.extend(result.token_ids)
                episode.loss_mask.extend([1] * len(result.token_ids))
                episode.logprobs.extend(result.logprobs)
                episode.num_generated_tokens += len(result.token_ids)
                episode.tokens_source = "agent"
                episode.truncated |= result.truncated
                episode.completions.append(result.text)
                self.last[episode.index] = result
                actions.append(result.text)
            else:
                tokens, source = self.caller.count_tokens(result)
                episode.num_generated_tokens += tokens
                episode.tokens_source = weakest_source(episode.tokens_source, source)
                episode.completions.append(str(result))
                actions.append(str(result))
        return actions

    def stepped(
        self, episode: Episode, previous: Observation, result: Any, elapsed: float
    ) -> tuple[bool, Observation]:
        """Record a step; returns (episode over, next observation)."""
        self.timings["verify_s"] += elapsed
        episode.verify_s += elapsed
        observation, reward, terminated, truncated, info = result
        episode.turn_rewards.append(float(reward))
        verdict = info.get("verdict") if isinstance(info, Mapping) else None
        episode.verdicts.append(dict(verdict) if isinstance(verdict, Mapping) else {})
        components = info.get("reward_components") if isinstance(info, Mapping) else None
        episode.reward_components.append(
            dict(components) if isinstance(components, Mapping) else {}
        )
        if terminated or truncated:
            episode.terminated, episode.env_truncated = bool(terminated), bool(truncated)
            return True, observation
        if self.mode == "tokens":
            start = time.perf_counter()
            generation = self.last[episode.index]
            text = continuation_text(
                self.tokenizer, previous, episode.completions[-1], generation.token_ids, observation
            )
            ids = encode_text(self.tokenizer, text)
            episode.token_ids.extend(ids)
            episode.loss_mask.extend([0] * len(ids))
            episode.logprobs.extend([0.0] * len(ids))
            self.timings["tokenize_s"] += time.perf_counter() - start
        return False, observation

    def failed(self, episode: Episode, error: BaseException) -> None:
        """An environment failed on this episode: raise, or record the fault."""
        message = f"{type(error).__name__}: {error}"
        if self.on_error == "raise":
            raise RolloutError(
                f"episode {episode.index} (task {episode.task_id}) failed: {message}"
            ) from error
        episode.add_fault(f"environment raised {message}")


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
        self.vector = _is_vector_env(env)
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
    ) -> _Book:
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
        return _Book(caller, on_error)

    def _drive(
        self, episodes: list[Episode], book: _Book, generation_batch_size: int | None
    ) -> Iterator[Episode]:
        if self.vector:
            yield from _run_vector(self.venv, episodes, book)
        elif episodes:
            yield from self._run_pool(episodes, book, generation_batch_size or len(episodes))

    def _run_pool(self, episodes: list[Episode], book: _Book, batch_size: int) -> Iterator[Episode]:
        if self.pool is None:
            pool_cls = ThreadPool if self.executor_kind == "thread" else ProcessPool
            self.pool = pool_cls(self.make_env, self.workers)
        flight = _Flight(self.pool, book, min(len(episodes), self.num_envs or len(episodes)))
        waiting = deque(episodes)
        while waiting or flight.ready or flight.inflight:
            while waiting and flight.free:
                flight.reset(waiting.popleft())
            generating = bool(flight.ready) and (
                len(flight.ready) >= batch_size or not flight.inflight
            )
            if generating:
                yield from flight.generate(batch_size)
            done = [f for f in flight.inflight if f.done()]
            if not done and not generating and flight.inflight:
                done = list(wait(list(flight.inflight), return_when=FIRST_COMPLETED)[0])
            for future in done:
                yield from flight.settle(future)


class _Flight:
    """Episodes in flight on a pool: free slots, episodes ready for the agent, pending futures."""

    def __init__(self, pool: ThreadPool | ProcessPool, book: _Book, slots: int) -> None:
        self.pool, self.book = pool, book
        self.free = deque(range(slots))
        self.ready: deque[tuple[Episode, Observation]] = deque()
        self.inflight: dict[Future, tuple[str, Episode, Observation]] = {}
        self.slot_of: dict[int, int] = {}

    def reset(self, episode: Episode) -> None:
        """Take a slot and start resetting the episode's environment."""
        self.slot_of[episode.index] = slot = self.free.popleft()
        options = {"task_id": episode.task_id} if episode.task_id is not None else None
        self.inflight[self.pool.reset(slot, episode.seed, options)] = ("reset", episode, "")

    def finish(self, episode: Episode) -> Episode:
        """Give the episode's slot back."""
        self.free.append(self.slot_of.pop(episode.index))
        return episode

    def generate(self, batch_size: int) -> Iterator[Episode]:
        """One agent call for up to ``batch_size`` ready episodes; their steps start at once."""
        batch = []
        for _ in range(min(batch_size, len(self.ready))):
            episode, observation = self.ready.popleft()
            if self.book.fits(episode):
                batch.append((episode, observation))
            else:
                yield self.finish(episode)
        if not batch:
            return
        batch.sort(key=lambda item: item[0].index)  # resets finish in any order; sampling must not
        try:
            actions = self.book.generate(batch)
        except Exception:
            # The agent broke off the run: finish what is being verified, so it is not lost.
            for future in list(self.inflight):
                future.exception()
                yield from self.settle(future)
            raise
        for (episode, observation), action in zip(batch, actions):
            if action is None:  # the agent failed on this input: recorded, nothing to verify
                yield self.finish(episode)
                continue
            slot = self.slot_of[episode.index]
            self.inflight[self.pool.step(slot, action)] = ("step", episode, observation)

    def settle(self, future: Future) -> Iterator[Episode]:
        """Record a finished reset or step; yield the episode if it is over."""
        kind, episode, previous = self.inflight.pop(future)
        try:
            result, elapsed = future.result()
            if kind == "reset":
                observation, info = result
                self.book.started(episode, observation, info, elapsed)
                self.ready.append((episode, observation))
                return
            over, observation = self.book.stepped(episode, previous, result, elapsed)
        except Exception as exc:
            self.book.failed(episode, exc)
            self.pool.discard(self.slot_of[episode.index])  # its state is unknown now
            over = True
        if over:
            yield self.finish(episode)
        else:
            self.ready.append((episode, observation))


def _is_vector_env(env: Any) -> bool:
    try:
        from gymnasium.vector import VectorEnv
    except ImportError:  # pragma: no cover - gymnasium is a dependency
        return False
    return isinstance(env, VectorEnv)


def _item(infos: Mapping[str, Any], key: str, i: int) -> Any:
    """Sub-environment ``i``'s entry of a vector info dict (nested dicts are batched per key)."""
    values = infos.get(key)
    present = infos.get(f"_{key}")
    if values is None or (present is not None and not present[i]):
        return None
    if isinstance(values, Mapping):
        return {k: _item(values, k, i) for k in values if not k.startswith("_")}
    value = values[i]
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", 1) == 0 else value


def _run_vector(venv: Any, episodes: list[Episode], book: _Book) -> Iterator[Episode]:
    """Waves of ``num_envs`` episodes: reset all sub-environments with the episodes' seeds, step
    them together until every episode of the wave is over (finished ones get an empty action,
    whose result is ignored)."""
    import numpy as np
    from gymnasium.vector import AutoresetMode

    n = venv.num_envs
    mode = venv.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    keys = ("task_id", "verdict", "reward_components")
    for start in range(0, len(episodes), n):
        wave = episodes[start : start + n]
        seeds = [e.seed for e in wave] + [None] * (n - len(wave))
        (observations, infos), elapsed = timed(venv.reset, seed=seeds)
        active: dict[int, Observation] = {}
        for i, episode in enumerate(wave):
            info = {k: _item(infos, k, i) for k in infos if not k.startswith("_")}
            book.started(episode, observations[i], info, elapsed / n)
            active[i] = observations[i]
        while active:
            for i in [i for i in active if not book.fits(wave[i])]:
                del active[i]
            if not active:
                break
            batch = [(wave[i], obs) for i, obs in active.items()]
            actions = [""] * n
            for (episode, _), action in zip(batch, book.generate(batch)):
                if action is None:
                    del active[episode.index - start]
                else:
                    actions[episode.index - start] = action
            if mode == AutoresetMode.DISABLED:
                # Finished sub-environments must be reset before the vector env can step again.
                idle = np.array([i not in active for i in range(n)])
                if idle.any():
                    venv.reset(options={"reset_mask": idle})
            result, elapsed = timed(venv.step, actions)
            observations, rewards, terminated, truncated, infos = result
            for episode, previous in batch:
                i = episode.index - start
                if i not in active:
                    continue
                info = {k: _item(infos, k, i) for k in keys}
                step = (observations[i], rewards[i], bool(terminated[i]), bool(truncated[i]), info)
                try:
                    over, observation = book.stepped(
                        episode, previous, step, elapsed / max(1, len(batch))
                    )
                except Exception as exc:
                    book.failed(episode, exc)
                    over = True
                if over:
                    del active[i]
                else:
                    active[i] = observation
        yield from wave


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
