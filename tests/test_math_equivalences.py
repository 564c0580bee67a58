"""The equivalences Math-Verify accepts that issue 14 lists, each with its near misses."""

from __future__ import annotations

import pytest

from rlvr_envs.verifiers.math import verify


def correct(response: str, gold: str, **options) -> bool:
    return verify(response, gold, **options).correct


@pytest.mark.parametrize(
    "response, gold, expected",
    [
        # Thin spaces and other TeX thousands separators.
        ("\\boxed{11,\\!111,\\!111,\\!100}", "11111111100", True),
        ("\\boxed{11\\,111\\,111\\,100}", "11111111100", True),
        ("\\boxed{11,\\!111,\\!111,\\!101}", "11111111100", False),
        # Labelled tuples: the label is a tuple of names.
        ("\\boxed{(3,2)}", "(p,q)=(3,2)", True),
        ("\\boxed{(x, y) = (5, 8)}", "(5, 8)", True),
        ("\\boxed{(3,2,7)}", "(p,q,r)=(3,2,7)", True),
        ("\\boxed{(2,3)}", "(p,q)=(3,2)", False),
        ("\\boxed{(x, y) = (5, 8) \\quad \\text{and} \\quad (8, 5)}", "(5, 8), (8, 5)", True),
        # Ratios, with or without labels; compared part by part.
        ("\\boxed{11:21}", "V_{1}:V_{2}=11:21", True),
        ("\\boxed{7:32}", "S_{MBCN}:S=7:32", True),
        ("\\boxed{21:11}", "V_{1}:V_{2}=11:21", False),
        ("\\boxed{1}", "A:B=1", True),
        ("\\boxed{1:00}", "12:00", False),
        # Other labels built from names.
        ("\\boxed{1}", "|AB|=1", True),
        ("\\boxed{\\frac{1}{\\sqrt{6}}}", "\\frac{NO}{BO}=\\frac{1}{\\sqrt{6}}", True),
        # Solutions given as cycles of assignments.
        ("\\boxed{(5,2),(7,2)}", "p=5,q=2;p=7,q=2", True),
        ("\\boxed{(5,2),(2,7)}", "p=5,q=2;p=7,q=2", False),
        # Function labels name their argument freely.
        ("\\boxed{W(x)=1 \\text{ or } W(x)=-1}", "W(n) = 1 \\text{ and } W(n) = -1", True),
        ("\\boxed{f(t) = 2t + 1}", "f(x) = 2x + 1", True),
        ("\\boxed{f(t) = 2x + 1}", "f(x) = 2x + 1", False),
    ],
)
def test_labels_ratios_and_separators(response, gold, expected):
    assert correct(response, gold) is expected


@pytest.mark.parametrize(
    "response, gold, expected",
    [
        ("\\boxed{-2 \\le x \\le 7}", "x \\in [-2,7]", True),
        ("\\boxed{x \\in [-2,7]}", "-2 \\leq x \\leq 7", True),
        ("\\boxed{-2 < x \\le 7}", "x \\in [-2,7]", False),
        ("\\boxed{x \\lt 3}", "x < 3", True),
        ("\\boxed{x \\gt 5}", "(5, \\infty)", True),
        ("\\boxed{x >= 5}", "x \\geq 5", True),
        ("\\boxed{x <= 2}", "(-\\infty, 2]", True),
        ("\\boxed{x != 3}", "x \\neq 3", True),
        ("\\boxed{x \\neq 3}", "(-\\infty, 3) \\cup (3, \\infty)", True),
        ("\\boxed{x \\ne 4}", "x \\neq 3", False),
        ("\\boxed{(0,1)}", "0<f(x)<1", True),
        ("\\boxed{7 > x > 2}", "(2, 7)", True),
        (
            "\\boxed{z \\in \\left[-\\frac{3}{2}, -1\\right] \\cup \\left[1, \\frac{3}{2}\\right]}",
            "1\\leq|z|\\leq \\frac{3}{2}",
            True,
        ),
        ("\\boxed{[-2, 2]}", "0 \\le |z| \\le 2", True),
        ("\\boxed{[1, \\frac{3}{2}]}", "1\\leq|z|\\leq \\frac{3}{2}", False),
    ],
)
def test_intervals_and_inequalities(response, gold, expected):
    assert correct(response, gold) is expected


@pytest.mark.parametrize(
    "response, gold, expected",
    [
        ("\\boxed{1} and \\boxed{2}", "1, 2", True),
        ("\\boxed{1,2}", "\\boxed{1} and \\boxed{2}", True),
        ("\\(\\boxed{1}\\) and \\(\\boxed{-2}\\).", "-2, 1", True),
        ("$y_1 = \\boxed{3}$ and $y_2 = \\boxed{4}$", "y_1 = 3, y_2 = 4", True),
        ("\\boxed{1} papers and \\boxed{2} bins", "1, 2", True),
        ("\\boxed{(3, 3)} \\text{ for part (a) and } \\boxed{(1, 1)}", "(3, 3), (1, 1)", True),
        # A discarded box is still not part of the answer; a hedge is still a hedge.
        ("\\boxed{1}. Wait, that is wrong: \\boxed{2}", "1, 2", False),
        ("\\boxed{1} and \\boxed{2}", "2", False),
    ],
)
def test_several_boxed_answers_and_one_list(response, gold, expected):
    assert correct(response, gold) is expected


def test_long_decimals_round_to_the_gold_in_lenient_mode_only():
    assert correct("$0.0833333333333333$", "\\frac{1}{12}", mode="lenient")
    assert correct("\\boxed{0.333333}", "\\frac{1}{3}", mode="lenient")  # truncated, 6 digits
    assert correct("\\boxed{3.14159265}", "\\pi", mode="lenient")
    assert correct("\\boxed{-0.6666667}", "-\\frac{2}{3}", mode="lenient")
    assert not correct("\\boxed{0.0833}", "\\frac{1}{12}", mode="lenient")  # 3 digits: too few
    assert not correct("\\boxed{3.14}", "\\pi", mode="lenient")
    assert not correct(
        "\\boxed{0.0833333333333336}", "\\frac{1}{12}", mode="lenient"
    )  # 3 units off
    assert not correct("\\boxed{0.0833333333333333}", "\\frac{1}{12}")  # strict: exact only
    # Configurable: how many significant digits a decimal needs.
    assert correct("\\boxed{0.0833}", "\\frac{1}{12}", mode="lenient", numeric_digits=3)
    assert correct(
        "\\boxed{(0.6,2.6667]}", "(\\frac{3}{5},\\frac{8}{3}]", mode="lenient", numeric_digits=2
    )
    assert not correct(
        "\\boxed{0.0833333333333333}", "\\frac{1}{12}", mode="lenient", numeric_digits=None
    )


@pytest.mark.parametrize(
    "response, gold, expected",
    [
        (
            "\\boxed{\\left[\\begin{array}{cc}1 & 2 \\\\3 & 4\\end{array}\\right]}",
            "\\begin{pmatrix}1 & 2 \\\\3 & 4\\end{pmatrix}",
            True,
        ),
        (
            "\\boxed{\\left[\\begin{array}{cc}1 & 2 \\\\3 & 5\\end{array}\\right]}",
            "\\begin{pmatrix}1 & 2 \\\\3 & 4\\end{pmatrix}",
            False,
        ),
        (
            "\\boxed{\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix} + \\begin{pmatrix}5 & 6 \\\\ 7 & 8\\end{pmatrix}}",
            "\\begin{pmatrix}6 & 8 \\\\ 10 & 12\\end{pmatrix}",
            True,
        ),
        (
            "\\boxed{\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix} \\begin{pmatrix}0 & 1 \\\\ 1 & 0\\end{pmatrix}}",
            "\\begin{pmatrix}2 & 1 \\\\ 4 & 3\\end{pmatrix}",
            True,
        ),
        (
            "\\boxed{2\\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatrix}}",
            "\\begin{pmatrix}2 & 0 \\\\ 0 & 2\\end{pmatrix}",
            True,
        ),
        (
            "\\boxed{\\begin{pmatrix}1 & 2\\end{pmatrix} + \\begin{pmatrix}1 \\\\ 2\\end{pmatrix}}",
            "\\begin{pmatrix}2 & 4\\end{pmatrix}",
            False,  # shapes do not add
        ),
    ],
)
def test_matrices(response, gold, expected):
    assert correct(response, gold) is expected


@pytest.mark.parametrize(
    "response, gold, expected",
    [
        (
            "\\boxed{\\text{The midpoints form a regular hexagon}}",
            "\\text{The midpoints form a regular hexagon}",
            True,
        ),
        ("\\boxed{odd}", "\\text{odd}", True),
        ("\\boxed{\\text{Even}}", "Even", True),
        ("\\boxed{\\text{even}}", "\\text{odd}", False),
        ("\\boxed{13}", "\\text{13}", True),
    ],
)
def test_text_answers(response, gold, expected):
    assert correct(response, gold) is expected


def test_doubled_backslashes_are_read_as_commands():
    assert correct(
        "$\\\\boxed{\\\\left( 3, \\\\frac{\\\\pi}{2} \\\\right)}.$", "(3, \\frac{\\pi}{2})"
    )
    assert correct("\\boxed{-2 \\\\le x \\\\le 7}", "x \\in [-2,7]")
    # A real row break stays one.
    assert correct(
        "\\boxed{\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}}",
        "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}",
    )


def test_a_chain_of_equations_is_read_from_its_last_side_when_the_rest_does_not_parse():
    assert correct("\\boxed{0}", "1 = \\zzz = x = 0")
    assert correct("\\boxed{x_1=1,\\quadx_{2}=3}", "1, 3")
