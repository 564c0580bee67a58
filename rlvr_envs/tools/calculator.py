"""Exact arithmetic on rationals for the ``calculator`` tool: parsed, never executed.

An expression is parsed with :mod:`ast` and only numbers, ``+ - * / // % **`` (``^`` means power,
as on a calculator), unary signs and parentheses are accepted; decimals are read exactly
(``0.1`` is 1/10). Everything is bounded: the expression's length and size, exponents, and the
size of every intermediate result, so hostile input (``9**9**9``) is refused, not computed.
"""

from __future__ import annotations

import ast
import operator
import warnings
from collections.abc import Callable
from fractions import Fraction

MAX_CHARS = 1000
MAX_NODES = 400
MAX_BITS = 20_000  # numerator and denominator of any intermediate result
MAX_EXPONENT = 10_000

_BINARY: dict[type, Callable[[Fraction, Fraction], Fraction]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: lambda a, b: Fraction(a // b),
    ast.Mod: operator.mod,
}
_SYMBOLS = {"×": "*", "·": "*", "÷": "/", "−": "-", "^": "**"}


class CalculatorError(ValueError):
    """The expression is not one the calculator accepts, or its value is too large."""


def _checked(value: Fraction) -> Fraction:
    if value.numerator.bit_length() > MAX_BITS or value.denominator.bit_length() > MAX_BITS:
        raise CalculatorError(f"a result has over {MAX_BITS} bits; the calculator stops there")
    return value


def _power(base: Fraction, exponent: Fraction) -> Fraction:
    if exponent.denominator != 1:
        raise CalculatorError("exponents must be whole numbers (the calculator is exact)")
    power = exponent.numerator
    if abs(power) > MAX_EXPONENT:
        raise CalculatorError(f"exponents are limited to ±{MAX_EXPONENT}")
    bits = max(base.numerator.bit_length(), base.denominator.bit_length())
    if bits * abs(power) > MAX_BITS:
        raise CalculatorError(f"the power has over {MAX_BITS} bits; the calculator stops there")
    if base == 0 and power < 0:
        raise CalculatorError("division by zero")
    return base**power


def _evaluate(node: ast.AST, source: str) -> Fraction:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, source)
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CalculatorError(f"not a number: {ast.get_source_segment(source, node)!r}")
        if isinstance(value, float):  # read the literal's digits, not the binary float
            return _checked(Fraction(ast.get_source_segment(source, node) or repr(value)))
        return _checked(Fraction(value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        value = _evaluate(node.operand, source)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, source), _evaluate(node.right, source)
        if isinstance(node.op, ast.Pow):
            return _checked(_power(left, right))
        operation = _BINARY.get(type(node.op))
        if operation is None:
            raise CalculatorError(f"unsupported operator {type(node.op).__name__}")
        if right == 0 and isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)):
            raise CalculatorError("division by zero")
        return _checked(operation(left, right))
    segment = ast.get_source_segment(source, node) or type(node).__name__
    raise CalculatorError(
        f"unsupported: {segment!r:.60}; use numbers, + - * / // % ** (or ^) and parentheses"
    )


def evaluate(expression: str) -> Fraction:
    """The exact value of an arithmetic expression."""
    if not isinstance(expression, str):
        raise CalculatorError("the expression must be a string")
    if len(expression) > MAX_CHARS:
        raise CalculatorError(f"the expression is over {MAX_CHARS} characters")
    text = expression.strip()
    for symbol, replacement in _SYMBOLS.items():
        text = text.replace(symbol, replacement)
    if not text:
        raise CalculatorError("the expression is empty")
    try:
        # Sloppy literals ("1if") make the parser warn on stderr; refuse them instead.
        with warnings.catch_warnings():
            warnings.simplefilter("error", SyntaxWarning)
            tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise CalculatorError(f"cannot parse {expression!r:.80}: {exc.msg}") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise CalculatorError(f"the expression has over {MAX_NODES} parts")
    return _evaluate(tree, text)


def format_value(value: Fraction) -> str:
    """An integer, or a reduced fraction ``p/q``."""
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator}/{value.denominator}"
