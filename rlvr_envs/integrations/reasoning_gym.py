"""reasoning-gym's generators as environments: ``rlvr/rg-<name>-v0``.

Every generator of the installed ``reasoning_gym`` package (``pip install 'rlvr-envs[rg]'``) that
works offline and whose scorer holds up is registered; :data:`UNAVAILABLE` lists the others with
the reason. ``gym.make("rlvr/rg-chain_sum-v0", min_terms=3, max_terms=5)`` passes the generator's
own config fields through (``seed`` and ``size`` included: task ``i`` of the env is item ``i`` of
the dataset ``create_dataset(name, seed=seed, size=size)``, so the same seed gives the same task).

The prompt is the generator's question followed by where to put the answer (``<answer>`` tags by
default, ``answer_format="boxed"`` for ``\\boxed{}``); the verifier extracts the answer from there
and runs the generator's ``score_answer`` behind the defences of :mod:`.rg_scoring`. A score of 1
is ``correct`` with reward 1; anything less is ``wrong`` with reward 0 (reasoning-gym's partial
credit pays for substrings and hedges; ``partial_credit=True`` passes its score through as the
reward instead). ``info["verdict"]["details"]["rg_score"]`` always holds the raw score.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..env import TextEnv
from ..envs.procedural.common import (
    answer_instruction,
    check_answer_format,
    extract_final_answer,
    wrap_answer,
)
from ..tasks import ProceduralSource, Task
from ..verdict import Status, Verdict
from ..verifiers.math.extract import strip_thinking
from .rg_catalog import GENERATORS, REGISTERED, RG_VERSION, UNAVAILABLE, env_id
from .rg_checks import STRICTER
from .rg_scoring import GUARDS, ScorerFailed, ScorerUnavailable, ScoreTimeout, scorer_pool

__all__ = [
    "GENERATORS",
    "REGISTERED",
    "RG_VERSION",
    "UNAVAILABLE",
    "ReasoningGymSource",
    "ReasoningGymVerifier",
    "env_id",
    "reasoning_gym_env",
]

# Generators whose answer is None: a reference answer is in the metadata (JSON-encoded when not a
# string), or there is none and ``rlvr-envs check`` can only skip them.
REFERENCE_IN_METADATA = {
    "graph_color": "possible_answer",
    "rubiks_cube": "example_correct_answer",
}
NO_REFERENCE = frozenset({"boxnet", "rush_hour"})

# Guards of .rg_scoring, for the scorers that eval the answer, parse any digit string exactly, read
# NaN as a number or loop as often as a number in the answer says.
GUARDED = {
    "binary_matrix": "literal",
    "n_queens": "literal",
    "spiral_matrix": "literal",
    "string_insertion": "literal",
    "coin_flip": "number",
    "complex_arithmetic": "complex",
    "countdown": "arithmetic",
    "puzzle24": "arithmetic",
    "simple_integration": "expression",
    "rubiks_cube": "small_counts",
    "rush_hour": "small_counts",
}
# Scorers that do sympy arithmetic on the answer: they run in a worker process with a time limit.
ISOLATED = frozenset({"countdown", "puzzle24", "simple_integration"})
# Scorers that validate a solution rather than compare it with one answer: another task's answer
# may be right here too, so ``rlvr-envs check`` only feeds them answers that fit no task.
MULTI_SOLUTION = frozenset(
    """boxnet countdown cryptarithm graph_color jugs n_queens palindrome_generation puzzle24
    quantum_lock rubiks_cube rush_hour sokoban tower_of_hanoi""".split()
)
NOT_AN_ANSWER = ("?", "none")


DEFAULT_SEED = 0
DEFAULT_SIZE = 100_000
# Generators whose set-up grows with ``size``.
SIZE_LIMITS = {"acre": 500}
MIN_ANSWER_CHARS = 4_096  # the length cap of an answer is this, or 8x the reference if longer
MAX_SKIPPED_ITEMS = 16  # consecutive items a generator may fail on before sampling gives up
CACHE_TASKS = 256  # recent tasks kept, so a GRPO group (G resets, one seed) builds its task once


logger = logging.getLogger(__name__)


class ReasoningGymUnavailable(ImportError):
    """reasoning-gym is not installed, or this generator is not available."""


def _import_factory() -> Any:
    try:
        from reasoning_gym import factory
    except ImportError as error:
        raise ReasoningGymUnavailable(
            "the reasoning-gym environments need the 'rg' extra: pip install 'rlvr-envs[rg]' "
            f"({error})"
        ) from error
    return factory


def config_fields(name: str) -> tuple[str, ...]:
    """The config fields of a generator (what ``gym.make`` passes through to it)."""
    factory = _import_factory()
    return tuple(f.name for f in dataclasses.fields(factory.DATASETS[name][1]))


def _same_answer(a: str, b: str) -> bool:
    def norm(text: str) -> str:
        return re.sub(r"\s+", " ", text).strip().casefold()

    if norm(a) == norm(b):
        return True
    try:
        return float(a) == float(b)
    except ValueError:
        return False


class ReasoningGymAnswer(str):
    """A task's answer: the generator's reference text ("" when it has none), carrying the item
    (``entry``) that its ``score_answer`` needs.

    It compares, hashes and prints as the text, so code that looks at answers (the trivial-
    completion probe, TRL's prompt rows) sees what a correct completion states, while the item,
    which holds the solution and the generator's own metadata, stays out of ``info``.
    """

    entry: dict[str, Any]

    def __new__(cls, text: str, entry: dict[str, Any]) -> ReasoningGymAnswer:
        answer = super().__new__(cls, text)
        answer.entry = entry
        return answer

    def __reduce__(self) -> tuple[Any, ...]:
        return (ReasoningGymAnswer, (str(self), self.entry))

    def __deepcopy__(self, memo: dict[int, Any]) -> ReasoningGymAnswer:
        return ReasoningGymAnswer(str(self), copy.deepcopy(self.entry, memo))


def entry_of(task: Task) -> dict[str, Any]:
    """The reasoning-gym item behind a task (its answer's ``entry``, or an injected mapping)."""
    answer = task.answer
    if isinstance(answer, ReasoningGymAnswer):
        return answer.entry
    if isinstance(answer, Mapping) and "question" in answer:
        return dict(answer)
    raise ValueError(f"task {task.id!r} carries no reasoning-gym item to score against")


class SharedDataset:
    """One reasoning-gym dataset per (generator, config) in a process, with its recent items.

    Environments made with the same config (a vector's sub-environments, a trainer's pool, the
    text and chat variants in a test run) share the dataset's set-up, which is slow for some
    generators, and items already generated. Generators and scorers keep state on the dataset
    object in places, so calls into it take its lock.
    """

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        self.dataset = _import_factory().create_dataset(name, **config)
        self.lock = threading.Lock()
        self._items: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._broken: set[int] = set()

    def item(self, index: int) -> dict[str, Any]:
        """Item ``index`` (generated once while it stays among the recent ones)."""
        with self.lock:
            entry = self._items.get(index)
            if entry is not None:
                self._items.move_to_end(index)
                return entry
            if index in self._broken:
                raise RuntimeError(f"the generator failed on item {index} before")
            try:
                entry = self.dataset[index]
            except Exception:
                self._broken.add(index)  # do not pay for a failing generator twice
                raise
            self._items[index] = entry
            if len(self._items) > CACHE_TASKS:
                self._items.popitem(last=False)
            return entry

    def score(self, answer: str, entry: Mapping[str, Any]) -> float:
        """The dataset's ``score_answer``, in this process."""
        with self.lock:
            return float(self.dataset.score_answer(answer, entry))


_SHARED: OrderedDict[Any, SharedDataset] = OrderedDict()
_SHARED_LOCK = threading.Lock()


def shared_dataset(name: str, config: Mapping[str, Any]) -> SharedDataset:
    """The process-wide :class:`SharedDataset` for this generator and config."""
    key = (name, repr(sorted(config.items())))
    with _SHARED_LOCK:
        shared = _SHARED.get(key)
        if shared is None:
            shared = _SHARED[key] = SharedDataset(name, config)
            if len(_SHARED) > 64:
                _SHARED.popitem(last=False)
        return shared


class ReasoningGymSource(ProceduralSource):
    """Items ``0..size-1`` of one reasoning-gym dataset as tasks, cached; the id ends with the
    item's index, so ``get`` rebuilds any of them."""

    def __init__(self, name: str, config: Mapping[str, Any], answer_format: str) -> None:
        self.generator = name
        self.config = dict(config)
        self.shared = shared_dataset(name, self.config)
        self.dataset = self.shared.dataset
        self.size = int(self.dataset.size)
        self.answer_format = answer_format
        label = (
            "default"
            if self.config == default_config(name)
            else hashlib.sha256(repr(sorted(self.config.items())).encode()).hexdigest()[:10]
        )
        super().__init__(self._not_used, name=f"rg-{name}", params=label)
        self._cache: OrderedDict[int, Task] = OrderedDict()

    @staticmethod
    def _not_used(rng: np.random.Generator) -> Task:
        raise NotImplementedError("reasoning-gym tasks are made by index (make)")

    def reference(self, entry: Mapping[str, Any]) -> str | None:
        """The generator's own answer to ``entry`` (None when it has none)."""
        if entry.get("answer") is not None:
            return str(entry["answer"])
        key = REFERENCE_IN_METADATA.get(self.generator)
        if key is None:
            return None
        value = entry["metadata"][key]
        return value if isinstance(value, str) else json.dumps(value)

    def make(self, index: int) -> Task:
        """Item ``index`` of the dataset as a task."""
        if not 0 <= index < self.size:
            raise KeyError(f"{self.name}: index {index} is outside 0..{self.size - 1}")
        task = self._cache.get(index)
        if task is not None:
            self._cache.move_to_end(index)
            return task
        entry = self.shared.item(index)
        reference = self.reference(entry)
        task = Task(
            id=f"{self._prefix}{index}",
            prompt=entry["question"],
            answer=ReasoningGymAnswer(reference or "", entry),
            solution=None if reference is None else wrap_answer(reference, self.answer_format),
            # Kept small: the environment copies it into every reset's info.
            metadata={"source_dataset": self.generator, "source_index": index},
        )
        self._cache[index] = task
        if len(self._cache) > CACHE_TASKS:
            self._cache.popitem(last=False)
        return task

    def sample(self, rng: np.random.Generator) -> Task:
        """A uniformly random item (the next one when a generator fails on it)."""
        index = int(rng.integers(self.size))
        for step in range(MAX_SKIPPED_ITEMS):
            try:
                return self.make((index + step) % self.size)
            except KeyError:
                raise
            except Exception as error:  # a generator bug on this item: never an episode's crash
                logger.warning("%s: item %d failed (%r); taking the next", self.name, index, error)
        raise RuntimeError(f"{self.name}: {MAX_SKIPPED_ITEMS} items in a row failed from {index}")

    def perturb(self, task: Task, rng: np.random.Generator) -> list[str]:
        """Known-wrong completions: other recent tasks' differing references, or non-answers."""
        own = self.reference(entry_of(task))
        if own is None:
            return []
        if self.generator in MULTI_SOLUTION:
            return [wrap_answer(text, self.answer_format) for text in NOT_AN_ANSWER]
        others = [t for t in self._cache.values() if t.id != task.id]
        if len(others) < 2:  # too few tasks made yet: make a few neighbours
            start = int(task.metadata["source_index"])
            others += [self.make((start + step) % self.size) for step in range(1, 6)]
        wrongs: list[str] = []
        for index in rng.permutation(len(others)):
            other = self.reference(entry_of(others[index]))
            if other is not None and not _same_answer(other, own):
                wrongs.append(wrap_answer(other, self.answer_format))
                if len(wrongs) == 2:
                    break
        return wrongs


def default_config(name: str) -> dict[str, Any]:
    """The config an env uses when ``gym.make`` passes none: seed 0 and a large size."""
    return {"seed": DEFAULT_SEED, "size": SIZE_LIMITS.get(name, DEFAULT_SIZE)}


def _empty_answer_tags(completion: str, answer_format: str) -> bool:
    """True when the last ``<answer></answer>`` pair is there but holds only whitespace."""
    if answer_format != "tags":
        return False
    lowered = strip_thinking(completion).lower()
    close = lowered.rfind("</answer>")
    start = lowered.rfind("<answer>", 0, close) if close != -1 else -1
    return start != -1 and not lowered[start + len("<answer>") : close].strip()


class ReasoningGymVerifier:
    """Extract the answer, guard it, and score it with the generator's ``score_answer``."""

    def __init__(
        self,
        source: ReasoningGymSource,
        *,
        answer_format: str = "tags",
        partial_credit: bool = False,
        isolation: str = "auto",
        timeout_s: float = 10.0,
    ) -> None:
        if isolation not in ("auto", "process", "none"):
            raise ValueError(f"isolation must be 'auto', 'process' or 'none', got {isolation!r}")
        self.source = source
        self.answer_format = answer_format
        self.partial_credit = partial_credit
        self.isolated = isolation == "process" or (
            isolation == "auto" and source.generator in ISOLATED
        )
        self.guard = GUARDS.get(GUARDED.get(source.generator, ""))
        self.timeout_s = timeout_s

    def _score(self, answer: str, entry: Mapping[str, Any]) -> float:
        if self.isolated:
            return scorer_pool().score(
                self.source.generator, self.source.config, entry, answer, self.timeout_s
            )
        return self.source.shared.score(answer, entry)

    def __call__(self, completion: str, task: Task) -> Verdict:
        start = time.perf_counter()
        outcome = self._judge(completion, task)
        if isinstance(outcome, Verdict):
            return outcome.replace(elapsed_s=time.perf_counter() - start)
        status, reason, fields = outcome
        # Timed here, in the one constructor call: a copy to add the time costs as much again.
        return Verdict.make(status, reason, elapsed_s=time.perf_counter() - start, **fields)

    def _judge(self, completion: str, task: Task) -> Verdict | tuple[Status, str, dict[str, Any]]:
        entry = entry_of(task)
        reference = self.source.reference(entry)
        limit = max(MIN_ANSWER_CHARS, 8 * len(reference or ""))
        answer = extract_final_answer(completion, self.answer_format, max_chars=limit)
        if isinstance(answer, Verdict) and _empty_answer_tags(completion, self.answer_format):
            answer = ""  # an empty answer can be right here (a Rubik's cube already solved)
        if isinstance(answer, Verdict):
            return answer.replace(expected=reference)
        fields: dict[str, Any] = {"extracted": answer[:200], "expected": reference}
        refused = self.guard(answer) if self.guard else None
        if refused is None and self.source.generator in STRICTER:
            refused = STRICTER[self.source.generator](answer, entry, self.source.dataset.config)
        if refused is not None:
            return Status.WRONG, refused, {**fields, "details": {"rg_score": 0.0}}
        try:
            score = self._score(answer, entry)
        except ScoreTimeout as error:
            return Status.TIMEOUT, str(error), fields
        except ScorerUnavailable as error:
            return Status.ERROR, str(error), fields
        except (ScorerFailed, Exception) as error:  # the answer broke the scorer: its failure
            reason = f"reasoning-gym's score_answer failed on this answer: {error}"[:300]
            return Status.WRONG, reason, {**fields, "details": {"rg_score": 0.0}}
        score = min(1.0, max(0.0, score)) if score == score else 0.0
        status = Status.CORRECT if score >= 1.0 else Status.WRONG
        fields["reward"] = score if self.partial_credit else float(status is Status.CORRECT)
        fields["details"] = {"rg_score": score}
        return status, f"reasoning-gym scored it {score:.3g}", fields

    def __repr__(self) -> str:
        return f"ReasoningGymVerifier({self.source.generator!r}, {self.answer_format!r})"


def reasoning_gym_env(
    name: str,
    *,
    answer_format: str = "tags",
    partial_credit: bool = False,
    isolation: str = "auto",
    timeout_s: float = 10.0,
    template: str | None = None,
    **kwargs: Any,
) -> TextEnv:
    """A :class:`TextEnv` over reasoning-gym's generator ``name``; config fields as keywords."""
    if name in UNAVAILABLE:
        raise ReasoningGymUnavailable(
            f"reasoning-gym's {name!r} is not available: {UNAVAILABLE[name]}"
        )
    check_answer_format(answer_format)
    factory = _import_factory()
    if name not in factory.DATASETS:
        raise ReasoningGymUnavailable(f"the installed reasoning-gym has no generator {name!r}")
    fields = config_fields(name)
    config = {**default_config(name), **{k: kwargs.pop(k) for k in fields if k in kwargs}}
    source = ReasoningGymSource(name, config, answer_format)
    verifier = ReasoningGymVerifier(
        source,
        answer_format=answer_format,
        partial_credit=partial_credit,
        isolation=isolation,
        timeout_s=timeout_s,
    )
    if template is None:
        template = "{prompt}\n\n" + answer_instruction(answer_format)
    kwargs.setdefault("perturb", source.perturb)
    kwargs.setdefault("reward_name", "reasoning_gym")
    return TextEnv(source, verifier, template=template, **kwargs)
