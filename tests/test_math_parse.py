"""Normalisation and parsing stages of the math verifier."""

from __future__ import annotations

from fractions import Fraction

import pytest

from rlvr_envs.verifiers.math.limits import DEFAULT_LIMITS, Deadline, TooLarge
from rlvr_envs.verifiers.math.normalize import (
    choice_letter,
    is_textual,
    normalize_answer,
    normalize_text,
)
from rlvr_envs.verifiers.math.parse import ParseError, parse_answer


def parse(text: str):
    return parse_answer(normalize_answer(text), DEFAULT_LIMITS, Deadline(2.0))


def num(value, digits=0):
    return ("num", Fraction(value), digits)


@pytest.mark.parametrize(
    "raw, normal",
    [
        (r"$\boxed{5}$", "5"),
        (r"\left( 3, \frac{\pi}{2} \right)", r"( 3, \frac{\pi}{2} )"),
        (r"\dfrac{1}{2}", r"\frac{1}{2}"),
        (r"\frac43", r"\frac{4}{3}"),
        (r"\frac 59", r"\frac{5}{9}"),
        (r"\frac9{19}", r"\frac{9}{19}"),
        (r"\sqrt2", r"\sqrt{2}"),
        (r"1\,000", "1000"),
        (r"10,\!080", "10080"),
        (r"1{,}000", "1000"),
        ("58,500", "58500"),
        ("(100,200)", "(100,200)"),  # a pair, not a thousands separator
        ("\u22125", "-5"),
        ("90\u00b0", r"90^\circ"),
        (r"90 \text{ degrees}", r"90^\circ"),
        (r"25\%", "25%"),
        (r"\$18.90", "18.90"),
        (r"864 \mbox{ inches}^2", "864"),
        ("18 dollars", "18"),
        (r"2 \text{ or } 3", "2 or 3"),
        ("x\u00b2", "x^{2}"),
        (r"\text{Evelyn}", r"\text{Evelyn}"),
        (r"2x = 6 \Rightarrow x = 3", "x = 3"),
        ("14 {, }916", "14916"),
        ("1 000 000", "1000000"),
        ("2 3", "2 3"),  # not a thousands group
        ("28 pct", "28%"),
    ],
)
def test_normalize_answer(raw, normal):
    assert normalize_answer(raw) == normal


def test_text_and_choice_helpers():
    assert is_textual(r"\text{Evelyn}") and is_textual("east")
    assert not is_textual("p - q") and not is_textual("ab") and not is_textual(r"\sin x")
    assert normalize_text(r"\text{The East.}") == "east"
    assert choice_letter(r"\text{(C)}", gold=True) == "C"
    assert choice_letter("C", gold=True) == "C"
    assert choice_letter("x", gold=True) is None
    assert choice_letter("(c) because ...") == "C"
    assert choice_letter("Option B") == "B"
    assert choice_letter("Apple") is None
    assert choice_letter("c + 1") is None  # arithmetic, not an option
    assert choice_letter("A, B, C, D") is None  # every option: a hedge


def test_numbers():
    assert parse("12") == num(12)
    assert parse("3.50") == num(Fraction(7, 2), 3)  # a decimal keeps its significant digits
    assert parse(".0000672") == num(Fraction("0.0000672"), 3)
    assert parse("6.02e23") == num(Fraction("6.02e23"), 3)
    assert parse(r"0.\overline{3}") == num(Fraction(1, 3))
    assert parse(r"1\frac{4}{5}") == num(Fraction(9, 5))
    assert parse("52_8") == ("base", "52", 8)
    assert parse("4210_{5}") == ("base", "4210", 5)


def test_operators_and_precedence():
    assert parse("-x^2") == ("neg", ("pow", ("sym", "x"), num(2)))
    assert parse("2^3^2") == ("pow", num(2), ("pow", num(3), num(2)))
    assert parse("2x") == ("mul", (num(2), ("sym", "x")))
    assert parse("ab") == ("mul", (("sym", "a"), ("sym", "b")))
    assert parse("6!") == ("fact", num(6))
    assert parse(r"1 \pm \sqrt{2}")[0] == "pm"
    assert parse("e")[0] == "const" and parse("i")[0] == "const" and parse("x_1") == ("sym", "x_1")


def test_functions():
    assert parse(r"\cos x / \sin x")[0] == "div"
    assert parse(r"\sin 2x") == ("func", "sin", (("mul", (num(2), ("sym", "x"))),))
    assert parse(r"\sin x \cos x")[0] == "mul"
    assert parse(r"\sin^2 x")[0] == "pow"
    assert parse(r"\log_2 8") == ("func", "log_base", (num(8), num(2)))
    assert parse(r"\sqrt[3]{x}") == ("root", ("sym", "x"), num(3))
    assert parse("sqrt(2)") == ("func", "sqrt", (("group", num(2)),))
    assert parse("|x|") == ("func", "abs", (("sym", "x"),))


def test_brackets_keep_their_meaning():
    assert parse("(1, 2)") == ("bracket", "(", ")", (num(1), num(2)))
    assert parse("(1, 2]") == ("bracket", "(", "]", (num(1), num(2)))
    assert parse(r"\{1, 2\}") == ("set", (num(1), num(2)))
    assert parse("1, 2") == ("list", (num(1), num(2)))
    assert parse("(5)") == ("group", num(5))


def test_relations():
    assert parse("x = 3") == ("eq", (("sym", "x"), num(3)))
    assert parse("x > 2") == ("rel", (">",), (("sym", "x"), num(2)))
    assert parse(r"-2 \le x < 7")[1] == ("<=", "<")
    assert parse(r"x \in [1, 2]")[0] == "in"
    assert parse(r"x = 2 \text{ or } x = 3")[0] == "list"
    assert parse(r"\sqrt{2} \approx 1.414")[0] == "func"


def test_matrices():
    assert parse(r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}") == (
        "matrix",
        ((num(1), num(2)), (num(3), num(4))),
    )
    with pytest.raises(ParseError):
        parse(r"\begin{pmatrix} 1 & 2 \\ 3 \end{pmatrix}")


@pytest.mark.parametrize("bad", [r"\frac{1}{", "(1, 2", "1 +* 2", r"\unknowncommand{3}", "x ="])
def test_parse_errors(bad):
    with pytest.raises(ParseError):
        parse(bad)


def test_parser_size_limits():
    with pytest.raises(TooLarge):
        parse("(" * 100 + "1" + ")" * 100)
    with pytest.raises(TooLarge):
        parse("-" * 500 + "1")
    with pytest.raises(TooLarge):
        parse("9" * 5000)
    with pytest.raises(TooLarge):
        parse("+".join(["x"] * 1500))
