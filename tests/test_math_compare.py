"""Evaluation and equivalence stages of the math verifier."""

from __future__ import annotations

from fractions import Fraction

import pytest

from rlvr_envs.verifiers.math.compare import Comparer, form_of
from rlvr_envs.verifiers.math.evaluate import Evaluator, Gaussian
from rlvr_envs.verifiers.math.limits import (
    DEFAULT_LIMITS,
    Deadline,
    Limits,
    NotExact,
    TooLarge,
    Undefined,
)
from rlvr_envs.verifiers.math.normalize import normalize_answer
from rlvr_envs.verifiers.math.parse import parse_answer


def node(text: str):
    return parse_answer(normalize_answer(text), DEFAULT_LIMITS, Deadline(2.0))


def form(text: str):
    return form_of(node(text))


def same(gold: str, response: str) -> bool:
    return Comparer(DEFAULT_LIMITS, Deadline(2.0)).equal(form(gold), form(response))


def exact(text: str):
    return Evaluator(DEFAULT_LIMITS, Deadline(2.0)).exact(node(text))


# --- evaluation ---------------------------------------------------------------------------------


def test_exact_arithmetic():
    assert exact(r"\frac{1}{3} + \frac{1}{6}") == Fraction(1, 2)
    assert exact("2^{-3}") == Fraction(1, 8)
    assert exact("8^{2/3}") == 4
    assert exact(r"\sqrt{\frac{9}{4}}") == Fraction(3, 2)
    assert exact(r"\sqrt[3]{-27}") == -3
    assert exact(r"\binom{6}{2}") == 15
    assert exact("5!") == 120
    assert exact("(1+2i)(1-2i)") == 5
    assert exact("i^2") == -1
    assert exact(r"\sqrt{-4}") == Gaussian(Fraction(0), Fraction(2))
    assert exact("|-3|") == 3
    assert exact(r"\lfloor 7/2 \rfloor") == 3


@pytest.mark.parametrize("text", [r"\sqrt{2}", r"\pi", "e", r"\sin 1", "2^{1/2}"])
def test_irrational_values_are_not_exact(text):
    with pytest.raises(NotExact):
        exact(text)


@pytest.mark.parametrize("text", ["1/0", "0^{-1}", "(-1)!"])
def test_undefined_values(text):
    with pytest.raises(Undefined):
        exact(text)


@pytest.mark.parametrize(
    "text", ["10^{10^{10}}", "2^{100000}", "3000!", r"\binom{100000}{50000}", "(1+i)^{90000}"]
)
def test_size_guards_refuse_before_computing(text):
    with pytest.raises(TooLarge):
        exact(text)


def test_numeric_guards():
    evaluator = Evaluator(Limits(), Deadline(2.0))
    assert abs(evaluator.numeric(node(r"\sqrt[3]{-8}")) - (-2)) < 1e-12
    with pytest.raises(TooLarge):
        evaluator.numeric(node("e^{e^{e^{10}}}"))
    with pytest.raises(TooLarge):
        evaluator.numeric(node(r"\pi^{-100000}"))  # underflow to 0 would be a misleading value


# --- answer forms -------------------------------------------------------------------------------


def test_answer_forms():
    assert form("5")[0] == "scalar"
    assert form("25%") == ("scalar", node("25"), True)
    assert form("1, 2")[0] == "multi" and not form("1, 2")[2]
    assert form(r"\{1, 2\}")[2] is True
    assert form("(1, 2, 3)")[0] == "tuple"
    assert form("[1, 2)")[0] == "intervals"
    assert form("x > 2")[0] == "intervals"
    assert form("x = 5")[0] == "assign"
    assert form("x^2 = 5")[0] == "equation"
    assert form("2 + 3 = 5")[0] == "numeq"
    assert form(r"1 \pm \sqrt{2}")[0] == "multi"
    assert form(r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}")[0] == "matrix"


# --- equivalence --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "gold, response, expected",
    [
        ("100000", "100001", False),
        ("0.1", r"\frac{1}{10}", True),
        (r"\pi", "3.14159", False),
        (r"\frac{\pi}{2}", r"\frac{2\pi}{4}", True),
        (r"\sqrt{2}+\sqrt{3}", r"\sqrt{5+2\sqrt{6}}", True),
        ("(x+1)^2", "x^2+2x+1", True),
        ("(x+1)^2", "x^2+2x+2", False),
        ("|x|", r"\sqrt{x^2}", True),
        ("|x|", "x", False),
        (r"2\ln x", r"\ln x^2", True),
        (r"\ln x", r"\ln(-x)", False),
        ("(1, 2)", "(2, 1)", False),
        ("1, 2", "2, 1", True),
        ("[1, 2]", r"\{1, 2\}", False),
        ("(2, 5)", "2 < x < 5", True),
        ("x = 3", "3", True),
        ("x < 1", "-x > -1", True),
        ("x < 1", "1 > x", True),
        ("(-1, 2]", "0 < 2x + 2 <= 6", True),
        ("(-1, 2]", "0 < -2x + 2 <= 6", False),
        ("(2, 3)", "x^2 - 5x + 6 < 0", False),  # not linear: not solved, never guessed
        ("3", "x^2 = 3", False),
        ("y = 2x + 1", "2y = 4x + 2", True),
        ("y = 2x + 1", "y = 2x", False),
        ("25%", "0.25", True),
        ("0.25", "25", False),
        ("2", "2, 3", False),
        (r"\infty", r"\infty", True),
        ("(-\\infty, 1)", "(-\\infty, 1]", False),
    ],
)
def test_equivalence(gold, response, expected):
    assert same(gold, response) is expected


def test_hedge_reason_is_reported():
    comparer = Comparer(DEFAULT_LIMITS, Deadline(2.0))
    assert not comparer.equal(form("2"), form("2, 3"))
    assert comparer.reason == "several different answers"


def test_decimal_approximation_reason_is_reported():
    comparer = Comparer(DEFAULT_LIMITS, Deadline(2.0))
    assert not comparer.equal(form(r"\sqrt{2}"), form("1.41421356"))
    assert "approximation" in comparer.reason
