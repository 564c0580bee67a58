"""Extraction modes: strict (marked answers only) for training, lenient (as Math-Verify) for evaluation."""

from __future__ import annotations

import pytest

from rlvr_envs.verdict import Status
from rlvr_envs.verifiers.math import MathVerifier, extract_answer, verify
from rlvr_envs.verifiers.math.spans import last_candidate, math_spans

# Issue 14's unboxed answers: none is found by strict mode, each by lenient mode.
UNBOXED = [
    ("The total is 103,085 dollars.", "103085", "last_number"),
    ("Answer $ 9 $", "9", "whole/math_span"),
    ("Therefore $x \\geq 5$ is the solution.", "x \\ge 5", "math_span"),
    ("Final Answer: The largest $n$ is 34.", "34", "final_answer/last_number"),
    (
        "The product is $\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}$ as computed.",
        "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
        "math_span",
    ),
    ("We find that $x \\lt 3$.", "x < 3", "math_span"),
    ("so we get \\[ \n \\frac{10}{9} \n \\] at last", "10/9", "math_span"),
]


@pytest.mark.parametrize("response, gold, method", UNBOXED)
def test_unboxed_answers_count_in_lenient_mode_only(response, gold, method):
    lenient = verify(response, gold, mode="lenient")
    assert lenient.correct, (lenient.status, lenient.reason, lenient.extracted)
    assert lenient.details["method"] == method
    assert lenient.details["mode"] == "lenient"
    strict = verify(response, gold)
    assert not strict.correct and strict.details["mode"] == "strict"


def test_strict_mode_is_the_default_and_reads_marked_answers():
    assert verify(r"so \boxed{12}", "12").details == {
        "mode": "strict",
        "answer_form": "any",
        "method": "boxed",
    }
    assert verify("She has 3 apples and then 5 more, total 8", "8").status is Status.NO_ANSWER
    assert verify("She has 3 apples and then 5 more, total 8", "8", mode="lenient").correct


def test_bad_mode_and_options_are_rejected_up_front():
    with pytest.raises(ValueError, match="mode must be one of"):
        verify("1", "1", mode="loose")
    with pytest.raises(ValueError, match="mode must be one of"):
        MathVerifier(mode="loose")
    with pytest.raises(ValueError, match="strict mode compares exactly"):
        verify("1", "1", numeric_digits=4)
    with pytest.raises(ValueError, match="positive integer"):
        verify("1", "1", mode="lenient", numeric_digits=0)
    with pytest.raises(TypeError, match="question must be a str"):
        verify("1", "1", question=5)


def test_a_final_answer_after_the_last_box_wins_in_lenient_mode():
    text = r"Interest is \boxed{255}. Total $10,455. Final Answer: The final answer is $10,455$."
    assert verify(text, "10455", mode="lenient").correct
    assert verify(text, "255").correct  # strict keeps the box: training asks for one
    # A final-answer phrase before the box does not override it.
    assert verify(r"The final answer is \boxed{7}.", "7", mode="lenient").correct


def test_the_last_candidate_wins_and_names_are_not_answers():
    assert last_candidate("so $x=3$. Then there are 2 solutions.")[0] == "2"
    assert last_candidate("The volume of $ABCDEFGH$ is 120. I hope it is correct.")[0] == "120"
    assert last_candidate("the domain of $f(x)$ is 19.")[0] == "19"
    assert last_candidate("The answer is option $B$.")[0] == "B"  # only names: the last one
    assert last_candidate("no math here") is None


def test_spans_joined_by_connectors_are_one_answer():
    found = extract_answer("the roots are $1$, $2$ and $3$.", mode="lenient")
    assert found.answer == "1, 2, 3" and found.parts == ("1", "2", "3")
    assert verify("the roots are $1$, $2$ and $3$.", "1, 2, 3", mode="lenient").correct
    # Prose between spans separates them: only the last counts.
    assert extract_answer("first $1$, then after a while $2$", mode="lenient").answer == "2"


def test_currency_dollars_are_not_math_spans():
    assert math_spans("He paid $5 and got $3 back.") == []
    assert verify("He paid $5 and got $3 back.", "3", mode="lenient").correct
    spans = math_spans("It costs $5. Then $x = 3$ follows.")
    assert [content for _, _, content in spans] == ["x = 3"]


def test_inline_math_does_not_cross_lines_and_broken_math_is_not_read():
    assert math_spans("Answer $ \n 9 \n $") == []
    assert not verify("Answer $ \n 9 \n $", "9", mode="lenient").correct
    assert not verify("Answer \\( \n 9 \n \\)", "9", mode="lenient").correct
    assert verify("Answer $$ \n 9 \n $$", "9", mode="lenient").correct  # display math may


def test_numbers_glued_to_letters_are_not_answers():
    assert not verify("AZYUK2A", "2", mode="lenient").correct


def test_escaped_dollars_stay_inside_a_span():
    spans = math_spans(r"Answer $ \frac{1}{2} \$ = \frac{10}{9} $")
    assert len(spans) == 1 and spans[0][2].endswith(r"\frac{10}{9}")


def test_decimal_comma_is_read_only_against_a_single_number():
    assert verify("Soucis : 2,74 $ a..", "2.74", mode="lenient").correct
    assert verify(r"\boxed{1000,99}", "1000.99").correct
    assert verify(r"\boxed{0,111}", "0.111").correct
    assert not verify(r"\boxed{1,5}", "1.4").correct
    # Against a list it is a list; three digits after the comma are thousands.
    assert verify(r"\boxed{1,22}", "1, 22").correct
    assert verify(r"\boxed{7,425,000}", "7425000").correct
