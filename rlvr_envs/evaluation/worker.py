"""The sampling loop: generate completions with an agent, verify them in environments, in parallel.

A :class:`Worker` turns work units (the missing samples of one task) into sample records. One
thread drives the agent; environment steps (verification, which for code runs in a sandbox and
takes time) run in a thread pool, so the next batch is generated while the previous one is being
verified. Each sample is one episode: multi-turn environments go back to the agent with the next
observation until the episode terminates or is truncated. The local executor runs one worker in
the calling process; the Ray executor runs one per actor.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from ..verdict import Status, Verdict

logger = logging.getLogger(__name__)

AGENT_ERROR = "agent_error"  # a record status: the agent could not answer this observation


@dataclass(frozen=True)
class EntryConfig:
    """What a worker needs to know about one suite entry (plain, picklable data)."""

    label: str
    env: str
    kwargs: Mapping[str, Any]
    sampling: Mapping[str, Any]
    fingerprint: str


@dataclass(frozen=True)
class WorkUnit:
    """The samples still to draw for one task of one entry: (sample index, key, seed) each."""

    entry: str
    task_id: str
    samples: tuple[tuple[int, str, int], ...]


@dataclass
class _Episode:
    unit: WorkUnit
    index: int
    key: str
    seed: int
    prompt: Any = None
    observation: Any = None
    env: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)
    completions: list[str] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    tokens: int = 0
    token_sources: set[str] = field(default_factory=set)
    generate_s: float = 0.0
    verify_s: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)
    done: bool = False
    agent_error: str | None = None


def approximate_tokens(text: str) -> int:
    """About one token per four UTF-8 bytes: the usual rate of English BPE vocabularies."""
    size = len(text.encode("utf-8", "surrogatepass"))
    return (size + 3) // 4


def _is_per_input_error(error: Exception) -> bool:
    # Errors about one input (context too long, a rejected request) are recorded per sample;
    # anything else (a dead server, a bad key, a bug) stops the run, which a rerun resumes.
    return isinstance(error, (ValueError, TypeError))


class _EnvPool:
    """Idle environment instances per entry, shared by the verification threads."""

    def __init__(self, entries: Mapping[str, EntryConfig]) -> None:
        self.entries = entries
        self._idle: dict[str, list[Any]] = {label: [] for label in entries}
        self._lock = threading.Lock()
        self._all: list[Any] = []

    def acquire(self, label: str) -> Any:
        with self._lock:
            if self._idle[label]:
                return self._idle[label].pop()
        entry = self.entries[label]
        env = gym.make(entry.env, **dict(entry.kwargs))
        with self._lock:
            self._all.append(env)
        return env

    def release(self, label: str, env: Any) -> None:
        with self._lock:
            self._idle[label].append(env)

    def close(self) -> None:
        with self._lock:
            envs, self._all = self._all, []
            self._idle = {label: [] for label in self.entries}
        for env in envs:
            try:
                env.close()
            except Exception:  # closing is best effort
                logger.debug("closing an environment failed", exc_info=True)


class Worker:
    """Draws and verifies samples for work units; yields one record per finished sample."""

    def __init__(
        self,
        agent: Any,
        entries: Mapping[str, EntryConfig],
        *,
        batch_size: int = 16,
        verify_workers: int = 4,
    ) -> None:
        if batch_size < 1 or verify_workers < 1:
            raise ValueError("batch_size and verify_workers must be at least 1")
        self.agent = agent
        self.entries = dict(entries)
        self.batch_size = batch_size
        self.verify_workers = verify_workers
        self.pool = _EnvPool(self.entries)
        self._probes: dict[str, Any] = {}
        self._use_generate = callable(getattr(agent, "generate", None)) and (
            getattr(agent, "tokenizer", None) is not None
            and callable(getattr(agent, "generate_tokens", None))
        )
        try:
            parameters = inspect.signature(agent.act).parameters
        except (TypeError, ValueError):
            parameters = {}
        self._takes_seeds = "seeds" in parameters
        self._warned = False

    # --- agent --------------------------------------------------------------------------------

    def _call_agent(
        self, entry: EntryConfig, observations: list[Any], n: int, seeds: list[int]
    ) -> list[Any]:
        sampling = {**dict(entry.sampling), "n": n, "seed": seeds[0]}
        if self._use_generate:
            from .agent_spec import Completion

            generations = self.agent.generate(observations, **sampling)
            return [Completion(g.text, g.num_tokens) for g in generations]
        if self._takes_seeds:
            sampling["seeds"] = seeds
        return list(self.agent.act(observations, **sampling))

    def _generate(
        self, entry: EntryConfig, observations: list[Any], n: int, seeds: list[int]
    ) -> list[Any]:
        """Completions (observation-major), or an exception for each sample the agent refused."""
        try:
            results = self._call_agent(entry, observations, n, seeds)
            if len(results) != len(observations) * n:
                raise ValueError(
                    f"the agent returned {len(results)} completions for {len(observations)} "
                    f"observations x {n} samples"
                )
            return results
        except Exception as error:
            if not _is_per_input_error(error):
                raise
            if len(observations) == 1:
                if not self._warned:
                    logger.warning("the agent failed on an observation: %r", error)
                    self._warned = True
                return [error] * n
        # Retry one observation at a time so that one bad prompt does not fail its batch-mates.
        results = []
        for i, observation in enumerate(observations):
            results += self._generate(entry, [observation], n, seeds[i * n : (i + 1) * n])
        return results

    def _count_tokens(self, completion: Any) -> tuple[int, str]:
        tokens = getattr(completion, "num_tokens", None)
        if isinstance(tokens, int):
            return tokens, "agent"
        tokenizer = getattr(self.agent, "tokenizer", None)
        if tokenizer is not None and callable(getattr(tokenizer, "encode", None)):
            try:
                return len(tokenizer.encode(str(completion), add_special_tokens=False)), "tokenizer"
            except TypeError:
                return len(tokenizer.encode(str(completion))), "tokenizer"
        return approximate_tokens(str(completion)), "approximate"

    # --- environments -------------------------------------------------------------------------

    def _probe(self, label: str) -> Any:
        if label not in self._probes:
            entry = self.entries[label]
            self._probes[label] = gym.make(entry.env, **dict(entry.kwargs))
        return self._probes[label]

    def _first_observation(self, unit: WorkUnit) -> tuple[Any, dict[str, Any]]:
        observation, info = self._probe(unit.entry).reset(options={"task_id": unit.task_id})
        return observation, dict(info.get("metadata") or {})

    def _step(self, episode: _Episode, completion: str) -> _Episode:
        """One environment step for an episode (runs in a verification thread)."""
        label = episode.unit.entry
        start = time.perf_counter()
        try:
            if episode.env is None:
                episode.env = self.pool.acquire(label)
                episode.env.reset(options={"task_id": episode.unit.task_id})
            observation, reward, terminated, truncated, info = episode.env.step(str(completion))
        except Exception as error:  # a broken environment must show, not crash the run
            logger.warning("environment %s failed on %s: %r", label, episode.unit.task_id, error)
            verdict = Verdict.make(
                Status.ERROR, f"environment raised {type(error).__name__}: {error}"
            )
            info = {"verdict": verdict.to_dict(), "reward_components": {}}
            reward, terminated, truncated, observation = 0.0, True, False, None
            episode.env = None  # do not reuse an environment in an unknown state
        episode.verify_s += time.perf_counter() - start
        episode.completions.append(str(completion))
        episode.rewards.append(float(reward))
        episode.info = info
        episode.observation = observation
        episode.done = bool(terminated or truncated)
        if episode.done and episode.env is not None:
            self.pool.release(label, episode.env)
            episode.env = None
        return episode

    # --- records ------------------------------------------------------------------------------

    def _record(self, episode: _Episode) -> dict[str, Any]:
        unit, entry = episode.unit, self.entries[episode.unit.entry]
        if episode.agent_error is not None:
            verdict = Verdict.make(Status.ERROR, episode.agent_error).to_dict()
            verdict["status"] = AGENT_ERROR
            components: dict[str, float] = {}
        else:
            verdict = dict(episode.info.get("verdict") or {})
            components = dict(episode.info.get("reward_components") or {})
        sources = episode.token_sources
        record = {
            "key": episode.key,
            "entry": unit.entry,
            "env_id": entry.env,
            "task_id": unit.task_id,
            "sample_index": episode.index,
            "seed": episode.seed,
            "fingerprint": entry.fingerprint,
            "prompt": episode.prompt,
            "completion": episode.completions[-1] if episode.completions else "",
            "reward": float(verdict.get("reward", 0.0)),
            "correct": bool(verdict.get("correct", False)),
            "status": str(verdict.get("status", "error")),
            "extracted": verdict.get("extracted"),
            "verdict": verdict,
            "reward_components": components,
            "turns": len(episode.completions),
            "metadata": episode.metadata,
            "tokens": episode.tokens,
            "tokens_source": min(sources, key=_SOURCE_RANK.get) if sources else "none",
            "generate_s": round(episode.generate_s, 6),
            "verify_s": round(episode.verify_s, 6),
            "finished_at": time.time(),
        }
        if len(episode.completions) > 1:
            record["completions"] = episode.completions
            record["rewards"] = episode.rewards
        return record

    # --- the loop -----------------------------------------------------------------------------

    def _take_fresh(self, units: deque[WorkUnit]) -> list[WorkUnit]:
        """Consecutive units of one entry with the same number of missing samples."""
        first = units.popleft()
        batch = [first]
        while (
            units
            and len(batch) < self.batch_size
            and units[0].entry == first.entry
            and len(units[0].samples) == len(first.samples)
        ):
            batch.append(units.popleft())
        return batch

    def _take_ready(self, ready: deque[_Episode]) -> list[_Episode]:
        label = ready[0].unit.entry
        batch, rest = [], deque()
        while ready:
            episode = ready.popleft()
            if episode.unit.entry == label and len(batch) < self.batch_size:
                batch.append(episode)
            else:
                rest.append(episode)
        ready.extend(rest)
        return batch

    def _start_fresh(self, batch: list[WorkUnit]) -> list[tuple[_Episode, Any]]:
        entry = self.entries[batch[0].entry]
        n = len(batch[0].samples)
        observations, episodes = [], []
        for unit in batch:
            observation, metadata = self._first_observation(unit)
            observations.append(observation)
            for index, key, seed in unit.samples:
                episodes.append(
                    _Episode(unit, index, key, seed, prompt=observation, metadata=metadata)
                )
        seeds = [e.seed for e in episodes]
        return self._attach(entry, episodes, observations, n, seeds)

    def _continue(self, batch: list[_Episode]) -> list[tuple[_Episode, Any]]:
        entry = self.entries[batch[0].unit.entry]
        # Later turns get fresh seeds derived from the sample's seed and the turn number.
        seeds = [e.seed + 7919 * len(e.completions) for e in batch]
        return self._attach(entry, batch, [e.observation for e in batch], 1, seeds)

    def _attach(
        self,
        entry: EntryConfig,
        episodes: list[_Episode],
        observations: list[Any],
        n: int,
        seeds: list[int],
    ) -> list[tuple[_Episode, Any]]:
        start = time.perf_counter()
        results = self._generate(entry, observations, n, seeds)
        share = (time.perf_counter() - start) / max(len(results), 1)
        pairs = []
        for episode, result in zip(episodes, results):
            episode.generate_s += share
            if not isinstance(result, (str, Exception)):
                result = TypeError(f"the agent returned a {type(result).__name__}, not a str")
            if isinstance(result, Exception):
                episode.agent_error = f"agent raised {type(result).__name__}: {result}"
                episode.done = True
            else:
                tokens, source = self._count_tokens(result)
                episode.tokens += tokens
                episode.token_sources.add(source)
            pairs.append((episode, result))
        return pairs

    def run(self, units: Iterable[WorkUnit]) -> Iterator[dict[str, Any]]:
        """Draw and verify every sample of ``units``; yield records as samples finish."""
        pending = deque(u for u in units if u.samples)
        unknown = {u.entry for u in pending} - set(self.entries)
        if unknown:
            raise KeyError(f"work units name unknown entries {sorted(unknown)}")
        ready: deque[_Episode] = deque()
        futures: dict[Future, _Episode] = {}
        # Bound the samples in flight: enough to keep generation and verification both busy.
        max_live = 2 * self.batch_size * max((len(u.samples) for u in pending), default=1)
        live = 0
        with ThreadPoolExecutor(self.verify_workers, thread_name_prefix="verify") as threads:
            while pending or ready or futures:
                pairs: list[tuple[_Episode, Any]] = []
                if ready:
                    pairs = self._continue(self._take_ready(ready))
                elif pending and live < max_live:
                    batch = self._take_fresh(pending)
                    live += sum(len(u.samples) for u in batch)
                    pairs = self._start_fresh(batch)
                elif futures:
                    wait(list(futures), return_when=FIRST_COMPLETED)
                for episode, result in pairs:
                    if episode.done:  # the agent failed on it: nothing to verify
                        live -= 1
                        yield self._record(episode)
                    else:
                        futures[threads.submit(self._step, episode, result)] = episode
                for future in [f for f in futures if f.done()]:
                    episode = futures.pop(future)
                    future.result()
                    if episode.done:
                        live -= 1
                        yield self._record(episode)
                    else:
                        ready.append(episode)

    def close(self) -> None:
        """Close every environment the worker made."""
        self.pool.close()
        for env in self._probes.values():
            env.close()
        self._probes.clear()


_SOURCE_RANK = {"approximate": 0, "tokenizer": 1, "agent": 2}


def entry_configs(plan_entries: Sequence[Mapping[str, Any]]) -> dict[str, EntryConfig]:
    """Worker configs from a run plan's (non-skipped) entries."""
    return {
        e["label"]: EntryConfig(e["label"], e["env"], e["kwargs"], e["sampling"], e["fingerprint"])
        for e in plan_entries
        if not e.get("skipped")
    }
