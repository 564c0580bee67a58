"""Comparing two runs: per-environment differences of the headline metrics, with intervals.

Differences are computed from the runs' samples, per task. When both runs scored the same tasks
(the usual case: same suite, same task seeds), the interval is a paired one over the shared tasks,
which is much tighter than treating the runs as independent; otherwise it is unpaired.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .metrics import paired_difference_interval
from .report import table
from .store import SAMPLES_FILE, read_records
from .summary import group_tasks, per_task_metrics


@dataclass
class Run:
    """A finished (or partial) run read back from its output directory."""

    directory: Path
    plan: dict[str, Any]
    records: list[dict[str, Any]]

    @property
    def name(self) -> str:
        """How the run is named in tables: its directory."""
        return self.directory.name or str(self.directory)

    def entries(self) -> dict[str, dict[str, Any]]:
        """The run's scored entries by label."""
        return {e["label"]: e for e in self.plan["entries"] if not e.get("skipped")}


def load_run(path: str | os.PathLike) -> Run:
    """A run from its directory (or from a file inside it, such as summary.json)."""
    path = Path(path)
    directory = path.parent if path.is_file() else path
    plan_path = directory / "plan.json"
    if not plan_path.is_file():
        raise FileNotFoundError(f"{directory} is not an evaluation run directory (no plan.json)")
    plan = json.loads(plan_path.read_text(encoding="utf-8"))
    return Run(directory, plan, read_records(directory / SAMPLES_FILE))


def _match_entries(a: Run, b: Run) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    ea, eb = a.entries(), b.entries()
    pairs = [(label, ea[label], eb[label]) for label in ea if label in eb]
    # Entries named differently but on the same environment still pair up when unambiguous.
    left = {e["env"]: e for label, e in ea.items() if label not in eb}
    right = {e["env"]: e for label, e in eb.items() if label not in ea}
    for env_id in left.keys() & right.keys():
        pairs.append((env_id, left[env_id], right[env_id]))
    return pairs


def compare_runs(
    run_a: str | os.PathLike | Run,
    run_b: str | os.PathLike | Run,
    *,
    ci: str = "bootstrap",
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One row per (environment, metric): both values, ``B - A`` and its 95% interval."""
    a = run_a if isinstance(run_a, Run) else load_run(run_a)
    b = run_b if isinstance(run_b, Run) else load_run(run_b)
    rows = []
    for label, entry_a, entry_b in _match_entries(a, b):
        tasks_a = {t.task_id: t for t in group_tasks(entry_a, a.records)}
        tasks_b = {t.task_id: t for t in group_tasks(entry_b, b.records)}
        if not tasks_a or not tasks_b:
            continue
        shared = [t for t in tasks_a if t in tasks_b]
        paired = bool(shared)
        chosen_a = [tasks_a[t] for t in shared] if paired else list(tasks_a.values())
        chosen_b = [tasks_b[t] for t in shared] if paired else list(tasks_b.values())
        n = min(min(t.n for t in chosen_a), min(t.n for t in chosen_b))
        ks = sorted({1, n})
        maj_ks = [n] if entry_a.get("maj") and entry_b.get("maj") else []
        values_a = per_task_metrics(chosen_a, ks, maj_ks)
        values_b = per_task_metrics(chosen_b, ks, maj_ks)
        for metric in values_a:
            diff, low, high = paired_difference_interval(
                values_a[metric], values_b[metric], paired=paired, method=ci, seed=seed
            )
            rows.append(
                {
                    "environment": label,
                    "metric": metric,
                    "a": float(values_a[metric].mean()),
                    "b": float(values_b[metric].mean()),
                    "diff": diff,
                    "ci": [low, high],
                    "paired": paired,
                    "tasks": len(shared) if paired else f"{len(chosen_a)}/{len(chosen_b)}",
                }
            )
    return rows


def comparison_table(rows: list[Mapping[str, Any]], name_a: str = "A", name_b: str = "B") -> str:
    """The comparison as a Markdown table (percentage points; * marks an interval without 0)."""
    if not rows:
        return "No environment appears in both runs."
    body = []
    for row in rows:
        low, high = row["ci"]
        significant = not (math.isnan(low) or low <= 0 <= high)
        body.append(
            [
                f"`{row['environment']}`",
                row["metric"],
                f"{100 * row['a']:.1f}",
                f"{100 * row['b']:.1f}",
                f"{100 * row['diff']:+.1f}{' *' if significant else ''}",
                f"[{100 * low:+.1f}, {100 * high:+.1f}]",
                f"{row['tasks']}{'' if row['paired'] else ' (unpaired)'}",
            ]
        )
    header = ["environment", "metric", name_a, name_b, "B - A", "95% CI", "tasks"]
    note = (
        "\n\nValues in percent, differences in percentage points; * marks a difference whose "
        "interval excludes 0."
    )
    return table(header, body) + note
