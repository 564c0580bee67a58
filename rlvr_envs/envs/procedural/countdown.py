"""Countdown: reach a target with some given numbers and + - * /, each number at most once.

The checker parses the expression itself with a bounded, iterative shunting-yard parser (no
``eval``, no recursion): only the four operators, parentheses and the given numbers are accepted,
values are exact fractions, and an expression longer than :data:`MAX_EXPRESSION_CHARS` is
rejected before parsing. Exponents, unary minus and numbers that were not given are ``wrong``.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

from ...tasks import Task
from ...verdict import Status, Verdict
from .common import Family, correct, wrong

MAX_EXPRESSION_CHARS = 2_000  # a six-number expression needs a few dozen characters
MAX_LITERAL_DIGITS = 6  # longer digit runs cannot be one of the given numbers
_TOKEN = re.compile(r"\s*(?:(\d+)|([-+*/()×÷−–·]))")
_OPERATOR = {"+": "+", "-": "-", "−": "-", "–": "-", "*": "*", "×": "*", "·": "*", "/": "/"}
_OPERATOR["÷"] = "/"
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "neg": 3}


@dataclass(frozen=True)
class CountdownParams:
    """Difficulty knobs of ``rlvr/Countdown-v0``."""

    num_numbers: int = 4  # how many numbers are given (2-6)
    max_number: int = 25  # numbers are drawn from 1..max_number
    min_target: int = 10
    max_target: int = 200
    operators: str = "+-*/"  # the operators a construction may use (all four are always allowed)

    def validate(self) -> None:
        """Raise ValueError for knob values that cannot make a task."""
        if not 2 <= self.num_numbers <= 6:
            raise ValueError(f"num_numbers must be 2..6, got {self.num_numbers}")
        if not 2 <= self.max_number <= 1000:
            raise ValueError(f"max_number must be 2..1000, got {self.max_number}")
        if not 1 <= self.min_target <= self.max_target <= 10**6:
            raise ValueError("need 1 <= min_target <= max_target <= 1,000,000")
        if not self.operators or set(self.operators) - set("+-*/"):
            raise ValueError(
                f"operators must be a non-empty subset of '+-*/', got {self.operators!r}"
            )


LEVELS = {
    1: dict(num_numbers=3, max_number=10, min_target=5, max_target=30, operators="+-"),
    2: dict(num_numbers=3, max_number=15, min_target=10, max_target=100, operators="+-*"),
    3: dict(num_numbers=4, max_number=25, min_target=10, max_target=200, operators="+-*/"),
    4: dict(num_numbers=5, max_number=50, min_target=50, max_target=500, operators="+-*/"),
    5: dict(num_numbers=6, max_number=100, min_target=100, max_target=999, operators="+-*/"),
}


# --- parsing and evaluation ---------------------------------------------------------------------


class ExpressionError(ValueError):
    """The text is not an expression over the allowed numbers and operators."""


def _tokens(text: str) -> list[str]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            rest = text[position:].lstrip()
            if not rest:
                break
            raise ExpressionError(f"unexpected character {rest[0]!r}")
        number, symbol = match.groups()
        if number is not None:
            if len(number) > MAX_LITERAL_DIGITS:
                raise ExpressionError(f"the number {number[:12]}... was not given")
            tokens.append(number)
        else:
            tokens.append(_OPERATOR.get(symbol, symbol))
        position = match.end()
    return tokens


def _apply(values: list[Fraction], op: str) -> None:
    if op == "neg":  # only reachable when the caller allows unary minus; an operand precedes it
        values[-1] = -values[-1]
        return
    if len(values) < 2:
        raise ExpressionError(f"operator {op!r} is missing an operand")
    right, left = values.pop(), values.pop()
    if op == "+":
        values.append(left + right)
    elif op == "-":
        values.append(left - right)
    elif op == "*":
        values.append(left * right)
    elif right == 0:
        raise ExpressionError("division by zero")
    else:
        values.append(left / right)


def evaluate_expression(text: str, *, unary_minus: bool = False) -> tuple[Fraction, list[int]]:
    """The exact value of ``text`` and the numbers it uses (iterative; any nesting depth).

    ``unary_minus`` accepts ``-`` in front of an operand (reasoning-gym's own Countdown answers
    start with one); it adds no reachable positive value, since any negation can be moved into a
    binary minus.
    """
    values: list[Fraction] = []
    ops: list[str] = []
    numbers: list[int] = []
    expect_operand = True
    for token in _tokens(text):
        if token.isdigit():
            if not expect_operand:
                raise ExpressionError("two numbers in a row without an operator")
            numbers.append(int(token))
            values.append(Fraction(int(token)))
            expect_operand = False
        elif token == "(":
            if not expect_operand:
                raise ExpressionError(
                    "'(' right after an operand (implicit products are not allowed)"
                )
            ops.append(token)
        elif token == ")":
            if expect_operand:
                raise ExpressionError("')' where an operand was expected")
            while ops and ops[-1] != "(":
                _apply(values, ops.pop())
            if not ops:
                raise ExpressionError("unbalanced ')'")
            ops.pop()
        else:
            if expect_operand and token == "-" and unary_minus:
                ops.append("neg")
                continue
            if expect_operand:
                raise ExpressionError(f"operator {token!r} without a left operand")
            while ops and ops[-1] != "(" and _PRECEDENCE[ops[-1]] >= _PRECEDENCE[token]:
                _apply(values, ops.pop())
            ops.append(token)
            expect_operand = True
    if expect_operand:
        raise ExpressionError("the expression is empty or ends with an operator")
    while ops:
        op = ops.pop()
        if op == "(":
            raise ExpressionError("unbalanced '('")
        _apply(values, op)
    return values[0], numbers


# --- the family ---------------------------------------------------------------------------------


def _pick(rng: random.Random, k: int) -> int:
    """A uniform index below ``k`` (several times cheaper than ``randrange``)."""
    return int(rng.random() * k)


def _combine(rng: random.Random, a: int, b: int, operators: str) -> int | None:
    """One random step of a classic Countdown: results stay positive integers."""
    op = operators[_pick(rng, len(operators))]
    if op == "+":
        return a + b
    if op == "*":
        return a * b
    if op == "-":
        return abs(a - b) or None
    if b > 1 and a % b == 0:
        return a // b
    if a > 1 and b % a == 0:
        return b // a
    return None


def _construct(rng: random.Random, numbers: list[int], operators: str) -> int | None:
    """The value of a random expression over a random subset (at least two) of ``numbers``."""
    count = max(2, len(numbers) - 1 + _pick(rng, 2))
    pool = sorted(numbers, key=lambda _: rng.random())[:count]
    while len(pool) > 1:
        a = pool.pop(_pick(rng, len(pool)))
        b = pool.pop(_pick(rng, len(pool)))
        combined = _combine(rng, a, b, operators)
        if combined is None:
            return None
        pool.append(combined)
    return pool[0]


def generate(rng: random.Random, p: CountdownParams) -> Task:
    """A solvable task: the target is the value of a random expression over the numbers."""
    target = None
    for _ in range(50):
        numbers = [1 + _pick(rng, p.max_number) for _ in range(p.num_numbers)]
        for _ in range(8):  # several expressions over the same numbers before new numbers
            target = _construct(rng, numbers, p.operators)
            if target is not None and p.min_target <= target <= p.max_target:
                if target not in numbers:
                    break
            target = None
        if target is not None:
            break
    else:  # the knobs make in-range targets rare: the sum of all numbers is always reachable
        target = sum(numbers)
    shown = ", ".join(map(str, numbers))
    prompt = (
        f"Using the numbers [{shown}], write an arithmetic expression that equals {target}. "
        "You may use +, -, *, / and parentheses. Each given number may be used at most once, "
        "and no other numbers may appear. Write only the expression, without '='."
    )
    data = {"numbers": numbers, "target": target}
    return Task(id="", prompt=prompt, answer=data, metadata=dict(data))


def check(answer: str, task: Task) -> Verdict:
    """Parse the expression, check the numbers used against those given, compare the value."""
    numbers, target = task.answer["numbers"], task.answer["target"]
    expression = answer
    if "=" in expression:  # "3 * 4 = 12" states the target: accept it only when it is the target
        expression, _, stated = expression.rpartition("=")
        if stated.strip() != str(target):
            return wrong(f"the expression is said to equal {stated.strip()[:20]!r}, not {target}")
    if len(expression) > MAX_EXPRESSION_CHARS:
        return Verdict.make(
            Status.INVALID_INPUT,
            f"the expression has {len(expression)} characters, over {MAX_EXPRESSION_CHARS}",
            expected=target,
        )
    try:
        value, used = evaluate_expression(expression)
    except ExpressionError as error:
        return wrong(f"not a valid expression: {error}", expected=target)
    extra = Counter(used) - Counter(numbers)
    if extra:
        return wrong(
            f"uses numbers that were not given (or too often): {sorted(extra)}", expected=target
        )
    if value != target:
        return wrong(f"the expression equals {value}, not {target}", expected=target)
    return correct(f"reaches {target} with the given numbers", expected=target)


def solve(task: Task) -> str:
    """An expression for the target: depth-first search over pairs, positive integer steps."""
    numbers, target = task.answer["numbers"], task.answer["target"]
    seen: set[tuple[int, ...]] = set()
    stack = [tuple((n, str(n)) for n in numbers)]
    while stack:
        items = stack.pop()
        for value, text in items:
            if value == target:
                return text
        key = tuple(sorted(v for v, _ in items))
        if key in seen or len(items) < 2:
            continue
        seen.add(key)
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                (a, ta), (b, tb) = items[i], items[j]
                rest = items[:i] + items[i + 1 : j] + items[j + 1 :]
                steps = [(a + b, f"({ta} + {tb})"), (a * b, f"({ta} * {tb})")]
                big, small = ((a, ta), (b, tb)) if a >= b else ((b, tb), (a, ta))
                if a != b:
                    steps.append((big[0] - small[0], f"({big[1]} - {small[1]})"))
                if big[0] % small[0] == 0:
                    steps.append((big[0] // small[0], f"({big[1]} / {small[1]})"))
                stack.extend(rest + ((v, t),) for v, t in steps)
    raise ValueError(f"no expression reaches {target} with {numbers}")


def perturb(task: Task, answer: str, rng: random.Random) -> list[str]:
    """Wrong by construction: off by one, a number reused, a number not given, the bare target."""
    numbers, target = task.answer["numbers"], task.answer["target"]
    wrongs = [f"({answer}) + 1", str(target), f"{answer} = {target + 1}"]
    _, used = evaluate_expression(answer)
    reused = next((n for n in used if used.count(n) + 2 > numbers.count(n)), None)
    if reused is not None:
        wrongs.append(f"({answer}) * {reused} / {reused}")
    absent = next(n for n in range(1, 2000) if n not in numbers)
    wrongs.append(f"({answer}) + {absent} - {absent}")
    return wrongs


COUNTDOWN = Family(
    name="countdown",
    params=CountdownParams,
    levels=LEVELS,
    default_level=3,
    generate=generate,
    check=check,
    solve=solve,
    perturb=perturb,
)
