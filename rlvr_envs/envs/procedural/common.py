"""Plumbing shared by the native procedural families: answer formats, difficulty presets, the
reference-free verifier and the environment factory.

A family is plain data (:class:`Family`): a frozen dataclass of difficulty knobs with ``level``
presets, a seeded generator, a checker that judges an extracted answer against the task's own data
(never against a stored reference answer), a solver and a known-wrong perturbation. The solver
serves ``rlvr-envs check`` and the tests only: the verifier never calls it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...env import TextEnv
from ...tasks import ProceduralSource, Task
from ...verdict import Status, Verdict
from ...verifiers.math.extract import extract_answer_tag, extract_boxed, strip_thinking

ANSWER_FORMATS = ("tags", "boxed")
# Every family's answer is short (a grid, a path, an expression); anything longer is not an answer.
MAX_ANSWER_CHARS = 10_000

_INSTRUCTIONS = {
    "tags": "Put only your final answer between <answer> and </answer> tags.",
    "boxed": "Put only your final answer inside \\boxed{}.",
}


def check_answer_format(answer_format: str) -> None:
    """Raise ValueError unless ``answer_format`` is one of :data:`ANSWER_FORMATS`."""
    if answer_format not in ANSWER_FORMATS:
        raise ValueError(f"answer_format must be one of {ANSWER_FORMATS}, got {answer_format!r}")


def answer_instruction(answer_format: str) -> str:
    """The sentence a prompt ends with, telling the model where its final answer goes."""
    check_answer_format(answer_format)
    return _INSTRUCTIONS[answer_format]


def wrap_answer(answer: str, answer_format: str) -> str:
    """A completion that states ``answer`` in ``answer_format`` (for references and tests)."""
    if answer_format == "boxed":
        return f"\\boxed{{{answer}}}"
    return f"<answer>{answer}</answer>"


def extract_final_answer(
    completion: str, answer_format: str, *, max_chars: int = MAX_ANSWER_CHARS
) -> str | Verdict:
    """The answer text of ``completion``, or the verdict that ends grading (none / too long).

    Extraction runs in time linear in the completion (``rfind`` and one brace scan), so a hostile
    completion cannot stall it; only the part after a closing ``</think>`` is read.
    """
    text = strip_thinking(completion)
    if answer_format == "boxed":
        found = extract_boxed(text)
        if found is not None and len(found.parts) > 1:
            return Verdict.make(
                Status.WRONG,
                f"{len(found.parts)} adjacent \\boxed{{}} answers: give one answer",
                extracted=found.answer[:200],
            )
        where = "\\boxed{}"
    else:
        found = extract_answer_tag(text)
        where = "<answer></answer> tags"
    if found is None or not found.answer.strip():
        return Verdict.make(Status.NO_ANSWER, f"no answer in {where}")
    lowered = found.answer.lower()
    if "<answer>" in lowered or "</answer>" in lowered:
        # Nested tags leave a stray tag in the answer, and lenient scorers drop the item it is
        # glued to: "<answer>0.0<answer>0.0, 1.5</answer></answer>" was read as "0.0".
        return Verdict.make(
            Status.WRONG,
            "answer tags inside the answer: give one answer",
            extracted=found.answer[:200],
        )
    if len(found.answer) > max_chars:
        return Verdict.make(
            Status.INVALID_INPUT,
            f"the answer has {len(found.answer)} characters, over the limit of {max_chars}",
        )
    return found.answer.strip()


def python_random(rng: np.random.Generator) -> random.Random:
    """A ``random.Random`` seeded from ``rng``: much cheaper per draw than numpy scalars."""
    return random.Random(int(rng.integers(0, 2**62)))


@dataclass(frozen=True)
class Family:
    """One procedural task family: its knobs, presets, generator, checker, solver, perturbation."""

    name: str
    params: type  # a frozen dataclass of difficulty knobs, with a validate() method
    levels: Mapping[int, Mapping[str, Any]]  # level -> knob values (a full set for each level)
    default_level: int
    generate: Callable[[random.Random, Any], Task]  # (rng, params) -> task without an id
    check: Callable[[str, Task], Verdict]  # (extracted answer, task) -> verdict
    solve: Callable[[Task], str]  # task -> answer text; for rlvr-envs check and tests only
    perturb: Callable[[Task, str, random.Random], list[str]]  # known-wrong answer texts

    @property
    def knobs(self) -> tuple[str, ...]:
        """The names of the difficulty parameters ``gym.make`` accepts besides ``level``."""
        return tuple(f.name for f in dataclasses.fields(self.params))

    def resolve(self, level: int | None, overrides: Mapping[str, Any]) -> tuple[Any, str]:
        """The knob values for ``level`` with ``overrides`` applied, and a label for task ids."""
        if level is None:
            level = self.default_level
        if level not in self.levels:
            raise ValueError(
                f"{self.name}: level must be one of {sorted(self.levels)}, got {level!r}"
            )
        params = self.params(**{**self.levels[level], **overrides})
        params.validate()
        if not overrides:
            return params, f"L{level}"
        digest = hashlib.sha256(repr(params).encode()).hexdigest()[:10]
        return params, f"L{level}-{digest}"


class FamilySource(ProceduralSource):
    """A family's seeded tasks, plus ``solve`` for ``rlvr-envs check`` (never the verifier)."""

    def __init__(self, family: Family, params: Any, label: str, answer_format: str) -> None:
        def generate(rng: np.random.Generator) -> Task:
            return family.generate(python_random(rng), params)

        super().__init__(generate, name=family.name, params=label)
        self.family = family
        self.params = params
        self.answer_format = answer_format

    def solve(self, task: Task) -> str:
        """A reference completion found by the family's solver."""
        return wrap_answer(self.family.solve(task), self.answer_format)


class FamilyVerifier:
    """Extract the final answer in the env's format, then let the family's checker judge it."""

    def __init__(self, family: Family, answer_format: str) -> None:
        check_answer_format(answer_format)
        self.family = family
        self.answer_format = answer_format

    def __call__(self, completion: str, task: Task) -> Verdict:
        start = time.perf_counter()
        answer = extract_final_answer(completion, self.answer_format)
        if isinstance(answer, Verdict):
            return answer.replace(elapsed_s=time.perf_counter() - start)
        verdict = self.family.check(answer, task)
        # One copy that adds both: the environment would otherwise copy again to add the time.
        return verdict.replace(
            extracted=answer[:200] if verdict.extracted is None else verdict.extracted,
            elapsed_s=time.perf_counter() - start,
        )

    def __repr__(self) -> str:
        return f"FamilyVerifier({self.family.name!r}, {self.answer_format!r})"


def _perturber(family: Family, source: FamilySource) -> Callable[[Task, np.random.Generator], list]:
    def perturb(task: Task, rng: np.random.Generator) -> list[str]:
        completion = task.solution if task.solution is not None else source.solve(task)
        answer = extract_final_answer(completion, source.answer_format)
        if isinstance(answer, Verdict):
            return []
        wrongs = family.perturb(task, answer, python_random(rng))
        return [wrap_answer(w, source.answer_format) for w in wrongs]

    return perturb


def family_env(
    family: Family,
    *,
    level: int | None = None,
    answer_format: str = "tags",
    template: str | None = None,
    **kwargs: Any,
) -> TextEnv:
    """A :class:`TextEnv` over ``family``: ``level`` picks a preset, knob keywords override it."""
    check_answer_format(answer_format)
    overrides = {name: kwargs.pop(name) for name in family.knobs if name in kwargs}
    params, label = family.resolve(level, overrides)
    source = FamilySource(family, params, label, answer_format)
    if template is None:
        template = "{prompt}\n\n" + answer_instruction(answer_format)
    kwargs.setdefault("perturb", _perturber(family, source))
    kwargs.setdefault("reward_name", family.name)
    return TextEnv(source, FamilyVerifier(family, answer_format), template=template, **kwargs)


def wrong(reason: str, **fields: Any) -> Verdict:
    """A ``wrong`` verdict with a reason (the checkers' one way of saying no)."""
    return Verdict.make(Status.WRONG, reason, **fields)


def correct(reason: str, **fields: Any) -> Verdict:
    """A ``correct`` verdict with a reason."""
    return Verdict.make(Status.CORRECT, reason, **fields)
