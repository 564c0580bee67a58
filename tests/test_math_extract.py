"""Extraction stage of the math verifier, rule by rule."""

from __future__ import annotations

import pytest

from rlvr_envs.verifiers.math import MathVerifier
from rlvr_envs.verifiers.math.extract import (
    extract_answer,
    extract_answer_is,
    extract_answer_line,
    extract_answer_tag,
    extract_boxed,
    extract_final_answer,
    extract_hash,
    extract_last_number,
    extract_whole,
)


def test_last_box_wins_over_an_earlier_discarded_one():
    found = extract_boxed(r"I get \boxed{10}. Hmm, no: recomputing, the total is \boxed{12}.")
    assert found.answer == "12" and found.parts == ("12",)


def test_fbox_and_framebox_count_as_boxes():
    assert extract_boxed(r"so \fbox{7}").answer == "7"
    assert extract_boxed(r"so \framebox{7}").answer == "7"


def test_adjacent_boxes_form_one_answer_group():
    found = extract_boxed(r"The roots are $\boxed{2}$ and $\boxed{-3}$.")
    assert found.parts == ("2", "-3") and found.answer == "2, -3"
    assert extract_boxed(r"\boxed{2} or \boxed{3}").parts == ("2", "3")
    assert extract_boxed(r"\boxed{2}\text{ or }\boxed{3}").parts == ("2", "3")


def test_nested_braces_and_escaped_braces_inside_a_box():
    assert extract_boxed(r"\boxed{\frac{1}{\sqrt{2}}}").answer == r"\frac{1}{\sqrt{2}}"
    assert extract_boxed(r"\boxed{\{1, 2\}}").answer == r"\{1, 2\}"
    assert extract_boxed(r"\boxed{\boxed{5}}").answer == r"\boxed{5}"


def test_unclosed_box_is_skipped_and_an_earlier_box_used():
    assert extract_boxed(r"\boxed{3} then \boxed{4").answer == "3"
    assert extract_boxed(r"\boxed{4") is None


def test_box_without_braces_takes_one_token():
    assert extract_boxed(r"the answer is \boxed 5.").answer == "5."
    assert extract_boxed(r"\boxed\pi").answer == r"\pi"


def test_answer_tags_and_a_box_inside_them():
    assert extract_answer_tag("<answer> 42 </answer>").answer == "42"
    assert extract_answer_tag(r"<answer>so \boxed{42}</answer>").answer == "42"
    assert extract_answer_tag("<answer>1</answer> <answer>2</answer>").answer == "2"
    assert extract_answer_tag("<answer>1") is None


def test_phrases():
    assert (
        extract_final_answer("Final Answer: The final answer is $5$. I hope it is correct.").answer
        == "$5$"
    )
    assert extract_hash("work\n#### 1,234\n").answer == "1,234"
    assert extract_answer_line("steps\n**Answer:** 42\n").answer == "42"
    assert extract_answer_line("Answer:\n  17\n").answer == "17"
    assert extract_answer_is("So the answer is 3.5. Done.").answer == "3.5"
    assert extract_answer_is("The answer is 18, since 9 * 2 = 18.").answer == "18"


def test_sentence_end_is_not_a_decimal_point():
    assert extract_answer_is("the answer is 0.75.").answer == "0.75"
    assert extract_answer_is("the answer is $$\\frac{3}{4}.$$ Next").answer == "$$\\frac{3}{4}.$$"


def test_whole_response_only_when_it_is_a_bare_answer():
    assert extract_whole(" -17 ").answer == "-17"
    assert extract_whole("x = 2") is not None
    assert extract_whole("I think it is probably seventeen") is None
    assert extract_whole("12\n13") is None


def test_last_number_skips_calculator_annotations():
    assert extract_last_number("9 * 2 = <<9*2=18>>18 dollars and 1,000 cents").answer == "1000"


def test_priority_order_and_thinking():
    text = r"<think>\boxed{1}</think> The answer is 2. \boxed{3}"
    assert extract_answer(text).answer == "3"
    assert extract_answer(text, ("answer_is", "boxed")).answer == "2"
    assert extract_answer(r"<think>\boxed{1}</think> no answer", ("boxed",)) is None
    assert extract_answer(r"<think>\boxed{1}</think> no", ("boxed",), thinking=False).answer == "1"
    with pytest.raises(ValueError, match="unknown extraction rule"):
        extract_answer("x", ("nope",))
    with pytest.raises(ValueError, match="unknown extraction rule"):  # at construction
        MathVerifier(extraction=["boxed", "nope"])


def test_extraction_is_linear_on_hostile_text():
    import time

    for text in (r"\boxed{" * 20000, "<answer>" * 20000, "{" * 100000, "answer is " * 10000):
        started = time.perf_counter()
        extract_answer(text)
        assert time.perf_counter() - started < 2.0  # quadratic behaviour would take minutes
