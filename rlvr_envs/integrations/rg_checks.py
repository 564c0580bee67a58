"""Checks that run before the reasoning-gym scorers that are too lenient on their own.

Each check takes the extracted answer, the generator's item and its config, and returns None when
the scorer may judge the answer, or the reason the answer is wrong. They run after the character
guards of :mod:`.rg_scoring`, so their input is already tame. Every one closes a way to earn a
score of 1.0 without solving the task (``tests/procedural/test_rg_reward_hacking.py`` has each).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from ..envs.procedural.countdown import ExpressionError, evaluate_expression

_BINARY_ROW = re.compile(r"\s*[01](?:[ \t]+[01])*\s*")

Check = Callable[[str, Mapping[str, Any], Any], "str | None"]


def exact_arithmetic(
    answer: str, numbers: list[int], target: int, operators: tuple[str, ...]
) -> str | None:
    """None when ``answer`` uses exactly ``numbers`` and ``operators`` and equals ``target``."""
    foreign = sorted(set(re.findall(r"[-+*/]", answer)) - set(operators))
    if foreign:
        return f"uses {' '.join(foreign)}, which is not among the operators {' '.join(operators)}"
    try:
        value, used = evaluate_expression(answer, unary_minus=True)
    except ExpressionError as error:
        return f"not an expression over the numbers: {error}"
    if sorted(used) != sorted(numbers):
        return f"uses the numbers {sorted(used)}, not {sorted(numbers)}"
    if value != target:
        return f"the expression equals {value}, not {target}"
    return None


def _puzzle24(answer: str, entry: Mapping[str, Any], config: Any) -> str | None:
    """The scorer took int() of the value (24.5 passed) and let decimal points join digits
    ("2.4" counted as 2 and 4) and functions in (sqrt): demand 24 exactly, + - * / only."""
    return exact_arithmetic(answer, entry["metadata"]["numbers"], 24, tuple(config.operators))


def _countdown(answer: str, entry: Mapping[str, Any], config: Any) -> str | None:
    """Decimal points joined numbers and functions (sqrt, exp) passed: + - * / only."""
    metadata = entry["metadata"]
    return exact_arithmetic(answer, metadata["numbers"], metadata["target"], config.operators)


def _coin_flip(answer: str, entry: Mapping[str, Any], config: Any) -> str | None:
    """Prefix credit reached 1.0 ("0" for 0.3125), and the absolute tolerance of 1e-4 paid "0"
    for every probability below it: demand the value within 1e-4 and within 1%."""
    got = Fraction(answer.replace(" ", ""))
    rational = entry["metadata"].get("rational")
    want = (
        Fraction(rational["numerator"], rational["denominator"])
        if rational
        else Fraction(str(entry["answer"]))
    )
    if abs(got - want) > min(Fraction(1, 10_000), want / 100):
        return f"{answer} is not the probability"
    return None


def _number_sorting(answer: str, entry: Mapping[str, Any], config: Any) -> str | None:
    """NaN compares false both ways, so a list of "nan" was sorted and within the scorer's
    tolerance of every number; that tolerance (1) also paid numbers never given."""
    try:
        items = json.loads(answer.replace("'", '"'))
    except (ValueError, RecursionError):
        return "not a list of numbers"
    if not isinstance(items, list):
        return "not a list of numbers"
    values = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, float, str)):
            return f"{str(item)[:20]!r} is not a number"
        try:
            value = float(item)
        except ValueError:
            return f"{item[:20]!r} is not a number"
        if not math.isfinite(value):
            return f"{str(item)[:20]!r} is not a finite number"
        values.append(value)
    if sorted(values) != sorted(float(n) for n in entry["metadata"]["original_numbers"]):
        return "the answer is not the given numbers, each once"
    return None


def _figlet_font(answer: str, entry: Mapping[str, Any], config: Any) -> str | None:
    """0.1 per letter in place, capped at 1.0: ten letters of a longer word scored 1.0."""
    if answer.replace(" ", "").strip().lower() != str(entry["answer"]).strip().lower():
        return "not the word"
    return None


def _as_many_words(answer: str, entry: Mapping[str, Any], config: Any) -> str | None:
    """Credit goes word by word and ignores words past the reference's: "<answer> <junk>"."""
    got, want = len(answer.split()), len(str(entry["answer"]).split())
    if got != want:
        return f"{got} words, not {want}"
    return None


def _as_many_listed_words(answer: str, entry: Mapping[str, Any], config: Any) -> str | None:
    """As :func:`_as_many_words`, for a comma-separated list."""
    got, want = len(re.split(r",\s*", answer)), len(entry["metadata"]["sorted_words"])
    if got != want:
        return f"{got} words, not {want}"
    return None


def _kakurasu(answer: str, entry: Mapping[str, Any], config: Any) -> str | None:
    """The scorer keeps the 0 and 1 characters of each line and drops the rest, so a cell such
    as ``1e999`` (or any text around the digits) passed: demand cells of 0 or 1 only."""
    for line in answer.strip().splitlines():
        if not _BINARY_ROW.fullmatch(line):
            return f"{line[:40]!r} is not a row of 0 and 1 cells"
    return None


def _knights_knaves(answer: str, entry: Mapping[str, Any], config: Any) -> str | None:
    """The scorer collects every "<name> is a <role>" in the text and skips other words, so a
    statement copied from the question ("if A is a knight then B is a knave") scored 1.0 when its
    names and roles matched: demand only such clauses, joined by commas or "and", each name once."""
    words = [w for w in re.sub(r"[.,;()]", " ", answer).lower().split() if w != "and"]
    clauses = [words[i : i + 4] for i in range(0, len(words), 4)]
    if not clauses or any(len(c) != 4 or c[1] != "is" or c[2] not in ("a", "an") for c in clauses):
        return "not a list of '<name> is a <role>' clauses"
    names = [clause[0] for clause in clauses]
    if len(set(names)) != len(names):
        return "a person is named twice"
    return None


STRICTER: dict[str, Check] = {
    "coin_flip": _coin_flip,
    "countdown": _countdown,
    "figlet_font": _figlet_font,
    "kakurasu": _kakurasu,
    "knights_knaves": _knights_knaves,
    "letter_jumble": _as_many_words,
    "number_sorting": _number_sorting,
    "puzzle24": _puzzle24,
    "word_sorting": _as_many_listed_words,
}
