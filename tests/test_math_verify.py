"""The math verifier end to end: statuses, the graders' known mistakes, reference solutions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlvr_envs.tasks import Task
from rlvr_envs.verdict import Status
from rlvr_envs.verifiers import get_verifier
from rlvr_envs.verifiers.math import MathVerifier, verify

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def status(response: str, gold: str, **options) -> Status:
    return verify(response, gold, **options).status


# --- the contract -------------------------------------------------------------------------------


def test_verdict_fields():
    verdict = verify("so the answer is \\boxed{\\frac{1}{2}}.", "0.5")
    assert verdict.status is Status.CORRECT and verdict.reward == 1.0
    assert verdict.extracted == "\\frac{1}{2}"
    assert verdict.expected == "0.5"
    assert verdict.details["method"] == "boxed"
    assert verdict.elapsed_s >= 0


def test_non_string_response_raises_type_error():
    with pytest.raises(TypeError, match="response must be a str"):
        verify(42, "42")  # type: ignore[arg-type]


def test_no_answer():
    assert (
        status("I am not sure how to do this problem, sorry about that.", "5") is Status.NO_ANSWER
    )
    assert status("", "5") is Status.NO_ANSWER
    assert status("\\boxed{}", "5") is Status.NO_ANSWER


def test_invalid_input():
    assert status("\\boxed{5}" + "x" * 300_000, "5") is Status.INVALID_INPUT
    assert status("\\boxed{5\ud800}", "5") is Status.INVALID_INPUT


def test_bad_gold_is_an_error_not_a_wrong_answer():
    assert status("\\boxed{5}", "\\frac{1}{") is Status.ERROR
    assert status("\\boxed{5}", "") is Status.ERROR
    assert status("\\boxed{5}", None) is Status.ERROR  # type: ignore[arg-type]


def test_numeric_gold_is_accepted():
    assert status("\\boxed{18}", 18) is Status.CORRECT
    assert status("\\boxed{0.5}", 0.5) is Status.CORRECT


def test_unknown_option_is_rejected():
    with pytest.raises(TypeError, match="unknown math verifier option"):
        verify("\\boxed{1}", "1", colour="red")
    with pytest.raises(TypeError):
        MathVerifier(colour="red")


def test_math_verifier_adapter_and_registry():
    task = Task(id="t", prompt="1+1?", answer="2")
    assert MathVerifier()("\\boxed{2}", task).correct
    assert not MathVerifier()("\\boxed{3}", task).correct
    assert get_verifier("math", timeout_s=1.0)("The answer is 2.", task).correct


def test_last_number_fallback_is_optional():
    assert status("She has 3 apples and then 5 more, total 8", "8") is Status.NO_ANSWER
    assert (
        status("She has 3 apples and then 5 more, total 8", "8", last_number=True) is Status.CORRECT
    )


# --- known mistakes of other graders (issue 3) --------------------------------------------------


@pytest.mark.parametrize(
    "response, gold, expected",
    [
        ("First \\boxed{10}. Wait, that is wrong. Redo: \\boxed{12}", "12", Status.CORRECT),
        ("\\fbox{12}", "12", Status.CORRECT),
        ("\\boxed{1\\,000}", "1000", Status.CORRECT),
        ("\\boxed{1\\,000}", "0", Status.WRONG),
        ("The answer is \u22125.", "-5", Status.CORRECT),
        ("\\boxed{90\u00b0}", "90", Status.CORRECT),
        ("\\boxed{x^2 = 3}", "3", Status.WRONG),
        ("\\boxed{x = 3}", "3", Status.CORRECT),
        ("\\boxed{100001}", "100000", Status.WRONG),
        ("\\boxed{(1, 2)}", "[1, 2]", Status.WRONG),
        ("\\boxed{(1, 2]}", "(1, 2)", Status.WRONG),
        ("\\boxed{25}", "0.25", Status.WRONG),
        ("\\boxed{0.25}", "25", Status.WRONG),
        ("\\boxed{25\\%}", "0.25", Status.CORRECT),
        ("\\boxed{3.14}", "\\pi", Status.WRONG),
        ("\\boxed{1.414}", "\\sqrt{2}", Status.WRONG),
        ("\\boxed{6!}", "6", Status.WRONG),
        ("\\boxed{17}", "7", Status.WRONG),
        ("The answer is either 2 or 3.", "2", Status.WRONG),
        ("\\boxed{2} or \\boxed{3}", "2", Status.WRONG),
        ("\\boxed{2}, \\boxed{3}", "2, 3", Status.CORRECT),
    ],
)
def test_known_grader_mistakes(response, gold, expected):
    assert status(response, gold) is expected


# --- reference solutions ------------------------------------------------------------------------


def _rows(name: str) -> list[dict]:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"{path} not available")
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_math500_reference_solutions_all_verify():
    failures = [
        (row["answer"], verdict.extracted, verdict.status.value)
        for row in _rows("math500_test.jsonl")
        if not (verdict := verify(row["solution"], row["answer"])).correct
    ]
    assert failures == []


def test_gsm8k_reference_solutions_all_verify():
    failures = []
    for row in _rows("gsm8k_test.jsonl"):
        gold = row["answer"].split("####")[-1].strip().replace(",", "")
        verdict = verify(row["answer"], gold)
        if not verdict.correct:
            failures.append((gold, verdict.extracted, verdict.status.value))
    assert failures == []


def test_import_is_light():
    import subprocess
    import sys

    code = (
        "import sys, rlvr_envs.verifiers.math; "
        "heavy = [m for m in ('sympy', 'torch', 'math_verify', 'latex2sympy2_extended') "
        "if m in sys.modules]; print(heavy)"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
