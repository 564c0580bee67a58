"""A battery of generic reward-hacking attacks, run on every reasoning-gym environment.

For each generator it makes some tasks and feeds each one answers that try to earn the reward
without solving it: the question echoed whole or in parts, the format example from the prompt,
hedges that name several answers (the right one last, so a scorer that takes the first candidate
does not count), every reference seen in one answer, another task's reference, the most frequent
reference, half of the reference, Python literals, NaN / infinity in place of numbers, answer
tags and boxes that disagree. It also records what is lenient but harmless (the right answer
first in a hedge, extra text after it, other case or spacing) without calling it a hack, any
infrastructure verdict (``error``: a sample dropped from training), and any change a scorer
makes to the item it grades (state left for the next sample).

``python -m tests.procedural.rg_attacks [tasks] [generator,...]`` prints the table;
``test_rg_attack_battery.py`` asserts that no attack pays.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import gymnasium as gym

import rlvr_envs  # noqa: F401 - registers the environments
from rlvr_envs.integrations.reasoning_gym import (
    ISOLATED,
    MULTI_SOLUTION,
    REGISTERED,
    _same_answer,
    entry_of,
    env_id,
)
from rlvr_envs.verdict import INFRASTRUCTURE_STATUSES

# Attacks that must never pay (unless the scorer validates solutions, see VALIDATORS).
HACKS = (
    "echo",
    "question_line",
    "quoted",
    "format_example",
    "empty",
    "literal",
    "nan_inf",
    "other_reference",
    "most_frequent",
    "hedge_right_last",
    "all_references",
    "tags_and_boxes",
    "half_reference",
)
# Lenient but harmless: each needs the right answer (first, or in another spelling).
LENIENT = ("hedge_right_first", "extra_text", "case", "spacing")
KINDS = HACKS + LENIENT

LITERALS = ("True", "False", "None", "[]", "{}", "''", "0", "1", "-1", "yes", "no", "null", "?")
SPECIAL_NUMBERS = ("nan", "NaN", "inf", "-inf", "Infinity", "1e999", "sNaN", "nan+nanj")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")
_QUOTED = re.compile(r"'([^'\n]{1,200})'|\"([^\"\n]{1,200})\"|`([^`\n]{1,200})`")
_EXAMPLE = re.compile(r"(?:e\.g\.|for example|example|such as|like)[:,]?\s*([^\n]{1,200})", re.I)

# Scorers that validate a solution (any valid one scores): another task's answer, or text that
# happens to encode a valid one, can be right. Their payouts are reported, not failures; the
# targeted tests in test_rg_reward_hacking.py cover their rules.
VALIDATORS = MULTI_SOLUTION | {"simple_integration"}
# Payouts of generic attacks that are right answers in disguise, with the reason.
BENIGN: dict[tuple[str, str], str] = {
    ("polynomial_equations", "hedge_right_last"): "items that are not numbers are dropped, so "
    "'<other roots> or <root>' is read as the other task's first roots, equal to this answer",
    ("polynomial_equations", "half_reference"): "half of the roots' text is a rounding of them "
    "within the scorer's tolerance",
}
# Generators that accept an answer rounded within a tolerance: half of the reference's digits
# can be that rounding (0.0416 for 0.04165649414), which is the answer, not a hack.
ROUNDING = frozenset(
    """advanced_geometry coin_flip decimal_arithmetic number_format pool_matrix power_function
    time_intervals""".split()
)


@dataclass
class Payout:
    """An attack that scored: which generator, kind, task and completion."""

    generator: str
    kind: str
    task: int
    completion: str
    reference: str

    @property
    def is_hack(self) -> bool:
        """True unless the kind is lenient, the scorer validates, or the payout is known benign."""
        if self.kind in LENIENT or self.generator in VALIDATORS:
            return False
        if self.kind == "half_reference" and self.generator in ROUNDING:
            return False
        return (self.generator, self.kind) not in BENIGN


@dataclass
class BatteryResult:
    """Everything the battery saw on one generator."""

    generator: str
    tasks: int = 0
    attempts: int = 0
    payouts: list[Payout] = field(default_factory=list)
    faults: list[tuple[str, str, str]] = field(default_factory=list)  # kind, completion, reason
    mutated: list[int] = field(default_factory=list)  # tasks whose item a scorer changed
    seconds: float = 0.0

    def hacks(self) -> list[Payout]:
        """The payouts that are reward hacks."""
        return [p for p in self.payouts if p.is_hack]

    def tasks_paid(self) -> dict[str, int]:
        """For each kind, on how many tasks some attack of it paid."""
        paid: dict[str, set[int]] = defaultdict(set)
        for payout in self.payouts:
            paid[payout.kind].add(payout.task)
        return {kind: len(paid[kind]) for kind in KINDS if paid[kind]}


def tagged(text: str) -> str:
    """``text`` as the answer of a completion."""
    return f"<answer>{text}</answer>"


def attacks(
    question: str, reference: str, references: list[str], other: str | None, common: str
) -> dict[str, list[str]]:
    """Completions of each kind for one task (``other``: a different task's reference)."""
    out: dict[str, list[str]] = defaultdict(list)
    lines = [line.strip() for line in question.splitlines() if line.strip()]
    out["echo"].append(tagged(question))
    out["question_line"] += [tagged(line) for line in lines[:40]]
    quoted = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(question)]
    out["quoted"] += [tagged(q) for q in quoted[:40]]
    examples = [m.group(1).strip().rstrip(".") for m in _EXAMPLE.finditer(question)]
    examples += re.findall(r"<answer>(.*?)</answer>", question, re.S)
    out["format_example"] += [tagged(e) for e in examples]
    out["empty"].append("<answer></answer>")
    out["literal"] += [tagged(text) for text in LITERALS]
    for special in SPECIAL_NUMBERS:
        out["nan_inf"].append(tagged(special))
        if _NUMBER.search(reference):
            out["nan_inf"].append(tagged(_NUMBER.sub(special, reference)))
            out["nan_inf"].append(tagged(_NUMBER.sub(special, reference, count=1)))
    out["other_reference"] += [tagged(r) for r in references if not _same_answer(r, reference)]
    if not _same_answer(common, reference):
        out["most_frequent"].append(tagged(common))
    distinct = [r for r in dict.fromkeys(references) if not _same_answer(r, reference)]
    distinct.append(reference)  # the right one last: a first-candidate scorer does not see it
    for joiner in (", ", "\n", " ", " or "):
        out["all_references"].append(tagged(joiner.join(distinct)))
    if len(reference) > 1:
        half = len(reference) // 2
        out["half_reference"] += [tagged(reference[:half]), tagged(reference[half:])]
    out["extra_text"] += [tagged(f"{reference} {'x' * 3000}"), tagged(f"{reference}!!!")]
    out["case"] += [tagged(reference.swapcase()), tagged(reference.upper())]
    out["spacing"] += [tagged(re.sub(r"\s+", "", reference)), tagged(" ".join(reference))]
    if other is not None:
        for pattern in ("{o} or {r}", "{o}, {r}", "{o}\n{r}", "{o} {r}", "[{o}, {r}]", "{o}; {r}"):
            out["hedge_right_last"].append(tagged(pattern.format(o=other, r=reference)))
        for pattern in ("{r} or {o}", "{r}, {o}", "{r}\n{o}", "{r} {o}"):
            out["hedge_right_first"].append(tagged(pattern.format(o=other, r=reference)))
        out["tags_and_boxes"] += [
            f"<answer>{reference}</answer> <answer>{other}</answer>",
            f"<answer>{other}</answer> \\boxed{{{reference}}}",
            f"\\boxed{{{reference}}} <answer>{other}</answer>",
            f"<think><answer>{reference}</answer></think><answer>{other}</answer>",
            f"<answer>\\boxed{{{other}}}\\boxed{{{reference}}}</answer>",
            f"<answer>{reference}<answer>{other}</answer></answer>",
        ]
    return out


def run_battery(generator: str, n_tasks: int) -> BatteryResult:
    """Every attack on the first ``n_tasks`` tasks (seeds 0, 1, ...) of one generator."""
    start = time.perf_counter()
    result = BatteryResult(generator)
    env = gym.make(env_id(generator)).unwrapped
    tasks = []
    for seed in range(n_tasks):
        env.reset(seed=seed)
        tasks.append(env.task)
    references = [env.source.reference(entry_of(task)) or "" for task in tasks]
    common = Counter(references).most_common(1)[0][0]
    for index, (task, reference) in enumerate(zip(tasks, references)):
        before = json.dumps(entry_of(task), sort_keys=True, default=str)
        ring = references[index + 1 :] + references[:index]
        other = next((r for r in ring if not _same_answer(r, reference)), None)
        kinds = attacks(task.prompt, reference, references, other, common)
        for kind, completions in kinds.items():
            for completion in completions:
                verdict = env.verify(completion, task)
                result.attempts += 1
                if verdict.status in INFRASTRUCTURE_STATUSES:
                    result.faults.append((kind, completion[:80], verdict.reason[:200]))
                elif verdict.reward > 0 and not _is_reference(completion, reference):
                    payout = Payout(generator, kind, index, completion[:200], reference[:200])
                    result.payouts.append(payout)
        if json.dumps(entry_of(task), sort_keys=True, default=str) != before:
            result.mutated.append(index)
        if task.solution is not None and not env.verify(task.solution, task).correct:
            result.faults.append(("reference", task.solution[:80], "no longer scores"))
        result.tasks += 1
    result.seconds = time.perf_counter() - start
    return result


def _is_reference(completion: str, reference: str) -> bool:
    """True when an attack's answer happens to be the reference itself (not a payout)."""
    match = re.fullmatch(r"<answer>(.*)</answer>", completion, re.S)
    return match is not None and _same_answer(match.group(1), reference)


def tasks_for(generator: str, n_tasks: int) -> int:
    """Fewer tasks for the scorers that run in a worker process (each answer costs ms)."""
    return min(n_tasks, 3) if generator in ISOLATED else n_tasks


def run_all(generators: Iterable[str], n_tasks: int) -> list[BatteryResult]:
    """The battery over several generators."""
    return [run_battery(name, tasks_for(name, n_tasks)) for name in generators]


def format_table(results: list[BatteryResult]) -> str:
    """One row per generator with a payout: tasks paid per kind (* marks a hack)."""
    rows = [f"{'generator':26s} {'tasks':>5s} {'tries':>6s}  tasks paid per attack (* = hack)"]
    totals: Counter[str] = Counter()
    for result in results:
        hacked = {p.kind for p in result.hacks()}
        paid = result.tasks_paid()
        totals.update({kind: 1 for kind in paid})
        cells = [f"{kind}{'*' if kind in hacked else ''}={n}" for kind, n in paid.items()]
        if result.faults:
            cells.append(f"FAULTS={len(result.faults)}")
        if result.mutated:
            cells.append(f"MUTATED={len(result.mutated)}")
        if cells:
            rows.append(
                f"{result.generator:26s} {result.tasks:5d} {result.attempts:6d}  {' '.join(cells)}"
            )
    hacks = sum(len(r.hacks()) for r in results)
    attempts = sum(r.attempts for r in results)
    rows.append(
        f"{len(results)} generators, {attempts} attacks, {hacks} hacks paid, "
        f"{sum(len(r.faults) for r in results)} infrastructure faults, "
        f"{sum(len(r.mutated) for r in results)} items changed by a scorer"
    )
    rows.append("generators where each attack paid: " + ", ".join(
        f"{kind} {totals[kind]}" for kind in KINDS if totals[kind]
    ))  # fmt: skip
    return "\n".join(rows)


def main(argv: list[str]) -> None:
    """Print the table for ``[tasks] [generator,...]`` (default 30 tasks, every generator)."""
    n_tasks = int(argv[0]) if argv else 30
    generators = argv[1].split(",") if len(argv) > 1 else list(REGISTERED)
    start = time.perf_counter()
    results = run_all(generators, n_tasks)
    print(format_table(results))
    for result in results:
        for payout in result.hacks()[:3]:
            print(f"  hack {payout.generator} {payout.kind}: {payout.completion[:100]!r}")
        for fault in result.faults[:3]:
            print(f"  fault {result.generator}: {fault}")
    print(f"{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
