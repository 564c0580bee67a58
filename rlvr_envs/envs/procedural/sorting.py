"""Sorting: put a list of numbers in ascending or descending order.

The checker needs no sorted copy: it verifies that the answer is a permutation of the given
numbers (compared by exact decimal value) and that consecutive values are in the asked order.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from ...tasks import Task
from ...verdict import Verdict
from .common import Family, correct, wrong

_NUMBER = re.compile(r"[-+−]?\d{1,30}(?:\.\d{1,30})?")
_SEPARATOR = re.compile(r"[\s,;\[\]]*")


@dataclass(frozen=True)
class SortingParams:
    """Difficulty knobs of ``rlvr/Sorting-v0``."""

    count: int = 10
    low: int = -100
    high: int = 100
    decimals: int = 0  # digits after the decimal point
    order: str = "random"  # "ascending", "descending" or "random" (drawn per task)

    def validate(self) -> None:
        """Raise ValueError for knob values that cannot make a task."""
        if not 2 <= self.count <= 500:
            raise ValueError(f"count must be 2..500, got {self.count}")
        if not -(10**12) <= self.low < self.high <= 10**12:
            raise ValueError("need low < high, both within +-10**12")
        if not 0 <= self.decimals <= 6:
            raise ValueError(f"decimals must be 0..6, got {self.decimals}")
        if self.order not in ("ascending", "descending", "random"):
            raise ValueError(f"order must be ascending, descending or random, got {self.order!r}")


LEVELS = {
    1: dict(count=5, low=0, high=99, decimals=0, order="ascending"),
    2: dict(count=8, low=-100, high=100, decimals=0, order="random"),
    3: dict(count=12, low=-1000, high=1000, decimals=0, order="random"),
    4: dict(count=20, low=-1000, high=1000, decimals=1, order="random"),
    5: dict(count=30, low=-100000, high=100000, decimals=2, order="random"),
}


def generate(rng: random.Random, p: SortingParams) -> Task:
    """Random numbers in ``[low, high]``, never already in the asked order."""
    order = p.order if p.order != "random" else rng.choice(("ascending", "descending"))
    scale = 10**p.decimals
    for _ in range(1000):
        raw = [rng.randint(p.low * scale, p.high * scale) for _ in range(p.count)]
        if raw != sorted(raw, reverse=order == "descending"):
            break
    numbers = [str(Decimal(v).scaleb(-p.decimals)) for v in raw]
    prompt = (
        f"Sort these numbers in {order} order: {', '.join(numbers)}.\n"
        "Give the sorted numbers separated by commas."
    )
    data = {"numbers": numbers, "order": order}
    return Task(id="", prompt=prompt, answer=data, metadata={"count": p.count, "order": order})


def parse_numbers(text: str) -> list[Decimal] | str:
    """The numbers of a comma- or space-separated list, or what is not a number in it."""
    values, position = [], 0
    for match in _NUMBER.finditer(text):
        if _SEPARATOR.fullmatch(text, position, match.start()) is None:
            return f"{text[position : match.start()][:20]!r} is not a number"
        values.append(Decimal(match.group().replace("−", "-")))
        position = match.end()
    if _SEPARATOR.fullmatch(text, position) is None:
        return f"{text[position:][:20]!r} is not a number"
    return values


def check(answer: str, task: Task) -> Verdict:
    """A permutation of the given numbers, in the asked order."""
    given = [Decimal(v) for v in task.answer["numbers"]]
    values = parse_numbers(answer)
    if isinstance(values, str):
        return wrong(f"not a list of numbers: {values}")
    if Counter(values) != Counter(given):
        return wrong("the answer is not the given numbers, each exactly once")
    descending = task.answer["order"] == "descending"
    for a, b in zip(values, values[1:]):
        if (a < b) if descending else (a > b):
            return wrong(f"{a} comes before {b}, not in {task.answer['order']} order")
    return correct(f"sorted in {task.answer['order']} order")


def solve(task: Task) -> str:
    """The given numbers, sorted."""
    descending = task.answer["order"] == "descending"
    return ", ".join(sorted(task.answer["numbers"], key=Decimal, reverse=descending))


def perturb(task: Task, answer: str, rng: random.Random) -> list[str]:
    """Wrong by construction: two different neighbours swapped, one dropped, the input order."""
    items = answer.split(", ")
    i = next(i for i in range(len(items) - 1) if Decimal(items[i]) != Decimal(items[i + 1]))
    swapped = [*items[:i], items[i + 1], items[i], *items[i + 2 :]]
    dropped = items[:]
    del dropped[rng.randrange(len(items))]
    return [", ".join(swapped), ", ".join(dropped), ", ".join(task.answer["numbers"])]


SORTING = Family("sorting", SortingParams, LEVELS, 3, generate, check, solve, perturb)
