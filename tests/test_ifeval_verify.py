"""The IFEval verify() API: scores, modes, argument validation and the environment-side verifier."""

from __future__ import annotations

import time

import pytest

from rlvr_envs.tasks import Task
from rlvr_envs.verdict import Status
from rlvr_envs.verifiers import get_verifier
from rlvr_envs.verifiers.ifeval import (
    INSTRUCTION_IDS,
    INSTRUCTIONS,
    IFEvalVerifier,
    InstructionError,
    check_instruction,
    describe,
    language,
    loose_variants,
    verify,
)

IDS = ["punctuation:no_comma", "keywords:existence", "length_constraints:number_words"]
KWARGS = [{}, {"keywords": ["river"]}, {"num_words": 3, "relation": "at least"}]

# One valid argument set per instruction, shared by several tests.
EXAMPLE_KWARGS = {
    "keywords:existence": {"keywords": ["sun"]},
    "keywords:frequency": {"keyword": "sun", "frequency": 2, "relation": "at least"},
    "keywords:forbidden_words": {"forbidden_words": ["moon"]},
    "keywords:letter_frequency": {"letter": "a", "let_frequency": 3, "let_relation": "less than"},
    "language:response_language": {"language": "fr"},
    "length_constraints:number_sentences": {"num_sentences": 2, "relation": "less than"},
    "length_constraints:number_paragraphs": {"num_paragraphs": 2},
    "length_constraints:number_words": {"num_words": 50, "relation": "at least"},
    "length_constraints:nth_paragraph_first_word": {
        "num_paragraphs": 3,
        "nth_paragraph": 2,
        "first_word": "then",
    },
    "detectable_content:number_placeholders": {"num_placeholders": 2},
    "detectable_content:postscript": {"postscript_marker": "P.S."},
    "detectable_format:number_bullet_lists": {"num_bullets": 3},
    "detectable_format:constrained_response": {},
    "detectable_format:number_highlighted_sections": {"num_highlights": 2},
    "detectable_format:multiple_sections": {"section_spliter": "Section", "num_sections": 3},
    "detectable_format:json_format": {},
    "detectable_format:title": {},
    "combination:two_responses": {},
    "combination:repeat_prompt": {"prompt_to_repeat": "Say hi."},
    "startend:end_checker": {"end_phrase": "The end."},
    "change_case:capital_word_frequency": {"capital_frequency": 2, "capital_relation": "at least"},
    "change_case:english_capital": {},
    "change_case:english_lowercase": {},
    "punctuation:no_comma": {},
    "startend:quotation": {},
}


def test_the_25_ifeval_instruction_types_are_registered():
    assert len(INSTRUCTION_IDS) == 25
    assert set(INSTRUCTION_IDS) == set(EXAMPLE_KWARGS)


def test_prompt_and_instruction_level_scores():
    verdict = verify("The river runs, slowly.", IDS, KWARGS)
    assert verdict.status is Status.WRONG
    assert verdict.reward == 0.0  # prompt level by default
    assert verdict.details["prompt_level"] == 0.0
    assert verdict.details["instruction_level"] == pytest.approx(2 / 3)
    assert [r["followed"] for r in verdict.details["instructions"]] == [False, True, True]
    assert "punctuation:no_comma" in verdict.reason

    instruction_level = verify("The river runs, slowly.", IDS, KWARGS, reward="instruction")
    assert instruction_level.reward == pytest.approx(2 / 3)

    good = verify("The river runs slowly.", IDS, KWARGS)
    assert good.status is Status.CORRECT and good.reward == 1.0
    assert good.details["instruction_level"] == 1.0


def test_empty_response_is_no_answer():
    verdict = verify("  ", ["punctuation:no_comma"], [{}])
    assert verdict.status is Status.NO_ANSWER
    assert verdict.reward == 0.0
    assert verdict.details["instructions"][0]["followed"] is False


def test_loose_mode_variants_match_ifeval():
    response = "Sure:\n*Body* text\nBye"
    variants = loose_variants(response)
    assert variants[0] == response
    assert "*Body* text\nBye" in variants  # first line dropped
    assert "Sure:\n*Body* text" in variants  # last line dropped
    assert "*Body* text" in variants  # both dropped
    assert "Sure:\nBody text\nBye" in variants  # asterisks removed
    assert "Body text" in variants
    assert len(variants) == len(set(variants))


def test_loose_is_never_stricter_than_strict():
    response = 'Okay!\n"Quoted, answer."\nThanks'
    ids = ["startend:quotation", "punctuation:no_comma"]
    strict = verify(response, ids, [{}, {}], mode="strict")
    loose = verify(response, ids, [{}, {}], mode="loose")
    assert strict.details["instruction_level"] == 0.0
    assert loose.details["instructions"][0]["followed"] is True
    assert loose.details["instructions"][1]["followed"] is False


def test_hub_rows_pad_kwargs_with_none():
    padded = {"keywords": ["river"], "num_words": None, "relation": None, "language": None}
    assert check_instruction("A river.", "keywords:existence", padded)


@pytest.mark.parametrize(
    ("instruction_id", "kwargs", "message"),
    [
        ("keywords:nonexistent", {}, "unknown instruction id"),
        ("keywords:existence", {}, "missing argument"),
        ("keywords:existence", {"keywords": "river"}, "list of strings"),
        ("keywords:existence", {"keywords": []}, "non-empty list"),
        ("keywords:frequency", {"keyword": "a", "frequency": 2, "relation": "at most"}, "relation"),
        (
            "keywords:frequency",
            {"keyword": "a", "frequency": -1, "relation": "at least"},
            "integer",
        ),
        ("keywords:frequency", {"keyword": "a", "frequency": True, "relation": "at least"}, "bool"),
        ("punctuation:no_comma", {"num_words": 3}, "unknown argument"),
        ("language:response_language", {"language": "xx"}, "unknown language"),
        (
            "keywords:letter_frequency",
            {"letter": "ab", "let_frequency": 1, "let_relation": "at least"},
            "single",
        ),
        (
            "length_constraints:nth_paragraph_first_word",
            {"num_paragraphs": 2, "nth_paragraph": 3, "first_word": "x"},
            "nth_paragraph",
        ),
        (
            "detectable_format:multiple_sections",
            {"section_spliter": " ", "num_sections": 2},
            "non-empty",
        ),
    ],
)
def test_bad_arguments_raise_clear_errors(instruction_id, kwargs, message):
    with pytest.raises(InstructionError, match=message):
        check_instruction("Some response.", instruction_id, kwargs)
    verdict = verify("Some response.", [instruction_id], [kwargs])
    assert verdict.status is Status.ERROR
    assert message in verdict.reason


def test_integral_floats_and_digit_strings_are_accepted_as_counts():
    assert check_instruction(
        "a b c", "length_constraints:number_words", {"num_words": 3.0, "relation": "at least"}
    )
    assert check_instruction(
        "a b c", "length_constraints:number_words", {"num_words": "3", "relation": "at least"}
    )


def test_mismatched_lists_and_empty_lists_are_errors():
    assert verify("x", IDS, KWARGS[:2]).status is Status.ERROR
    assert verify("x", [], []).status is Status.ERROR
    assert verify("x", "punctuation:no_comma", [{}]).status is Status.ERROR


def test_non_string_response_and_bad_mode_raise():
    with pytest.raises(TypeError):
        verify(None, IDS, KWARGS)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        check_instruction(b"bytes", "punctuation:no_comma")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode"):
        verify("x", IDS, KWARGS, mode="lenient")
    with pytest.raises(ValueError, match="reward"):
        verify("x", IDS, KWARGS, reward="mean")


@pytest.mark.parametrize("instruction_id", sorted(EXAMPLE_KWARGS))
def test_every_instruction_has_a_description(instruction_id):
    text = describe(instruction_id, EXAMPLE_KWARGS[instruction_id])
    assert isinstance(text, str) and len(text) > 20
    for value in EXAMPLE_KWARGS[instruction_id].values():
        if isinstance(value, (int, str)) and instruction_id != "combination:repeat_prompt":
            if instruction_id == "language:response_language":
                assert "French" in text
            else:
                assert str(value) in text


HOSTILE = [
    "",
    "*" * 5000,
    "[" * 3000 + "]" * 3000,
    "\n" * 2000,
    "<<" * 2000,
    # Shapes that make naive patterns quadratic: each takes seconds to minutes there.
    "Mr. " * 20_000,
    "P.S. " * 20_000,
    "[" + "a" * 40_000,
    "<<" + "a" * 40_000,
    "*" + "a" * 40_000,
    "a." * 40_000,
]


def test_every_instruction_runs_on_hostile_text_without_crashing_or_stalling():
    start = time.perf_counter()
    for instruction_id, kwargs in EXAMPLE_KWARGS.items():
        for text in HOSTILE:
            assert isinstance(check_instruction(text, instruction_id, kwargs), bool)
    # Linear-time checks finish in about a second here; a quadratic one takes minutes.
    assert time.perf_counter() - start < 30


def test_missing_language_identifier_is_an_error_verdict(monkeypatch):
    def unavailable():
        raise language.LanguageIdUnavailable("language instructions need 'py3langid'")

    monkeypatch.setattr(language, "_identifier", unavailable)
    verdict = verify("Bonjour.", ["language:response_language"], [{"language": "fr"}])
    assert verdict.status is Status.ERROR and "py3langid" in verdict.reason
    assert verify("Hi.", ["punctuation:no_comma"], [{}]).correct


def test_ifeval_verifier_reads_the_task_answer():
    task = Task(
        id="t1",
        prompt="Write about a river without commas.",
        answer={"instruction_id_list": IDS, "kwargs": KWARGS},
    )
    verifier = get_verifier("ifeval")
    assert isinstance(verifier, IFEvalVerifier)
    assert verifier("The river runs slowly.", task).correct
    assert not verifier("The river, it runs.", task).correct
    loose = get_verifier("ifeval", mode="loose", reward="instruction")
    assert loose("The river, it runs.", task).reward == pytest.approx(2 / 3)


def test_ifeval_verifier_reports_a_malformed_task_as_error():
    task = Task(id="t2", prompt="p", answer="not a mapping")
    assert IFEvalVerifier()("text", task).status is Status.ERROR
    with pytest.raises(ValueError):
        IFEvalVerifier(mode="other")


def test_repeat_prompt_uses_the_task_request_when_the_row_omits_it():
    task = Task(
        id="t3",
        prompt="Say hi. Then repeat this request first.",
        answer={"instruction_id_list": ["combination:repeat_prompt"], "kwargs": [{}]},
        metadata={"request": "Say hi."},
    )
    assert IFEvalVerifier()("Say hi. Hi!", task).correct


def test_registry_entries_are_complete():
    for instruction in INSTRUCTIONS.values():
        assert instruction.check.__doc__, instruction.id
        assert callable(instruction.describe)
