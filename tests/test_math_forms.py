"""Answer forms: the right value in the form the task asks for, and echoes of the question refused."""

from __future__ import annotations

import pytest

from rlvr_envs.tasks import Task
from rlvr_envs.verdict import Status
from rlvr_envs.verifiers.math import MathVerifier, restates_answer, verify


def status(response: str, gold: str, **options) -> Status:
    return verify(response, gold, **options).status


@pytest.mark.parametrize(
    "answer, gold",
    [
        ("8", "8"),
        ("-12", "-12"),
        ("0.5", "1/2"),
        ("\\frac{7}{2}", "3.5"),
        ("-\\frac{7}{2}", "-3.5"),
        ("3\\frac{1}{2}", "7/2"),  # a mixed number
        ("25\\%", "0.25"),
        ("1.5 \\times 10^{3}", "1500"),  # scientific notation
        ("x = 4", "4"),  # an assignment of a number
        ("3 + 5 = 8", "8"),  # working, then the number
        ("-3, 2", "2, -3"),
    ],
)
def test_number_form_accepts_number_literals(answer, gold):
    assert status(f"\\boxed{{{answer}}}", gold, answer_form="number") is Status.CORRECT


@pytest.mark.parametrize(
    "answer, gold",
    [
        ("3 + 5", "8"),
        ("6!", "720"),
        ("2^{10}", "1024"),
        ("\\sqrt{16}", "4"),
        ("\\binom{8}{4}", "70"),
        ("(9+1)", "10"),
        ("12 \\cdot 3", "36"),
        ("2 \\cdot \\frac{7}{4}", "7/2"),
        ("x = 2 + 2", "4"),
        ("32 / 8", "4"),  # a division left to do
        ("\\frac{14}{4}", "7/2"),  # a fraction not in lowest terms
        ("1 + 1, 3", "2, 3"),
    ],
)
def test_number_form_refuses_unevaluated_expressions_with_a_distinct_status(answer, gold):
    verdict = verify(f"\\boxed{{{answer}}}", gold, answer_form="number")
    assert verdict.status is Status.WRONG_FORM and verdict.reward == 0.0
    assert verdict.reason.startswith("unevaluated expression")
    assert verify(f"\\boxed{{{answer}}}", gold).correct  # the value is right: "any" accepts it


def test_a_wrong_value_is_wrong_whatever_its_form():
    assert status("\\boxed{3 + 6}", "8", answer_form="number") is Status.WRONG
    assert status("\\boxed{9}", "8", answer_form="number") is Status.WRONG


@pytest.mark.parametrize(
    "answer, gold",
    [
        ("6x^2 - 5x - 4", "6x^{2} - 5x - 4"),
        ("-5x + 6x^2 - 4", "6x^{2} - 5x - 4"),
        ("1 + \\sqrt{2}", "\\sqrt{2} + 1"),
        ("\\frac{x}{2} + 1", "x/2 + 1"),
        ("2\\sqrt{3}", "\\sqrt{12}"),
        ("(x+1)^2", "(x+1)^{2}"),  # the gold keeps the power: so may the answer
        ("-\\frac{1}{2}x", "-x/2"),
    ],
)
def test_simplified_form_accepts_simplified_expressions(answer, gold):
    verdict = verify(f"\\boxed{{{answer}}}", gold, answer_form="simplified")
    assert verdict.correct, (verdict.status, verdict.reason)


@pytest.mark.parametrize(
    "answer, gold, problem",
    [
        ("(2x+1)(3x-4) + 5x", "6x^{2} - 4", "to expand"),
        ("6x^2 - 8x + 3x - 4 + 5x", "6x^{2} - 4", "like terms"),
        ("6x^2 + 2 - 6", "6x^{2} - 4", "like terms"),
        ("(2 \\cdot 3)x^2 - 4", "6x^{2} - 4", "evaluates to a number"),
        ("\\sqrt{4}x", "2x", "evaluates to a number"),
        ("\\frac{6}{4}x", "3x/2", "evaluates to a number"),
        ("(x+1)^2", "x^2 + 2x + 1", "to expand"),
    ],
)
def test_simplified_form_refuses_work_left_to_do(answer, gold, problem):
    verdict = verify(f"\\boxed{{{answer}}}", gold, answer_form="simplified")
    assert verdict.status is Status.WRONG_FORM, (verdict.status, verdict.reason)
    assert problem in verdict.reason


def test_unknown_answer_form_is_rejected():
    with pytest.raises(ValueError, match="answer_form must be one of"):
        verify("1", "1", answer_form="tidy")
    with pytest.raises(ValueError, match="answer_form must be one of"):
        MathVerifier(answer_form="tidy")


def test_the_form_and_mode_are_named_in_the_verdict():
    verdict = verify("\\boxed{3 + 5}", "8", answer_form="number", mode="lenient")
    assert verdict.details == {"mode": "lenient", "answer_form": "number", "method": "boxed"}
    assert verdict.to_dict()["status"] == "wrong_form"


# --- echoes of the question ---------------------------------------------------------------------

ECHOES = [
    ("Compute $\\dbinom{8}{4}$.", "70", "\\binom{8}{4}"),
    ("Write $\\frac{3}{20}$ as a decimal.", "0.15", "\\frac{3}{20}"),
    ("Simplify $\\sqrt{242}$.", "11\\sqrt{2}", "\\sqrt{242}"),
    ("What is $2^{10} - 24$?", "1000", "2^{10}-24"),
]


@pytest.mark.parametrize("question, gold, echo", ECHOES)
def test_an_echo_of_the_question_is_refused(question, gold, echo):
    assert verify(f"\\boxed{{{echo}}}", gold).correct  # the value is right
    verdict = verify(f"\\boxed{{{echo}}}", gold, question=question)
    assert verdict.status is Status.WRONG_FORM
    assert "restates the question" in verdict.reason
    assert verify(f"\\boxed{{{gold}}}", gold, question=question).correct


def test_a_question_that_holds_the_answer_is_not_an_echo():
    # "in simplest radical form": the question's expression is the answer itself.
    question = "What is $\\sqrt{53}$ in simplest radical form?"
    assert verify("\\boxed{\\sqrt{53}}", "\\sqrt{53}", question=question).correct
    # A value the question states is data, not an expression to compute.
    assert verify("\\boxed{x = 3}", "3", question="If $x = 3$, what is $x$?").correct


def test_math_verifier_passes_the_prompt_as_the_question_when_asked():
    task = Task(id="t", prompt="Compute $\\dbinom{8}{4}$.", answer="70")
    assert MathVerifier()("\\boxed{\\binom{8}{4}}", task).correct
    verdict = MathVerifier(reject_echo=True)("\\boxed{\\binom{8}{4}}", task)
    assert verdict.status is Status.WRONG_FORM
    assert MathVerifier(reject_echo=True)("\\boxed{70}", task).correct


def test_restates_answer_is_about_writing_not_value():
    assert restates_answer("\\frac12", "\\frac{1}{2}")
    assert restates_answer("1/2", "\\frac{1}{2}")
    assert restates_answer("x+1", "1+x")
    assert not restates_answer("0.5", "\\frac{1}{2}")
    assert not restates_answer("3 + 5", "8")
    assert not restates_answer("\\frac{1}{", "1")
