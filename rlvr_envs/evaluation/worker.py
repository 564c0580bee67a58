"""Drawing an evaluation's samples: work units become episodes of the rollout engine, episodes
become sample records.

The engine (:mod:`rlvr_envs.rollout`) drives the agent and the environments: generation in this
thread, verification on a thread pool, so the next batch is generated while the previous one is
being verified; multi-turn episodes go back to the agent until they terminate or are truncated.
Evaluation runs it with one seed per sample (``seeding="sample"``) and with faults recorded
(``on_error="record"``): an environment that raised counts as an ``error`` status and an agent that
could not answer one input as ``agent_error``, both reported, neither stopping the run. The local
executor runs one worker in the calling process; the Ray executor runs one per actor.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..rollout import Episode, RolloutRunner


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


@dataclass(frozen=True)
class _Sample:
    unit: WorkUnit
    index: int
    key: str


class Worker:
    """Draws and verifies samples for work units; yields one record per finished sample.

    ``batch_size`` is the number of observations (tasks) per agent call, each with its samples;
    every entry keeps a pool of environments for twice that many episodes, so that one batch is
    verified while the next is generated.
    """

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
        self._runners: dict[str, RolloutRunner] = {}

    def _runner(self, label: str, generation_batch: int) -> RolloutRunner:
        if label not in self._runners:
            entry = self.entries[label]
            self._runners[label] = RolloutRunner(
                entry.env,
                env_kwargs=dict(entry.kwargs),
                num_envs=2 * generation_batch,
                workers=self.verify_workers,
            )
        return self._runners[label]

    def run(self, units: Iterable[WorkUnit]) -> Iterator[dict[str, Any]]:
        """Draw and verify every sample of ``units``; yield records as samples finish."""
        pending = [u for u in units if u.samples]
        unknown = {u.entry for u in pending} - set(self.entries)
        if unknown:
            raise KeyError(f"work units name unknown entries {sorted(unknown)}")
        for label, group in itertools.groupby(pending, key=lambda u: u.entry):
            yield from self._run_entry(self.entries[label], list(group))

    def _run_entry(self, entry: EntryConfig, units: list[WorkUnit]) -> Iterator[dict[str, Any]]:
        episodes: list[Episode] = []
        samples: list[_Sample] = []
        for group, unit in enumerate(units):
            for index, key, seed in unit.samples:
                episodes.append(
                    Episode(
                        index=len(episodes), group_id=group, task_id=unit.task_id, sample_seed=seed
                    )
                )
                samples.append(_Sample(unit, index, key))
        per_task = max(len(u.samples) for u in units)
        generation_batch = self.batch_size * per_task
        runner = self._runner(entry.label, generation_batch)
        for episode in runner.run(
            self.agent,
            episodes,
            sampling=entry.sampling,
            mode="text",
            generation_batch_size=generation_batch,
            on_error="record",
            seeding="sample",
        ):
            yield _record(entry, episode, samples[episode.index])

    def close(self) -> None:
        """Close every environment the worker made."""
        for runner in self._runners.values():
            runner.close()
        self._runners.clear()


def _record(entry: EntryConfig, episode: Episode, sample: _Sample) -> dict[str, Any]:
    """The ``samples.jsonl`` line of a finished episode (its last turn decides the verdict)."""
    verdict = dict(episode.verdicts[-1]) if episode.verdicts else {}
    components = dict(episode.reward_components[-1]) if episode.reward_components else {}
    record = {
        "key": sample.key,
        "entry": sample.unit.entry,
        "env_id": entry.env,
        "task_id": sample.unit.task_id,
        "sample_index": sample.index,
        "seed": episode.sample_seed,
        "fingerprint": entry.fingerprint,
        "prompt": episode.observation,
        "completion": episode.completions[-1] if episode.completions else "",
        "reward": float(verdict.get("reward", 0.0)),
        "correct": bool(verdict.get("correct", False)),
        "status": str(verdict.get("status", "error")),
        "extracted": verdict.get("extracted"),
        "verdict": verdict,
        "reward_components": components,
        "turns": len(episode.completions),
        "metadata": dict(episode.reset_info.get("metadata") or {}),
        "tokens": episode.num_generated_tokens,
        "tokens_source": episode.tokens_source,
        "generate_s": round(episode.generate_s, 6),
        "verify_s": round(episode.verify_s, 6),
        "finished_at": time.time(),
    }
    if len(episode.completions) > 1:
        record["completions"] = list(episode.completions)
        record["rewards"] = list(episode.turn_rewards)
    if episode.tool_use:
        record["tool_use"] = {
            k: (round(float(v), 6) if k == "time_s" else v) for k, v in episode.tool_use.items()
        }
    return record


def entry_configs(plan_entries: Sequence[Mapping[str, Any]]) -> dict[str, EntryConfig]:
    """Worker configs from a run plan's (non-skipped) entries."""
    return {
        e["label"]: EntryConfig(e["label"], e["env"], e["kwargs"], e["sampling"], e["fingerprint"])
        for e in plan_entries
        if not e.get("skipped")
    }
