"""Group rollouts: G samples per task, single- or multi-turn, token-exact, with verification in
parallel with generation.

``collect_rollouts(agent, "rlvr/Arithmetic-v0", num_tasks=8, group_size=4)`` resets G environments
with the same seed per task (same seed, same task), lets the agent answer, steps the environments
and returns a :class:`RolloutBatch` of :class:`Episode` records ready for a GRPO-style trainer.

Token mode (agents with a tokenizer and ``generate_tokens``, e.g. :class:`~agents.hf.HFAgent`)
keeps one token stream per episode: the first prompt's tokens, then each turn's sampled tokens
(loss mask 1, with their sampling log-probs) and the tokens of only the text the environment added
(loss mask 0). Earlier turns are never re-tokenised. Text mode (any agent) records texts, rewards
and verdicts only.

Environments are stepped on a pool (threads by default, worker processes with
``executor="process"``) while the agent generates for other episodes: with a
``generation_batch_size`` smaller than the number of episodes, batch k+1 is generated while batch k
is verified, and multi-turn episodes re-enter generation as soon as their feedback is back. A
Gymnasium vector environment can be given instead; it is run in waves of ``num_envs`` episodes.
"""

from __future__ import annotations

import functools
import multiprocessing
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from rlvr_envs.verdict import INFRASTRUCTURE_STATUSES

from .base import Generation, Observation, SamplingParams, supports_tokens
from .tokens import continuation_text, encode_observation, encode_text

_INFRASTRUCTURE = frozenset(status.value for status in INFRASTRUCTURE_STATUSES)


class RolloutError(RuntimeError):
    """An environment failed during a rollout (raised when ``on_error="raise"``)."""


@dataclass
class Episode:
    """One episode of one group: the token stream and everything a trainer or a report needs.

    ``token_ids``, ``loss_mask`` and ``logprobs`` are aligned; ``loss_mask`` is 1 exactly on tokens
    the agent sampled and ``logprobs`` is 0.0 wherever the mask is 0. They are empty in text mode.
    ``reward`` is the undiscounted return (the sum of ``turn_rewards``).
    """

    index: int
    group_id: int
    task_id: str | None
    seed: int | None
    observation: Observation  # the first observation (the task's prompt)
    token_ids: list[int] = field(default_factory=list)
    loss_mask: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    prompt_length: int = 0
    completions: list[str] = field(default_factory=list)
    turn_rewards: list[float] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    reward_components: list[dict[str, float]] = field(default_factory=list)
    truncated: bool = False  # some turn hit max_new_tokens (or the context) without stopping
    env_truncated: bool = False  # the environment's turn limit ended the episode
    terminated: bool = False
    num_generated_tokens: int = 0
    error: str | None = None  # an environment failure, with on_error="record"

    @property
    def reward(self) -> float:
        """The episode's return."""
        return float(sum(self.turn_rewards))

    @property
    def num_turns(self) -> int:
        """How many times the agent answered."""
        return len(self.completions)

    @property
    def valid(self) -> bool:
        """False when an environment or verifier fault (not the answer) decided the outcome."""
        return self.error is None and not any(
            v.get("status") in _INFRASTRUCTURE for v in self.verdicts
        )


@dataclass
class RolloutBatch:
    """Episodes ordered by group (task), then by sample; ``timings`` in seconds."""

    episodes: list[Episode]
    group_size: int
    num_tasks: int
    mode: str  # "tokens" or "text"
    timings: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.episodes)

    def __iter__(self):
        return iter(self.episodes)

    @property
    def rewards(self) -> list[float]:
        """Episode returns, in episode order."""
        return [e.reward for e in self.episodes]

    @property
    def num_generated_tokens(self) -> int:
        """Tokens sampled over the whole batch."""
        return sum(e.num_generated_tokens for e in self.episodes)

    def groups(self) -> list[list[Episode]]:
        """Episodes grouped by task, in group order."""
        grouped: dict[int, list[Episode]] = {}
        for episode in self.episodes:
            grouped.setdefault(episode.group_id, []).append(episode)
        return [grouped[k] for k in sorted(grouped)]

    def to_tensors(self, **kwargs: Any) -> dict[str, Any]:
        """``pad_episodes(self.episodes, **kwargs)``."""
        return pad_episodes(self.episodes, **kwargs)


def pad_episodes(
    episodes: Sequence[Episode],
    *,
    pad_token_id: int = 0,
    padding_side: str = "right",
    max_length: int | None = None,
    device: Any = None,
) -> dict[str, Any]:
    """Pad token streams into tensors; masks and positions come from lengths, never from pad ids.

    Returns ``input_ids``, ``attention_mask``, ``position_ids``, ``loss_mask`` (float),
    ``old_logprobs`` (float, 0 where the loss mask is 0), ``lengths``, ``prompt_lengths``,
    ``rewards`` and ``group_ids``.
    """
    import torch

    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    if not episodes:
        raise ValueError("no episodes to pad")
    for episode in episodes:
        if not episode.token_ids:
            raise ValueError(f"episode {episode.index} has no tokens (a text-mode rollout?)")
    lengths = [len(e.token_ids) for e in episodes]
    width = max(lengths)
    if max_length is not None and width > max_length:
        raise ValueError(
            f"an episode has {width} tokens, over max_length={max_length}; truncating it would change the loss"
        )
    size = (len(episodes), width)
    input_ids = torch.full(size, pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros(size, dtype=torch.long)
    loss_mask = torch.zeros(size, dtype=torch.float32)
    old_logprobs = torch.zeros(size, dtype=torch.float32)
    for row, episode in enumerate(episodes):
        n = len(episode.token_ids)
        span = slice(width - n, width) if padding_side == "left" else slice(0, n)
        input_ids[row, span] = torch.tensor(episode.token_ids, dtype=torch.long)
        attention_mask[row, span] = 1
        loss_mask[row, span] = torch.tensor(episode.loss_mask, dtype=torch.float32)
        old_logprobs[row, span] = torch.tensor(episode.logprobs, dtype=torch.float32)
    position_ids = (attention_mask.cumsum(dim=-1) - 1).clamp(min=0)
    out = {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "position_ids": position_ids,
        "loss_mask": loss_mask,
        "old_logprobs": old_logprobs,
        "lengths": torch.tensor(lengths, dtype=torch.long),
        "prompt_lengths": torch.tensor([e.prompt_length for e in episodes], dtype=torch.long),
        "rewards": torch.tensor([e.reward for e in episodes], dtype=torch.float32),
        "group_ids": torch.tensor([e.group_id for e in episodes], dtype=torch.long),
    }
    if device is not None:
        out = {k: v.to(device) for k, v in out.items()}
    return out


# --- environment pools ------------------------------------------------------------------------


def _env_factory(env: Any, env_kwargs: Mapping[str, Any]) -> Callable[[], Any]:
    if isinstance(env, str):
        return _MakeEnv(env, dict(env_kwargs))
    if callable(env) and not hasattr(env, "step"):
        return functools.partial(env, **env_kwargs)
    raise TypeError(
        "env must be an environment id, a factory returning a fresh environment, or a Gymnasium "
        f"vector environment; got {type(env).__name__} (one Env instance cannot run a group at once)"
    )


class _MakeEnv:
    """A picklable ``gymnasium.make(env_id, **kwargs)``."""

    def __init__(self, env_id: str, kwargs: dict[str, Any]) -> None:
        self.env_id, self.kwargs = env_id, kwargs

    def __call__(self) -> Any:
        import gymnasium

        import rlvr_envs  # noqa: F401  (registers the rlvr/ environments)

        return gymnasium.make(self.env_id, **self.kwargs)


def _timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


class _ThreadPool:
    """Environments in this process, reset and stepped on a thread pool, one per episode slot."""

    def __init__(self, make_env: Callable[[], Any], workers: int) -> None:
        self.make_env = make_env
        self.envs: dict[int, Any] = {}
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="rollout-env")
        self.lock = threading.Lock()

    def _env(self, slot: int) -> Any:
        env = self.envs.get(slot)
        if env is None:
            env = self.make_env()
            with self.lock:
                self.envs[slot] = env
        return env

    def reset(self, slot: int, seed: int | None, options: dict[str, Any] | None) -> Future:
        return self.executor.submit(
            lambda: _timed(self._env(slot).reset, seed=seed, options=options)
        )

    def step(self, slot: int, action: str) -> Future:
        return self.executor.submit(lambda: _timed(self.envs[slot].step, action))

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        for env in self.envs.values():
            env.close()
        self.envs.clear()


def _env_worker(conn: Any, make_env: Callable[[], Any]) -> None:
    envs: dict[int, Any] = {}
    while True:
        message = conn.recv()
        if message is None:
            break
        op, slot, payload = message
        try:
            if op == "reset":
                if slot not in envs:
                    envs[slot] = make_env()
                result = _timed(envs[slot].reset, **payload)
            else:
                result = _timed(envs[slot].step, payload)
            conn.send(("ok", result))
        except Exception as exc:  # sent back and raised in the parent
            conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
    for env in envs.values():
        env.close()
    conn.close()


class _ProcessPool:
    """Environments in worker processes (spawned, so no torch state is forked); slot k lives in
    worker ``k % workers``, so an episode always returns to its own environment."""

    def __init__(self, make_env: Callable[[], Any], workers: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.conns, self.procs, self.locks = [], [], []
        for _ in range(workers):
            parent, child = context.Pipe()
            proc = context.Process(target=_env_worker, args=(child, make_env), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)
            self.locks.append(threading.Lock())
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="rollout-proc")

    def _call(self, slot: int, op: str, payload: Any) -> Any:
        worker = slot % len(self.conns)
        with self.locks[worker]:
            self.conns[worker].send((op, slot, payload))
            try:
                status, result = self.conns[worker].recv()
            except EOFError as exc:
                raise RolloutError(
                    f"environment worker {worker} died (exit code {self.procs[worker].exitcode})"
                ) from exc
        if status == "error":
            raise RolloutError(f"environment failed in worker {worker}: {result}")
        return result

    def reset(self, slot: int, seed: int | None, options: dict[str, Any] | None) -> Future:
        return self.executor.submit(self._call, slot, "reset", {"seed": seed, "options": options})

    def step(self, slot: int, action: str) -> Future:
        return self.executor.submit(self._call, slot, "step", action)

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        for conn, proc in zip(self.conns, self.procs):
            try:
                conn.send(None)
            except OSError:
                pass
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
            conn.close()


# --- episodes in flight -----------------------------------------------------------------------


class _Collector:
    """Per-episode bookkeeping shared by the pool and vector-environment drivers."""

    def __init__(
        self, agent: Any, mode: str, params: SamplingParams, on_error: str, seed: int
    ) -> None:
        self.agent, self.mode, self.params, self.on_error = agent, mode, params, on_error
        self.tokenizer = getattr(agent, "tokenizer", None)
        self.max_context = getattr(agent, "max_context", None)
        self.timings = {"generate_s": 0.0, "verify_s": 0.0, "reset_s": 0.0, "tokenize_s": 0.0}
        self.calls = 0
        self.last: dict[int, Generation | None] = {}
        # Each generation call gets its own seed derived from the sampling seed (by default the
        # rollout's seed), so a single-turn rollout is reproducible.
        self.base_seed = params.seed if params.seed is not None else seed

    def started(
        self, episode: Episode, observation: Observation, info: Mapping[str, Any], elapsed: float
    ) -> None:
        self.timings["reset_s"] += elapsed
        episode.observation = observation
        episode.task_id = _task_id(info, episode.task_id)
        if self.mode == "tokens":
            start = time.perf_counter()
            ids = encode_observation(self.tokenizer, observation)
            self.timings["tokenize_s"] += time.perf_counter() - start
            episode.token_ids, episode.loss_mask, episode.logprobs = (
                list(ids),
                [0] * len(ids),
                [0.0] * len(ids),
            )
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

    def generate(self, batch: list[tuple[Episode, Observation]]) -> list[str]:
        """Sample one answer per episode; returns the action texts."""
        self.calls += 1
        seed = (self.base_seed * 1_000_003 + self.calls) % (2**63)
        sampling = {
            "temperature": self.params.temperature,
            "top_p": self.params.top_p,
            "top_k": self.params.top_k,
            "max_new_tokens": self.params.max_new_tokens,
            "stop": self.params.stop,
            "seed": seed,
        }
        start = time.perf_counter()
        if self.mode == "tokens":
            answers = self.agent.generate_tokens([e.token_ids for e, _ in batch], **sampling)
        else:
            answers = self.agent.act([obs for _, obs in batch], **sampling)
        self.timings["generate_s"] += time.perf_counter() - start
        if len(answers) != len(batch):
            raise RolloutError(
                f"the agent returned {len(answers)} answers for {len(batch)} observations"
            )
        if self.mode != "tokens":
            texts = list(answers)
            for (episode, _), text in zip(batch, texts):
                episode.completions.append(text)
            return texts
        generations: list[Generation] = list(answers)
        for (episode, _), generation in zip(batch, generations):
            episode.token_ids.extend(generation.token_ids)
            episode.loss_mask.extend([1] * len(generation.token_ids))
            episode.logprobs.extend(generation.logprobs)
            episode.num_generated_tokens += len(generation.token_ids)
            episode.truncated |= generation.truncated
            episode.completions.append(generation.text)
            self.last[episode.index] = generation
        return [g.text for g in generations]

    def stepped(
        self, episode: Episode, previous: Observation, result: Any, elapsed: float
    ) -> tuple[bool, Observation]:
        """Record a step; returns (episode over, next observation)."""
        self.timings["verify_s"] += elapsed
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
        message = f"{type(error).__name__}: {error}"
        if self.on_error == "raise":
            raise RolloutError(
                f"episode {episode.index} (task {episode.task_id}) failed: {message}"
            ) from error
        episode.error = message


def _task_id(info: Mapping[str, Any], default: str | None) -> str | None:
    value = info.get("task_id") if isinstance(info, Mapping) else None
    return str(value) if value is not None else default


# --- drivers ----------------------------------------------------------------------------------


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
            self.make_env = _env_factory(env, env_kwargs or {})
            self.num_envs = num_envs
            self.workers = workers or min(
                32, (multiprocessing.cpu_count() or 2) * (4 if executor == "thread" else 1)
            )
            self.executor_kind = executor
            self.pool: _ThreadPool | _ProcessPool | None = None

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
        if on_error not in ("raise", "record"):
            raise ValueError(f"on_error must be 'raise' or 'record', got {on_error!r}")
        params = SamplingParams.build(sampling, **sampling_overrides)
        if params.n != 1:
            raise ValueError("use group_size for several samples per task, not n")
        if mode == "auto":
            mode = "tokens" if supports_tokens(agent) else "text"
        if mode not in ("tokens", "text"):
            raise ValueError(f"mode must be 'auto', 'tokens' or 'text', got {mode!r}")
        if mode == "tokens" and not supports_tokens(agent):
            raise TypeError(
                f"{agent!r} cannot report tokens (no tokenizer / generate_tokens); use mode='text'"
            )
        episodes = [
            Episode(
                index=k * group_size + g,
                group_id=k,
                task_id=str(task_ids[k]) if task_ids is not None else None,
                seed=seed + k,
                observation="",
            )
            for k in range(num_tasks)
            for g in range(group_size)
        ]
        collector = _Collector(agent, mode, params, on_error, seed)
        batch_size = generation_batch_size or len(episodes)
        started = time.perf_counter()
        if self.vector:
            if task_ids is not None:
                raise ValueError(
                    "task_ids cannot be chosen per sub-environment of a vector environment; use seeds"
                )
            _run_vector(self.venv, episodes, collector)
        else:
            self._run_pool(episodes, collector, batch_size)
        timings = dict(collector.timings)
        timings["wall_s"] = time.perf_counter() - started
        timings["generation_calls"] = float(collector.calls)
        generated = sum(e.num_generated_tokens for e in episodes)
        timings["generated_tokens_per_s"] = (
            generated / timings["generate_s"] if timings["generate_s"] else 0.0
        )
        return RolloutBatch(episodes, group_size, num_tasks, mode, timings)

    def _run_pool(self, episodes: list[Episode], collector: _Collector, batch_size: int) -> None:
        slots = min(len(episodes), self.num_envs or len(episodes))
        if self.pool is None:
            pool_cls = _ThreadPool if self.executor_kind == "thread" else _ProcessPool
            self.pool = pool_cls(self.make_env, self.workers)
        pool = self.pool
        free = deque(range(slots))
        waiting = deque(episodes)
        ready: deque[tuple[Episode, Observation]] = deque()
        inflight: dict[Future, tuple[str, Episode, Observation]] = {}
        slot_of: dict[int, int] = {}

        def finish(episode: Episode) -> None:
            free.append(slot_of.pop(episode.index))

        while waiting or ready or inflight:
            while waiting and free:
                episode = waiting.popleft()
                slot_of[episode.index] = slot = free.popleft()
                options = {"task_id": episode.task_id} if episode.task_id is not None else None
                inflight[pool.reset(slot, episode.seed, options)] = ("reset", episode, "")
            if ready and (len(ready) >= batch_size or not inflight):
                batch = []
                for _ in range(min(batch_size, len(ready))):
                    episode, observation = ready.popleft()
                    if collector.fits(episode):
                        batch.append((episode, observation))
                    else:
                        finish(episode)
                if batch:
                    # Resets finish in any order; sampling must not depend on it.
                    batch.sort(key=lambda item: item[0].index)
                    actions = collector.generate(batch)
                    for (episode, observation), action in zip(batch, actions):
                        inflight[pool.step(slot_of[episode.index], action)] = (
                            "step",
                            episode,
                            observation,
                        )
                continue
            done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
            for future in done:
                kind, episode, previous = inflight.pop(future)
                try:
                    result, elapsed = future.result()
                    if kind == "reset":
                        observation, info = result
                        collector.started(episode, observation, info, elapsed)
                        ready.append((episode, observation))
                        continue
                    over, observation = collector.stepped(episode, previous, result, elapsed)
                except Exception as exc:
                    collector.failed(episode, exc)
                    over = True
                if over:
                    finish(episode)
                else:
                    ready.append((episode, observation))


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


def _run_vector(venv: Any, episodes: list[Episode], collector: _Collector) -> None:
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
        (observations, infos), elapsed = _timed(venv.reset, seed=seeds)
        active: dict[int, Observation] = {}
        for i, episode in enumerate(wave):
            info = {k: _item(infos, k, i) for k in keys}
            collector.started(episode, observations[i], info, elapsed / n)
            active[i] = observations[i]
        while active:
            for i in [i for i in active if not collector.fits(wave[i])]:
                del active[i]
            if not active:
                break
            batch = [(wave[i], obs) for i, obs in active.items()]
            actions = [""] * n
            for (episode, _), action in zip(batch, collector.generate(batch)):
                actions[episode.index - start] = action
            if mode == AutoresetMode.DISABLED:
                # Finished sub-environments must be reset before the vector env can step again.
                idle = np.array([i not in active for i in range(n)])
                if idle.any():
                    venv.reset(options={"reset_mask": idle})
            result, elapsed = _timed(venv.step, actions)
            observations, rewards, terminated, truncated, infos = result
            for episode, previous in batch:
                i = episode.index - start
                info = {k: _item(infos, k, i) for k in keys}
                step = (observations[i], rewards[i], bool(terminated[i]), bool(truncated[i]), info)
                try:
                    over, observation = collector.stepped(
                        episode, previous, step, elapsed / max(1, len(batch))
                    )
                except Exception as exc:
                    collector.failed(episode, exc)
                    over = True
                if over:
                    del active[i]
                else:
                    active[i] = observation


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
            **sampling_overrides,
        )


__all__ = [
    "Episode",
    "RolloutBatch",
    "RolloutError",
    "RolloutRunner",
    "collect_rollouts",
    "pad_episodes",
]
