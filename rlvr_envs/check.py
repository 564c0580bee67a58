"""``rlvr-envs check``: run reference solutions and known-wrong answers through each verifier.

A reference solution that fails means a broken task or a verifier that rejects correct answers; a
known-wrong answer that passes means a verifier a policy could exploit. Either shows up here.
Besides each environment's own known-wrong answers, every task that has an answer to compute and an
expression in its question is also answered with that expression itself (``\\boxed{3 + 5}`` for
"What is 3 + 5?"): an echo is not an answer. Each environment also gets the trivial-completion
family of :mod:`rlvr_envs.trivial` (empty, ``{}``, the prompt echoed, another task's answer...):
any payout that is not the task's true answer is a failure line.
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
from .trivial import probe_environment
from .verifiers.math import restates_answer
from .verifiers.math.spans import math_spans

TRIVIAL_TASKS = 4  # tasks per environment fed the trivial family


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
    trivial_tried: int = 0  # trivial completions fed (rlvr_envs.trivial)
    trivial_paid: int = 0  # ... of which earned a reward without being the true answer, or crashed
    trivial_names: list[str] = field(default_factory=list)  # the kinds that were paid

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


def question_echo(task: Task) -> str | None:
    """A completion that answers with the question's own expression, or None when there is none.

    The expression is ``metadata["expression"]`` or the last LaTeX math span of the prompt; tasks
    whose answer is not a value (tests, instructions) and expressions that are the answer already
    ("What is $\\sqrt{53}$ in simplest radical form?") get none.
    """
    if not isinstance(task.answer, (str, int, float)) or isinstance(task.answer, bool):
        return None
    expression = task.metadata.get("expression")
    if not isinstance(expression, str):
        spans = math_spans(task.prompt) if isinstance(task.prompt, str) else []
        expression = spans[-1][2] if spans else None
    if not expression or restates_answer(expression, str(task.answer)):
        return None
    return f"The answer is $\\boxed{{{expression}}}$."


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
    """Verify every reference solution (up to ``limit`` tasks), known-wrong answers and the
    trivial-completion family."""
    result = CheckResult(env_id)
    try:
        env = gym.make(env_id, **env_kwargs).unwrapped
    except Exception as error:  # data not available offline, missing extra, ...
        result.skipped = f"could not make it: {type(error).__name__}: {error}"
        result.unavailable = True
        return result
    try:
        _check_references(result, env, limit, seed, max_failures, workers)
    finally:
        env.close()
    _check_trivial(result, seed, max_failures, env_kwargs)
    return result


def _check_references(
    result: CheckResult,
    env: gym.Env,
    limit: int | None,
    seed: int,
    max_failures: int,
    workers: int,
) -> None:
    """Run reference solutions and known-wrong answers through ``env``'s verifier."""
    if not isinstance(env, TextEnv):
        result.skipped = f"not a TextEnv ({type(env).__name__})"
        return
    tasks = with_solver_references(env, _tasks(env, limit, seed))
    tasks = [t for t in tasks if t.solution is not None]
    if not tasks:
        result.skipped = "no reference solutions"
        return
    rng = np.random.default_rng(seed)
    wrongs = [env.perturb(task, rng) if env.perturb else [] for task in tasks]
    for task, wrong in zip(tasks, wrongs):
        echo = question_echo(task)
        if echo is not None:
            wrong.append(echo)

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


def _check_trivial(
    result: CheckResult, seed: int, max_failures: int, env_kwargs: dict[str, Any]
) -> None:
    """Add the trivial-completion family's payouts to ``result``."""
    probe = probe_environment(
        result.env_id, tasks=TRIVIAL_TASKS, seed=seed, max_failures=max_failures, **env_kwargs
    )
    result.trivial_tried = probe.tried
    result.trivial_paid = probe.paid_count + probe.crashes
    result.trivial_names = list(probe.paid)
    result.failures += probe.failures[: max(0, max_failures - len(result.failures))]
    if probe.skipped:
        result.failures.append(f"trivial completions not checked: {probe.skipped}")


def latest_versions(env_ids: Iterable[str]) -> list[str]:
    """Only the newest version of each environment (older ones keep the grading they had)."""
    newest: dict[tuple[str | None, str], tuple[int, str]] = {}
    for env_id in env_ids:
        namespace, name, version = gym.envs.registration.parse_env_id(env_id)
        key = (namespace, name)
        if key not in newest or (version or 0) > newest[key][0]:
            newest[key] = (version or 0, env_id)
    return sorted(env_id for _, env_id in newest.values())


def format_table(results: Sequence[CheckResult]) -> str:
    """The results as an aligned text table."""
    header = ("environment", "tasks", "reference pass", "wrong rejected", "verif/s", "trivial paid")
    rows = []
    for r in results:
        trivial = f"{r.trivial_paid} of {r.trivial_tried}" if r.trivial_tried else "-"
        if r.skipped:
            rows.append((r.env_id, "-", "skipped", r.skipped[:60], "-", trivial))
            continue
        rejected = f"{r.reject_rate:.1%} of {r.wrong_checked}" if r.wrong_checked else "n/a"
        rows.append(
            (
                r.env_id,
                str(r.tasks_checked),
                f"{r.reference_rate:.1%}",
                rejected,
                f"{r.verifications_per_s:,.0f}",
                trivial,
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
    ids = list(env_ids) if env_ids else latest_versions([info.id for info in list_envs()])
    results = []
    for env_id in ids:
        result = check_environment(env_id, limit=limit, seed=seed)
        results.append(result)
        print(f"checked {env_id}", file=sys.stderr)
    print(format_table(results), file=out)
    status = 0
    for r in results:
        if r.trivial_paid:
            status = 1
            print(
                f"\nFAIL {r.env_id}: {r.trivial_paid} of {r.trivial_tried} trivial completions "
                "earned a reward without being the true answer (or crashed): "
                + (", ".join(r.trivial_names) or "crashes"),
                file=out,
            )
            for failure in r.failures:
                if failure.startswith("trivial completion"):
                    print(f"  - {failure}", file=out)
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
