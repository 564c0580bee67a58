"""Reasoning format: strict <think>…</think> + answer, partial credit and answer extraction."""

from __future__ import annotations

import pytest

from rlvr_envs.tasks import Task
from rlvr_envs.verdict import Status
from rlvr_envs.verifiers import get_verifier
from rlvr_envs.verifiers.format import (
    FormatError,
    FormatVerifier,
    check_reasoning_format,
    extract_answer,
    split_reasoning,
)

# (response, well formed?) with the default options: a plain answer after the block.
PLAIN = [
    ("<think>2+2 is 4</think>The answer is 4.", True),
    ("  \n<think>\nsteps\n</think>\n\n42\n", True),
    ("<think>a</think>42 <answer>ignored tags are just answer text</answer>", True),
    ("<think></think>42", False),  # empty reasoning
    ("<think>   \n</think>42", False),  # blank reasoning
    ("<think>reasoning</think>", False),  # no answer
    ("<think>reasoning</think>   \n", False),  # blank answer
    ("<think>reasoning</think> <answer></answer>", False),  # an answer of empty tags
    ("<think>reasoning</think><answer> \n </answer>", False),
    ("<think>reasoning</think><br/><p></p>", False),
    ("<think>reasoning</think><answer>0</answer>", True),  # tags around text are answer text
    ("Intro <think>reasoning</think>42", False),  # text before the block
    ("<think>a</think><think>b</think>42", False),  # repeated block
    ("<think>a</think>42</think>", False),  # stray closing tag in the answer
    ("<think>a<think>b</think>42", False),  # nested opening tag
    ("</think>a<think>42", False),  # tags in the wrong order
    ("<Think>a</Think>42", False),  # tag names are case-sensitive
    ("<think >a</think>42", False),  # not the tag
    ("42", False),  # no block at all
    ("", False),
]

TAGGED = [
    ("<think>work</think><answer>42</answer>", True),
    ("<think>work</think>\n<answer>\n42\n</answer>\n", True),
    ("<think>work</think><answer>42</answer> trailing", False),  # text after the answer
    ("<think>work</think>So: <answer>42</answer>", False),  # text between the blocks
    ("<think>work</think>42", False),  # answer tag missing
    ("<think>work</think><answer></answer>", False),  # empty answer
    ("<think>work</think><answer>1</answer><answer>2</answer>", False),  # two answers
    ("<answer>42</answer><think>work</think>", False),  # answer first
    ("<think>w <answer>1</answer></think><answer>2</answer>", False),  # answer tag in reasoning
]


@pytest.mark.parametrize(("response", "ok"), PLAIN)
def test_plain_answer_format(response, ok):
    verdict = check_reasoning_format(response)
    assert verdict.correct is ok, verdict.reason
    assert verdict.reward == (1.0 if ok else 0.0)
    if not ok:
        assert verdict.status in (Status.FORMAT_ERROR, Status.NO_ANSWER)
        assert verdict.reason


@pytest.mark.parametrize(("response", "ok"), TAGGED)
def test_answer_tag_format(response, ok):
    verdict = check_reasoning_format(response, answer_tag="answer")
    assert verdict.correct is ok, verdict.reason


def test_empty_response_is_no_answer():
    assert check_reasoning_format("  ").status is Status.NO_ANSWER


def test_extracted_answer_and_split():
    response = "<think> add them </think>\n<answer> 42 </answer>"
    parts = split_reasoning(response, answer_tag="answer")
    assert parts.reasoning == "add them"
    assert parts.answer == "42"
    assert extract_answer(response, answer_tag="answer") == "42"
    assert check_reasoning_format(response, answer_tag="answer").extracted == "42"
    assert extract_answer("no format", answer_tag="answer") is None
    with pytest.raises(FormatError) as error:
        split_reasoning("<think></think>x")
    assert "empty" in str(error.value)


def test_configurable_tag_names():
    response = "<reasoning>r</reasoning><final>7</final>"
    assert check_reasoning_format(response, think_tag="reasoning", answer_tag="final").correct
    assert not check_reasoning_format(response).correct
    with pytest.raises(ValueError):
        check_reasoning_format(response, think_tag="bad tag")
    with pytest.raises(ValueError):
        check_reasoning_format(response, think_tag="x", answer_tag="x")


def test_prefilled_think_tag():
    assert check_reasoning_format("steps</think>42", prefilled_think=True).correct
    assert extract_answer("steps</think> 42", prefilled_think=True) == "42"
    # Repeating the opening tag the prompt already holds is a second block.
    assert not check_reasoning_format("<think>steps</think>42", prefilled_think=True).correct
    assert not check_reasoning_format("</think>42", prefilled_think=True).correct
    assert not check_reasoning_format("steps</think>", prefilled_think=True).correct
    assert check_reasoning_format(
        "steps</think><answer>4</answer>", prefilled_think=True, answer_tag="answer"
    ).correct


def test_partial_credit_per_well_formed_part():
    full = check_reasoning_format("<think>a</think>42", partial_credit=True)
    assert full.reward == 1.0 and full.details["parts"] == {
        "think": 1.0,
        "answer": 1.0,
        "layout": 1.0,
    }
    no_answer = check_reasoning_format("<think>a</think>", partial_credit=True)
    assert no_answer.reward == pytest.approx(2 / 3)
    assert no_answer.details["parts"]["answer"] == 0.0
    trailing = check_reasoning_format(
        "<think>a</think><answer>1</answer> more", answer_tag="answer", partial_credit=True
    )
    assert trailing.reward == pytest.approx(2 / 3)
    assert trailing.details["parts"]["layout"] == 0.0
    assert not trailing.correct
    nothing = check_reasoning_format("just text", partial_credit=True)
    assert nothing.reward == 0.0
    # Without partial credit a malformed response earns nothing, but the part scores still say why.
    strict = check_reasoning_format("<think>a</think>")
    assert strict.reward == 0.0 and strict.details["parts"]["think"] == 1.0


def test_problems_are_all_listed():
    verdict = check_reasoning_format("x <think></think>", answer_tag="answer")
    problems = verdict.details["problems"]
    assert any("empty" in p for p in problems)
    assert any("<answer>" in p for p in problems)


def test_non_string_response_raises():
    with pytest.raises(TypeError):
        check_reasoning_format(None)  # type: ignore[arg-type]


def test_registered_format_verifier():
    verifier = get_verifier("format", answer_tag="answer")
    assert isinstance(verifier, FormatVerifier)
    task = Task(id="t", prompt="p")
    assert verifier("<think>r</think><answer>a</answer>", task).correct
    assert not verifier("<think>r</think>a", task).correct
    with pytest.raises(TypeError):
        get_verifier("format", colour="blue")
