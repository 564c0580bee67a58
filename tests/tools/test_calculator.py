"""The calculator: exact, bounded, and never executes anything."""

from __future__ import annotations

import warnings
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlvr_envs.tools import ToolError, get_tool
from rlvr_envs.tools.calculator import CalculatorError, evaluate, format_value


@pytest.mark.parametrize(
    "expression, value",
    [
        ("417 * 863", "359871"),
        ("37 - 5 * 11", "-18"),
        ("(12 + 7) * 3 / 4", "57/4"),
        ("2^10", "1024"),
        ("2 ** -2", "1/4"),
        ("0.1 + 0.2", "3/10"),  # decimals are exact
        ("1e3 + 1", "1001"),
        ("7 // 2 + 7 % 2", "4"),
        ("-(3 - 5)", "2"),
        ("12 × 3 ÷ 4 − 1", "8"),
    ],
)
def test_exact_values(expression: str, value: str) -> None:
    assert get_tool("calculator")(expression) == value


@pytest.mark.parametrize(
    "expression, message",
    [
        ("1 / 0", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("5 % 0", "division by zero"),
        ("9 ** 9 ** 9", "exponents are limited"),
        ("2 ** 30000", "exponents are limited"),
        ("99999 ** 5000", "over 20000 bits"),
        ("2 ** 0.5", "whole numbers"),
        ("__import__('os').system('true')", "unsupported"),
        ("x + 1", "unsupported"),
        ("(1).__class__", "unsupported"),
        ("[1, 2]", "unsupported"),
        ("'a' * 3", "not a number"),
        ("True + 1", "not a number"),
        ("1 +", "cannot parse"),
        ("1if 1 else 2", "cannot parse"),  # a sloppy literal: refused, no SyntaxWarning printed
        ("", "empty"),
        ("1+" * 600 + "1", "over 1000 characters"),
        ("+".join(["1"] * 300), "over 400 parts"),
    ],
)
def test_bad_expressions_are_refused_with_a_reason(expression: str, message: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(CalculatorError, match=message):
            evaluate(expression)
    with pytest.raises(ToolError, match=message):  # what the model reads
        get_tool("calculator").invoke({"expression": expression})


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=6), st.data())
def test_integer_expressions_match_exact_arithmetic(
    numbers: list[int], data: st.DataObject
) -> None:
    ops = [data.draw(st.sampled_from(["+", "-", "*"])) for _ in numbers[1:]]
    expression = str(numbers[0]) + "".join(f" {op} ({n})" for op, n in zip(ops, numbers[1:]))
    assert evaluate(expression) == Fraction(eval(expression))  # noqa: S307 - integers only


def test_format_value() -> None:
    assert format_value(Fraction(6, 3)) == "2" and format_value(Fraction(-1, 3)) == "-1/3"
