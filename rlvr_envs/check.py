"""``rlvr-envs check``: run reference solutions and known-wrong answers through each verifier.

A reference solution that fails means a broken task or a verifier that rejects correct answers; a
known-wrong answer that passes means a verifier a policy could exploit. Either shows up here.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TextIO

import gymnasium as gym
import numpy as np

from .env import TextEnv
from .registry import list_envs
from .tasks import DatasetSource, Task, take_tasks


@dataclass
class CheckResult:
    """The outcome of checking one environment's verifier against its references."""

    env_id: str
    tasks_checked: int = 0
    references_passed: int = 0
    wrong_checked: int = 0
    wrong_rejected: int = 0
    verify_seconds: float = 0.0
    skipped: str | None = None  # why the environment was not checked
    unavailable: bool = False  # skipped because it could not be made (data, extras missing)
    failures: list[str] = field(default_factory=list)  # a few examples of what went wrong

    @property
    def reference_rate(self) -> float:
        """Fraction of reference solutions that earned full reward."""
        return self.references_passed / self.tasks_checked if self.tasks_checked else float("nan")

    @property
    def reject_rate(self) -> float:
        """Fraction of known-wrong answers that earned zero reward."""
        return self.wrong_rejected / self.wrong_checked if self.wrong_checked else float("nan")

    @property
    def verifications_per_s(self) -> float:
        """Verifier calls per second of wall time."""
        calls = self.tasks_checked + self.wrong_checked
        return calls / self.verify_seconds if self.verify_seconds else float("nan")


def _tasks(env: TextEnv, limit: int | None, seed: int) -> list[Task]:
    source = env.source
    if isinstance(source, DatasetSource):
        return source.tasks if limit is None else source.tasks[:limit]
    return take_tasks(source, limit or 200, seed=seed)


def with_solver_references(env: TextEnv, tasks: list[Task]) -> list[Task]:
    """Tasks whose source has a solver (procedural families) get the solver's completion.

    Reference-free families keep no reference in their tasks; their solver is used here (and
    in tests), never by the verifier.
    """
    solve = getattr(env.source, "solve", None)
    if solve is None:
        return tasks
    return [
        t if t.solution is not None else dataclasses.replace(t, solution=solve(t)) for t in tasks
    ]


def check_environment(
    env_id: str,
    *,
    limit: int | None = None,
    seed: int = 0,
    max_failures: int = 5,
    workers: int = 8,
    **env_kwargs: Any,
) -> CheckResult:
    """Verify every reference solution (up to ``limit`` tasks) and known-wrong answers."""
    result = CheckResult(env_id)
    try:
        env = gym.make(env_id, **env_kwargs).unwrapped
    except Exception as error:  # data not available offline, missing extra, ...
        result.skipped = f"could not make it: {type(error).__name__}: {error}"
        result.unavailable = True
        return result
    if not isinstance(env, TextEnv):
        result.skipped = f"not a TextEnv ({type(env).__name__})"
        return result
    tasks = with_solver_references(env, _tasks(env, limit, seed))
    tasks = [t for t in tasks if t.solution is not None]
    if not tasks:
        result.skipped = "no reference solutions"
        return result
    rng = np.random.default_rng(seed)
    wrongs = [env.perturb(task, rng) if env.perturb else [] for task in tasks]

    def judge(index: int) -> tuple[Any, list[Any]]:
        task = tasks[index]
        return env.verify(task.solution, task), [env.verify(w, task) for w in wrongs[index]]

    # Threads help where verification waits (a sandbox running code); verifiers that only
    # compute are no slower for it.
    start = time.perf_counter()
    with ThreadPoolExecutor(max(1, workers)) as pool:
        outcomes = list(pool.map(judge, range(len(tasks))))
    result.verify_seconds = time.perf_counter() - start
    for task, wrong, (verdict, wrong_verdicts) in zip(tasks, wrongs, outcomes):
        result.tasks_checked += 1
        if verdict.reward >= 1.0:
            result.references_passed += 1
        elif len(result.failures) < max_failures:
            result.failures.append(
                f"reference of {task.id} scored {verdict.reward:g} ({verdict.status.value}: "
                f"{verdict.reason}; extracted {verdict.extracted!r}, expected {verdict.expected!r})"
            )
        for completion, wrong_verdict in zip(wrong, wrong_verdicts):
            result.wrong_checked += 1
            if wrong_verdict.reward == 0.0:
                result.wrong_rejected += 1
            elif len(result.failures) < max_failures:
                result.failures.append(
                    f"known-wrong answer {completion[-60:]!r} to {task.id} scored "
                    f"{wrong_verdict.reward:g}"
                )
    env.close()
    return result


def format_table(results: Sequence[CheckResult]) -> str:
    """The results as an aligned text table."""
    header = ("environment", "tasks", "reference pass", "wrong rejected", "verif/s")
    rows = []
    for r in results:
        if r.skipped:
            rows.append((r.env_id, "-", "skipped", r.skipped[:60], "-"))
            continue
        rejected = f"{r.reject_rate:.1%} of {r.wrong_checked}" if r.wrong_checked else "n/a"
        rows.append(
            (
                r.env_id,
                str(r.tasks_checked),
                f"{r.reference_rate:.1%}",
                rejected,
                f"{r.verifications_per_s:,.0f}",
            )
        )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def run_check(
    env_ids: Iterable[str] | None = None,
    *,
    limit: int | None = None,
    threshold: float = 0.99,
    seed: int = 0,
    out: TextIO = sys.stdout,
) -> int:
    """Check environments, print the table, return an exit status (1 if any fell short)."""
    explicit = bool(env_ids)
    ids = list(env_ids) if env_ids else [info.id for info in list_envs()]
    results = []
    for env_id in ids:
        result = check_environment(env_id, limit=limit, seed=seed)
        results.append(result)
        print(f"checked {env_id}", file=sys.stderr)
    print(format_table(results), file=out)
    status = 0
    for r in results:
        if r.skipped:
            if explicit and r.unavailable:
                status = 1
                print(f"\nFAIL {r.env_id}: {r.skipped}", file=out)
            continue
        if r.reference_rate < threshold or (r.wrong_checked and r.reject_rate < 1.0):
            status = 1
            print(
                f"\nFAIL {r.env_id}: reference pass rate {r.reference_rate:.2%} "
                f"(threshold {threshold:.0%}), wrong-answer reject rate {r.reject_rate:.2%}",
                file=out,
            )
            for failure in r.failures:
                print(f"  - {failure}", file=out)
    return status
