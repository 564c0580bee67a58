"""From sample records to the numbers of a run: per environment, per category, scaling curves.

Everything here is computed from the per-sample records and the run's plan (which tasks and how
many samples each entry asked for), so a summary can be rebuilt from ``samples.jsonl`` at any
time and does not depend on the order in which samples finished or on where they ran.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .metrics import (
    confidence_interval,
    k_grid,
    maj_at_k_groups,
    pass_at_k,
    status_counts,
    vote_groups,
)
from .tool_stats import summarize_tool_use

# Metadata keys that identify a task rather than group tasks.
_NOT_CATEGORIES = frozenset({"seed", "id", "task_id", "expression", "prompt", "answer"})
MAX_CATEGORY_VALUES = 50
MAX_CATEGORY_LENGTH = 40  # longer values are prompts or ids, not categories


class TaskSamples:
    """The samples of one task, in sample-index order."""

    def __init__(self, task_id: str, records: Sequence[Mapping[str, Any]]) -> None:
        self.task_id = task_id
        self.records = sorted(records, key=lambda r: r["sample_index"])
        self.n = len(self.records)
        self.correct = [bool(r.get("correct")) for r in self.records]
        self.c = sum(self.correct)
        self.rewards = [float(r.get("reward", 0.0)) for r in self.records]
        self.answers = [r.get("extracted") for r in self.records]
        self.metadata = dict(self.records[0].get("metadata") or {}) if self.records else {}

    @property
    def mean_reward(self) -> float:
        """Mean reward over the task's samples."""
        return sum(self.rewards) / self.n

    def pass_at(self, k: int) -> float:
        """Unbiased pass@k of this task."""
        return pass_at_k(self.n, self.c, k)

    def maj_at(self, k: int, *, seed: int = 0) -> float:
        """maj@k of this task."""
        return maj_at_k_groups(vote_groups(self.answers, self.correct), k, seed=seed)


def group_tasks(
    entry: Mapping[str, Any], records: Iterable[Mapping[str, Any]]
) -> list[TaskSamples]:
    """The planned tasks of an entry that have samples, with only the planned samples."""
    wanted = set(entry["task_ids"])
    k = entry["samples"]
    by_task: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for record in records:
        if (
            record.get("entry") == entry["label"]
            and record.get("fingerprint") == entry["fingerprint"]
            and record.get("task_id") in wanted
            and 0 <= record.get("sample_index", -1) < k
        ):
            by_task[record["task_id"]].append(record)
    return [TaskSamples(t, by_task[t]) for t in entry["task_ids"] if by_task.get(t)]


def per_task_metrics(
    tasks: Sequence[TaskSamples], pass_ks: Sequence[int], maj_ks: Sequence[int] = ()
) -> dict[str, np.ndarray]:
    """Arrays (one value per task) of mean reward, pass@k for ``pass_ks``, maj@k for ``maj_ks``."""
    values: dict[str, np.ndarray] = {"mean_reward": np.array([t.mean_reward for t in tasks])}
    for k in pass_ks:
        values[f"pass@{k}"] = np.array([t.pass_at(k) for t in tasks])
    for k in maj_ks:
        values[f"maj@{k}"] = np.array([t.maj_at(k) for t in tasks])
    return values


def _interval(values: np.ndarray, ci: str, seed: int) -> list[float]:
    low, high = confidence_interval(values, method=ci, seed=seed)
    return [round(low, 6), round(high, 6)]


def _category_keys(entry: Mapping[str, Any], tasks: Sequence[TaskSamples]) -> list[str]:
    if entry.get("categories") is not None:
        return list(entry["categories"])
    # Automatic: metadata keys with a few repeated, hashable values (subject, level, kind ...).
    keys = sorted({key for t in tasks for key in t.metadata} - _NOT_CATEGORIES)
    chosen = []
    for key in keys:
        values = [t.metadata.get(key) for t in tasks]
        if not all(isinstance(v, (str, int, bool)) or v is None for v in values):
            continue
        distinct = set(map(str, values))
        # Groups worth a table: a few short labels, each shared by about two tasks or more.
        if (
            2 <= len(distinct) <= min(MAX_CATEGORY_VALUES, len(tasks) // 2)
            and max(map(len, distinct)) <= MAX_CATEGORY_LENGTH
        ):
            chosen.append(key)
    return chosen


def _sort_values(values: Iterable[str]) -> list[str]:
    def key(value: str) -> tuple:
        try:
            return (0, float(value), value)
        except ValueError:
            return (1, 0.0, value)

    return sorted(values, key=key)


def summarize_entry(
    entry: Mapping[str, Any], records: Iterable[Mapping[str, Any]], *, ci: str, seed: int = 0
) -> dict[str, Any]:
    """The summary of one suite entry."""
    tasks = group_tasks(entry, records)
    samples = [r for t in tasks for r in t.records]
    result: dict[str, Any] = {
        "env_id": entry["env"],
        "num_tasks": len(tasks),
        "planned_tasks": len(entry["task_ids"]),
        "samples_per_task": entry["samples"],
        "num_samples": len(samples),
        "complete": len(samples) == len(entry["task_ids"]) * entry["samples"],
    }
    if not tasks:
        return result
    n = min(t.n for t in tasks)  # every task has at least n samples, so pass@k is defined to n
    maj = bool(entry.get("maj"))
    ks = list(range(1, n + 1))
    grid = k_grid(n)
    values = per_task_metrics(tasks, ks, grid if maj else ())
    tokens = [int(r.get("tokens", 0)) for r in samples]
    sources = {r.get("tokens_source", "none") for r in samples}
    tokens_per_sample = float(np.mean(tokens))

    result.update(
        {
            "mean_reward": round(float(values["mean_reward"].mean()), 6),
            "accuracy": round(sum(t.c for t in tasks) / len(samples), 6),
            "pass_at_k": {str(k): round(float(values[f"pass@{k}"].mean()), 6) for k in ks},
            "ci_method": ci,
            "ci": {
                "mean_reward": _interval(values["mean_reward"], ci, seed),
                "pass@1": _interval(values["pass@1"], ci, seed),
                f"pass@{n}": _interval(values[f"pass@{n}"], ci, seed),
            },
            "tokens": {
                "mean_per_sample": round(tokens_per_sample, 2),
                "total": int(sum(tokens)),
                "source": ",".join(sorted(sources)),
                "approximate": bool(sources - {"agent", "tokenizer"}),
            },
            "status_counts": status_counts(r.get("status", "error") for r in samples),
            "mean_turns": round(float(np.mean([r.get("turns", 1) for r in samples])), 3),
        }
    )
    if maj:
        result["maj_at_k"] = {str(k): round(float(values[f"maj@{k}"].mean()), 6) for k in grid}
        result["ci"][f"maj@{n}"] = _interval(values[f"maj@{n}"], ci, seed)
    result["curves"] = {
        "k": grid,
        "pass_at_k": [result["pass_at_k"][str(k)] for k in grid],
        **({"maj_at_k": [result["maj_at_k"][str(k)] for k in grid]} if maj else {}),
        "tokens_per_task": [round(k * tokens_per_sample, 2) for k in grid],
        "tokens_approximate": result["tokens"]["approximate"],
    }
    result["categories"] = _categories(entry, tasks, values, n, maj)
    tool_use = summarize_tool_use(samples)
    if tool_use is not None:
        result["tool_use"] = tool_use
    return result


def _categories(
    entry: Mapping[str, Any],
    tasks: Sequence[TaskSamples],
    values: Mapping[str, np.ndarray],
    n: int,
    maj: bool,
) -> dict[str, dict[str, dict[str, Any]]]:
    breakdown: dict[str, dict[str, dict[str, Any]]] = {}
    for key in _category_keys(entry, tasks):
        if not any(key in task.metadata for task in tasks):
            continue  # a key this environment's tasks do not have
        groups: dict[str, list[int]] = defaultdict(list)
        for index, task in enumerate(tasks):
            groups[str(task.metadata.get(key))].append(index)
        table = {}
        for value in _sort_values(groups):
            picked = groups[value]
            row = {
                "num_tasks": len(picked),
                "mean_reward": round(float(values["mean_reward"][picked].mean()), 6),
                "pass@1": round(float(values["pass@1"][picked].mean()), 6),
            }
            if n > 1:
                row[f"pass@{n}"] = round(float(values[f"pass@{n}"][picked].mean()), 6)
            if maj:
                row[f"maj@{n}"] = round(float(values[f"maj@{n}"][picked].mean()), 6)
            table[value] = row
        breakdown[key] = table
    return breakdown


def summarize(
    plan: Mapping[str, Any], records: Iterable[Mapping[str, Any]], *, ci: str = "bootstrap"
) -> dict[str, Any]:
    """The summary of a run: every entry, the skipped ones, and macro averages."""
    records = list(records)
    seed = int(plan.get("seed", 0))
    environments: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for entry in plan["entries"]:
        if entry.get("skipped"):
            skipped[entry["label"]] = entry["skipped"]
            continue
        environments[entry["label"]] = summarize_entry(entry, records, ci=ci, seed=seed)
    scored = [e for e in environments.values() if "mean_reward" in e]
    overall: dict[str, Any] = {}
    if scored:
        overall = {
            "mean_reward": round(float(np.mean([e["mean_reward"] for e in scored])), 6),
            "pass@1": round(float(np.mean([e["pass_at_k"]["1"] for e in scored])), 6),
            "num_samples": int(sum(e["num_samples"] for e in scored)),
        }
    return {
        "suite": plan["suite"],
        "agent": plan["agent"],
        "seed": seed,
        "complete": all(e.get("complete") for e in environments.values()),
        "overall": overall,
        "environments": environments,
        "skipped": skipped,
    }


def timing(records: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Time spent generating and verifying, summed over samples (not reproducible run to run)."""
    gen = ver = 0.0
    count = 0
    for record in records:
        gen += float(record.get("generate_s", 0.0))
        ver += float(record.get("verify_s", 0.0))
        count += 1
    return {
        "generate_s": round(gen, 3),
        "verify_s": round(ver, 3),
        "verify_ms_per_sample": round(1000 * ver / count, 3) if count else math.nan,
    }
