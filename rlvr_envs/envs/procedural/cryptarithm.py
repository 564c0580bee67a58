"""Cryptarithms: letters stand for distinct digits in a sum such as ``SEND + MORE = MONEY``.

The puzzle is made from a real sum, so it has a solution; it need not be unique. The checker
verifies the claimed letter-to-digit mapping itself: every letter mapped once, distinct digits,
no leading zero, and the sum holds.
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass

from ...tasks import Task
from ...verdict import Verdict
from .common import Family, correct, wrong

_PAIR = re.compile(r"([A-Za-z])\s*(?:=|:|->|→|is)\s*(\d)")
_FILLER = re.compile(r"[\s,;.]*")


@dataclass(frozen=True)
class CryptarithmParams:
    """Difficulty knobs of ``rlvr/Cryptarithm-v0``."""

    num_addends: int = 2
    min_length: int = 3  # digits per addend
    max_length: int = 4

    def validate(self) -> None:
        """Raise ValueError for knob values that cannot make a task."""
        if not 2 <= self.num_addends <= 5:
            raise ValueError(f"num_addends must be 2..5, got {self.num_addends}")
        if not 1 <= self.min_length <= self.max_length <= 8:
            raise ValueError("need 1 <= min_length <= max_length <= 8")


LEVELS = {
    1: dict(num_addends=2, min_length=2, max_length=2),
    2: dict(num_addends=2, min_length=2, max_length=3),
    3: dict(num_addends=2, min_length=3, max_length=4),
    4: dict(num_addends=3, min_length=3, max_length=4),
    5: dict(num_addends=3, min_length=4, max_length=5),
}


def generate(rng: random.Random, p: CryptarithmParams) -> Task:
    """A sum of random numbers, each digit replaced by its own random letter."""
    numbers = []
    for _ in range(p.num_addends):
        length = rng.randint(p.min_length, p.max_length)
        numbers.append(rng.randint(10 ** (length - 1) if length > 1 else 0, 10**length - 1))
    total = sum(numbers)
    letters = rng.sample(string.ascii_uppercase, 10)
    words = ["".join(letters[int(d)] for d in str(v)) for v in [*numbers, total]]
    equation = f"{' + '.join(words[:-1])} = {words[-1]}"
    prompt = (
        f"Solve the cryptarithm {equation}. Each letter stands for a digit, different letters "
        "for different digits, and no number with more than one digit starts with 0. Give the "
        "digit of every letter as comma-separated pairs such as A=1, B=2."
    )
    return Task(id="", prompt=prompt, answer={"words": words}, metadata={"equation": equation})


def _value(word: str, digits: dict[str, int]) -> int:
    value = 0
    for letter in word:
        value = value * 10 + digits[letter]
    return value


def parse_mapping(text: str, letters: set[str]) -> dict[str, int] | str:
    """``{letter: digit}`` for every letter of the puzzle, or why the answer is not that."""
    mapping: dict[str, int] = {}
    position = 0
    for match in _PAIR.finditer(text):
        if _FILLER.fullmatch(text, position, match.start()) is None:
            return f"cannot read {text[position : match.start()][:30]!r} as letter=digit pairs"
        position = match.end()
        letter, digit = match.group(1).upper(), int(match.group(2))
        if letter not in letters:
            return f"{letter} is not in the puzzle"
        if mapping.get(letter, digit) != digit:
            return f"{letter} is given two digits"
        mapping[letter] = digit
    if _FILLER.fullmatch(text, position) is None:
        return f"cannot read {text[position:][:30]!r} as letter=digit pairs"
    missing = sorted(letters - set(mapping))
    if missing:
        return f"no digit for {', '.join(missing)}"
    return mapping


def check(answer: str, task: Task) -> Verdict:
    """Distinct digits, no leading zero, and the sum holds under the claimed mapping."""
    words = task.answer["words"]
    digits = parse_mapping(answer, set("".join(words)))
    if isinstance(digits, str):
        return wrong(digits)
    if len(set(digits.values())) != len(digits):
        return wrong("two letters share a digit")
    leading = [w[0] for w in words if len(w) > 1 and digits[w[0]] == 0]
    if leading:
        return wrong(f"{leading[0]} starts a number but is 0")
    values = [_value(w, digits) for w in words]
    if sum(values[:-1]) != values[-1]:
        return wrong(f"{' + '.join(map(str, values[:-1]))} is not {values[-1]}")
    return correct("the sum holds with distinct digits")


def solve_words(words: list[str]) -> dict[str, int]:
    """A mapping by column-wise backtracking (each column's sum checked once its letters are set)."""
    width = max(map(len, words))
    order: list[str] = []
    checkpoints: dict[int, int] = {}  # letters assigned -> the column that can then be checked
    for column in range(width):
        for word in words:
            if column < len(word) and word[-1 - column] not in order:
                order.append(word[-1 - column])
        checkpoints[len(order)] = column  # a later column with no new letter overrides
    leading = {w[0] for w in words if len(w) > 1}
    digits: dict[str, int] = {}

    def low_part(word: str, column: int) -> int:
        tail = word[-1 - column :] if column + 1 < len(word) else word
        return _value(tail, digits)

    def column_ok(column: int) -> bool:
        modulus = 10 ** (column + 1)
        total = sum(low_part(w, column) for w in words[:-1]) - low_part(words[-1], column)
        return total % modulus == 0

    def assign(index: int, used: int) -> bool:
        if index in checkpoints and not column_ok(checkpoints[index]):
            return False
        if index == len(order):
            return _value(words[-1], digits) == sum(_value(w, digits) for w in words[:-1])
        letter = order[index]
        for digit in range(1 if letter in leading else 0, 10):
            if not used >> digit & 1:
                digits[letter] = digit
                if assign(index + 1, used | 1 << digit):
                    return True
        digits.pop(letter, None)
        return False

    if not assign(0, 0):
        raise ValueError(f"no solution for {words}")
    return dict(digits)


def solve(task: Task) -> str:
    """A valid mapping, letters in alphabetical order."""
    digits = solve_words(task.answer["words"])
    return ", ".join(f"{letter}={digits[letter]}" for letter in sorted(digits))


def perturb(task: Task, answer: str, rng: random.Random) -> list[str]:
    """Wrong by construction: a digit shared, a letter left out, a stranger letter, a leading 0."""
    words = task.answer["words"]
    digits = parse_mapping(answer, set("".join(words)))
    if isinstance(digits, str):
        return []
    letters = sorted(digits)

    def render(mapping: dict[str, int]) -> str:
        return ", ".join(f"{k}={v}" for k, v in mapping.items())

    a, b = rng.sample(letters, 2) if len(letters) > 1 else (letters[0], letters[0])
    wrongs = [render({**digits, b: digits[a]}) if a != b else render({})]
    wrongs.append(render({k: v for k, v in digits.items() if k != letters[0]}))
    stranger = next(c for c in string.ascii_uppercase if c not in digits)
    wrongs.append(f"{answer}, {stranger}=0")
    zero = next((k for k, v in digits.items() if v == 0), None)
    lead = next((w[0] for w in words if len(w) > 1 and w[0] != zero), None)
    if zero is not None and lead is not None:
        wrongs.append(render({**digits, zero: digits[lead], lead: 0}))
    return wrongs


CRYPTARITHM = Family("cryptarithm", CryptarithmParams, LEVELS, 3, generate, check, solve, perturb)
