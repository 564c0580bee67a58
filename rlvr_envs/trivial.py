"""Trivial and degenerate completions: what a policy under RL tries first, run through any env.

:func:`trivial_completions` is the family: nothing, whitespace, a lone number or symbol, ``{}``,
empty code blocks, the prompt echoed (plain, inside ``\\boxed{}``, inside answer tags), only the
instructions restated, the prompt followed by its own words said over and over (keyword
stuffing), a 1 MB repetition of the prompt, and another task's reference answer.
:func:`probe_environment` feeds each of them to a registered environment through ``reset`` /
``step`` (multi-turn episodes run to their end, so a payout on a later turn counts) and reports
every payout that is not the task's true answer (a math task whose answer is 0 may pay "0"). It
is what ``tests/test_trivial_completions.py`` runs over every registered environment and what
``rlvr-envs check`` adds to each environment's check.

An environment whose factory takes ``for_training`` (an evaluation benchmark that keeps the
published scoring by default, such as ``rlvr/IFEval-v0``) is probed in its training mode.
"""

from __future__ import annotations

import inspect
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from .tasks import Task

ONE_MEGABYTE = 1 << 20
MAX_TURNS = 4  # steps fed to a multi-turn episode before giving up on it ending


@dataclass(frozen=True)
class TrivialCompletion:
    """One degenerate completion; ``source`` is the task whose reference it is, if any."""

    name: str
    text: str
    source: Task | None = None


def instructions_only(task: Task) -> str | None:
    """The task's instructions without its request: IFEval-style instructions worded as in a
    prompt, else the prompt after its first sentence; None when there is nothing after it."""
    answer = task.answer
    if isinstance(answer, Mapping) and "instruction_id_list" in answer:
        from .verifiers.ifeval import InstructionError, describe

        parts = []
        for iid, kwargs in zip(answer["instruction_id_list"], answer.get("kwargs") or []):
            try:
                parts.append(describe(iid, kwargs))
            except InstructionError:
                continue
        return " ".join(parts) or None
    rest = re.split(r"(?<=[.?!])\s+", task.prompt.strip(), maxsplit=1)
    return rest[1] if len(rest) == 2 and rest[1].strip() else None


def trivial_completions(task: Task, other: Task | None = None) -> list[TrivialCompletion]:
    """The family for ``task``; ``other`` (another task of the same environment) adds its
    reference answer."""
    prompt = task.prompt
    family = [
        TrivialCompletion("empty", ""),
        TrivialCompletion("whitespace", " \n\t \n"),
        TrivialCompletion("zero", "0"),
        TrivialCompletion("one", "1"),
        TrivialCompletion("symbol", "."),
        TrivialCompletion("{}", "{}"),
        TrivialCompletion("empty code", "```\n```"),
        TrivialCompletion("empty python", "```python\n\n```"),
        TrivialCompletion("echo", prompt),
        TrivialCompletion("echo boxed", f"\\boxed{{{prompt}}}"),
        TrivialCompletion("echo tags", f"<answer>{prompt}</answer>"),
    ]
    instructions = instructions_only(task)
    if instructions:
        family.append(TrivialCompletion("instructions", instructions))
    salad = re.findall(r"[^\W\d_]{4,}", prompt)[:8]
    if salad:
        repeated = " ".join(salad * (100 // len(salad) + 1))
        family.append(TrivialCompletion("word salad", prompt + "\n" + repeated))
    unit = prompt.strip() + "\n" if prompt.strip() else "answer "
    family.append(
        TrivialCompletion("1MB repeat", (unit * (ONE_MEGABYTE // len(unit) + 1))[:ONE_MEGABYTE])
    )
    if other is not None:
        reference = other.solution if other.solution is not None else _answer_text(other.answer)
        if reference is not None:
            family.append(TrivialCompletion("other task", reference, source=other))
    return family


FAMILY_NAMES = (
    "empty", "whitespace", "zero", "one", "symbol", "{}", "empty code", "empty python", "echo",
    "echo boxed", "echo tags", "instructions", "word salad", "1MB repeat", "other task",
)  # fmt: skip


def _answer_text(answer: Any) -> str | None:
    if isinstance(answer, bool) or answer is None:
        return None
    if isinstance(answer, (str, int, float)):
        return str(answer)
    return None


def _normalised(text: str) -> str:
    text = text.strip()
    boxed = re.fullmatch(r"\\boxed\{(.*)\}", text, re.S)
    if boxed:
        text = boxed.group(1)
    return " ".join(text.strip("$ ").casefold().split())


def is_true_answer(completion: TrivialCompletion, task: Task) -> bool:
    """True when the completion is the task's own answer (another task with the same expected
    answer, or a literal such as "0" equal to it)."""
    if completion.source is not None:
        same = completion.source.answer == task.answer
        return same and completion.source.answer is not None
    expected = _answer_text(task.answer)
    return expected is not None and _normalised(completion.text) == _normalised(expected)


@dataclass
class TrivialProbe:
    """What one environment paid for the trivial family."""

    env_id: str
    mode: str = ""  # how the environment was made, e.g. "for_training=True"
    tasks: int = 0
    tried: int = 0
    paid: dict[str, float] = field(default_factory=dict)  # name -> reward paid, not exempt
    paid_count: int = 0  # completions paid without being the true answer
    crashes: int = 0  # completions on which reset/step raised
    exempt: int = 0  # payouts that were the task's true answer
    failures: list[str] = field(default_factory=list)
    skipped: str | None = None
    unavailable: bool = False  # could not be made (data or an extra missing)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when nothing was paid and nothing crashed."""
        return self.paid_count == 0 and self.crashes == 0


def training_kwargs(env_id: str) -> dict[str, Any]:
    """``{"for_training": True}`` when the environment's factory takes that option."""
    try:
        creator = gym.envs.registration.load_env_creator(gym.spec(env_id).entry_point)
        parameters = inspect.signature(creator).parameters
    except Exception:  # an entry point that cannot be inspected: make it as it is
        return {}
    return {"for_training": True} if "for_training" in parameters else {}


def _episode_return(env: gym.Env, seed: int, text: str) -> float:
    """Total reward of one episode answered with ``text`` at every turn."""
    env.reset(seed=seed)
    total = 0.0
    for _ in range(MAX_TURNS):
        _, reward, terminated, truncated, _ = env.step(text)
        total += float(reward)
        if terminated or truncated:
            break
    return total


def _probe_tasks(env: gym.Env, seeds: Sequence[int]) -> list[Task | None]:
    tasks = []
    for seed in seeds:
        env.reset(seed=seed)
        task = getattr(env.unwrapped, "task", None)
        tasks.append(task if isinstance(task, Task) else None)
    return tasks


def probe_environment(
    env_id: str,
    *,
    tasks: int = 2,
    seed: int = 0,
    max_failures: int = 5,
    make: Callable[..., gym.Env] = gym.make,
    **env_kwargs: Any,
) -> TrivialProbe:
    """Feed the trivial family to ``tasks`` tasks of ``env_id`` and record every payout."""
    kwargs = {**training_kwargs(env_id), **env_kwargs}
    probe = TrivialProbe(env_id, mode=", ".join(f"{k}={v}" for k, v in kwargs.items()))
    start = time.perf_counter()
    try:
        env = make(env_id, **kwargs)
    except Exception as error:  # data not available offline, a missing extra ...
        probe.skipped = f"could not make it: {type(error).__name__}: {error}"
        probe.unavailable = True
        return probe
    try:
        seeds = [seed + i for i in range(tasks + 1)]  # the last one only lends its reference
        found = _probe_tasks(env, seeds)
        for index, task_seed in enumerate(seeds[:tasks]):
            task = found[index]
            probe.tasks += 1
            if task is None:
                family = trivial_completions(Task(id="?", prompt=""), None)
            else:
                family = trivial_completions(task, found[index + 1])
            for completion in family:
                _judge(probe, env, task_seed, task, completion, max_failures)
    finally:
        env.close()
        probe.seconds = time.perf_counter() - start
    return probe


def _judge(
    probe: TrivialProbe,
    env: gym.Env,
    seed: int,
    task: Task | None,
    completion: TrivialCompletion,
    max_failures: int,
) -> None:
    probe.tried += 1
    task_id = task.id if task is not None else f"seed {seed}"
    try:
        paid = _episode_return(env, seed, completion.text)
    except Exception as error:  # a crash on a degenerate completion is a failure too
        probe.crashes += 1
        probe.failures.append(
            f"trivial completion {completion.name!r} crashed on {task_id}: "
            f"{type(error).__name__}: {error}"
        )
        return
    if paid == 0.0:
        return
    if task is not None and is_true_answer(completion, task):
        probe.exempt += 1
        return
    probe.paid[completion.name] = probe.paid.get(completion.name, 0.0) + paid
    probe.paid_count += 1
    if len(probe.failures) < max_failures:
        probe.failures.append(
            f"trivial completion {completion.name!r} ({completion.text[:40]!r}) paid {paid:g} "
            f"on {task_id}"
        )


def format_payouts(probes: Iterable[TrivialProbe]) -> str:
    """An aligned table: one row per environment, the reward each completion earned."""
    header = ("environment", "mode", "tasks", *FAMILY_NAMES, "exempt", "s")
    rows = []
    for p in probes:
        if p.skipped:
            rows.append((p.env_id, p.mode or "-", "-", f"skipped: {p.skipped[:70]}"))
            continue
        cells = [f"{p.paid.get(name, 0.0):g}" for name in FAMILY_NAMES]
        rows.append(
            (p.env_id, p.mode or "-", str(p.tasks), *cells, str(p.exempt), f"{p.seconds:.1f}")
        )
    full = [r for r in rows if len(r) == len(header)]
    widths = [max(len(r[i]) for r in [header, *full]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        if len(row) == len(header):
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
        else:
            lines.append("  ".join(row))
    return "\n".join(lines)
