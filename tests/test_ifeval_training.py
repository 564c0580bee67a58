"""Training rewards for instruction following: request checks, non-answers, gate/product."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

from rlvr_envs.envs.instruction_requests import BASE_REQUESTS, YES_NO_QUESTIONS, first_terms
from rlvr_envs.envs.instruction_solutions import break_request
from rlvr_envs.envs.instructions import (
    FORBIDDEN,
    KEYWORDS,
    instruction_task,
    reference_words,
    request_allows,
)
from rlvr_envs.tasks import Task
from rlvr_envs.verdict import Status
from rlvr_envs.verifiers.ifeval import (
    IFEvalVerifier,
    RequestCheck,
    check_request,
    non_answer,
    relevance_check,
    verify,
    verify_for_training,
)
from rlvr_envs.verifiers.ifeval.request import (
    constrained_choice,
    has_letter_frame,
    list_items,
    mentions,
)
from tests.helpers import OFFLINE_DATA

PROMPT = "Write about rivers. Do not use any commas."
REQUEST = "Write about rivers."


# --- RequestCheck -------------------------------------------------------------------------------


def test_request_check_round_trips_and_rejects_bad_fields():
    check = RequestCheck(terms=("walk|walking",), min_terms=1, items=3, item_terms=True)
    assert RequestCheck.from_dict(json.loads(json.dumps(check.to_dict()))) == check
    assert check.parts() == ["topic", "items"] and not check.empty and RequestCheck().empty
    for bad in (
        {"terms": "walk"},  # a string, not a list
        {"terms": ["a"], "min_terms": 2},
        {"item_terms": True},
        {"answer": "perhaps"},
        {"min_words": -1},
    ):
        with pytest.raises(ValueError):
            RequestCheck.from_dict(bad)
    with pytest.raises(ValueError, match="unknown RequestCheck field"):
        RequestCheck.from_dict({"topic": ["x"]})


@pytest.mark.parametrize(
    ("text", "group", "found"),
    [
        ("Plants need light.", "plant", True),  # an ending
        ("She walked home.", "walk|walking", True),
        ("WALKING HELPS", "walk", True),  # case
        ("A category of things.", "cat|cats", False),  # whole words only
        ("この文章は Marrow Cay についてです。", "Marrow Cay", True),
        ("Marrow Cayについて書きます。", "Marrow Cay", True),  # CJK text around a Latin name
        ("Marrow\n  Cay is an island.", "Marrow Cay", True),  # any whitespace inside a name
        ("The Marrowing Cay", "Marrow Cay", False),
    ],
)
def test_term_matching(text, group, found):
    assert mentions(text, group) is found


def test_list_items_letters_speakers_and_choices():
    text = "Intro\n* one two three\n- four five six\n2) seven eight nine\n***\n---\n*emphasis*"
    assert list_items(text) == ["one two three", "four five six", "seven eight nine"]
    assert has_letter_frame('<<Title>>\n"Dear Sam\nThe heater broke.\nBest wishes\nAda\nP.S. Hi')
    assert not has_letter_frame("Dear Sam\nThe heater broke.")  # no sign-off
    assert not has_letter_frame("The heater broke.\nBest wishes")  # no salutation
    assert constrained_choice("My answer is yes. Because.") == "yes"
    assert constrained_choice("My answer is yes. My answer is no.") is None


def test_check_request_scores_each_part():
    check = RequestCheck(
        terms=("walk", "heart"), min_terms=2, min_words=6, items=2, item_terms=True
    )
    good = "Walking is good.\n* Walking helps the heart\n* A daily walk clears the mind"
    result = check_request(good, check)
    assert result.passed and result.score == 1.0
    bad = check_request("* Swimming helps the heart\n* Cycling is fun", check)
    assert not bad.passed and bad.parts == {"topic": False, "length": True, "items": False}
    assert bad.score == pytest.approx(1 / 3) and "list items on the topic" in bad.missing[1]
    # Names, terms and length are read in the topic text when given (copies removed).
    assert not check_request(good, check, topic_text="").parts["topic"]


# --- non-answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "status", "reason"),
    [
        ("", Status.NO_ANSWER, "empty response"),
        (" \n\t ", Status.NO_ANSWER, "empty response"),
        ("0", Status.NO_ANSWER, "a lone number"),
        ("-3.5e2", Status.NO_ANSWER, "a lone number"),
        (".", Status.NO_ANSWER, "no words, only symbols"),
        ("{}", Status.NO_ANSWER, "a JSON value with no text"),
        ('{"response": ""}', Status.NO_ANSWER, "a JSON value with no text"),
        ("```\n```", Status.NO_ANSWER, "an empty code block"),
        ("```python\n\n```", Status.NO_ANSWER, "an empty code block"),
        ("\\boxed{}", Status.NO_ANSWER, "an empty \\boxed{}"),
        (PROMPT, Status.FORMAT_ERROR, "restates the prompt"),
        ("Sure! " + PROMPT.upper(), Status.FORMAT_ERROR, "restates the prompt"),
        ("\\boxed{" + PROMPT + "}", Status.FORMAT_ERROR, "restates the prompt inside \\boxed{}"),
        (
            "<answer>" + PROMPT + "</answer>",
            Status.FORMAT_ERROR,
            "restates the prompt inside answer tags",
        ),
        (json.dumps({"response": PROMPT}), Status.FORMAT_ERROR, "restates the prompt"),
        ("Do not use any commas.", Status.FORMAT_ERROR, "restates the instructions"),
        ("Rivers", Status.FORMAT_ERROR, "restates the prompt"),  # a lone word of the prompt
        ("river sea flow " * 12, Status.FORMAT_ERROR, "repeats the same few words"),
        (PROMPT + " river sea" * 40, Status.FORMAT_ERROR, "repeats the same few words"),
    ],
)
def test_non_answers_get_distinct_statuses(response, status, reason):
    verdict = non_answer(response, PROMPT, request_text=REQUEST)
    assert verdict is not None and verdict.status is status and verdict.reason == reason
    assert verdict.reward == 0.0


@pytest.mark.parametrize(
    "response",
    [
        "Rivers carve valleys over thousands of years and carry water to the sea.",
        "Here is a text about rivers: they flow downhill and feed lakes.",
        "My answer is yes.",  # an allowed phrase, judged by the checks, not as a restatement
        "Floods.",  # one word, not from the prompt
    ],
)
def test_answers_are_not_non_answers(response):
    allowed = ["My answer is yes"]
    assert non_answer(response, PROMPT, allowed=allowed, request_text=REQUEST) is None


def test_allowed_phrases_are_not_counted_as_copies():
    prompt = "Describe a river. Finish your response with this exact phrase: Any other questions?"
    response = "Any other questions?"
    assert non_answer(response, prompt) is not None
    assert non_answer(response, prompt, allowed=["Any other questions?"]) is None


# --- verify_for_training -------------------------------------------------------------------------


def test_gate_and_product_with_named_components():
    check = RequestCheck(terms=("river",), min_terms=1, min_words=8)
    ids, kwargs = ["punctuation:no_comma"], [{}]
    on_topic_with_comma = "Rivers run to the sea, slowly and steadily over the years."
    half = "Rivers run fast and wide."  # on the topic, too short
    gate = verify_for_training(half, ids, kwargs, PROMPT, request=check, request_text=REQUEST)
    assert gate.reward == 0.0 and gate.status is Status.WRONG
    assert dict(gate.components) == {"request": 0.5, "instructions": 1.0}
    assert "request not done" in gate.reason
    product = verify_for_training(
        half, ids, kwargs, PROMPT, request=check, request_text=REQUEST, combine="product"
    )
    assert product.reward == 0.5 and dict(product.components) == dict(gate.components)
    comma = verify_for_training(on_topic_with_comma, ids, kwargs, PROMPT, request=check)
    assert comma.reward == 0.0 and dict(comma.components) == {"request": 1.0, "instructions": 0.0}
    done = verify_for_training(
        "Rivers run to the sea and shape the land.", ids, kwargs, PROMPT, request=check
    )
    assert done.correct and done.reward == 1.0
    assert done.details["request"]["parts"] == {"topic": True, "length": True}
    with pytest.raises(ValueError, match="combine"):
        verify_for_training("x", ids, kwargs, PROMPT, combine="sum")


def test_copied_passages_earn_no_topic_terms():
    check = RequestCheck(terms=("lighthouse", "bottle"), min_terms=2, min_words=10)
    prompt = "Write a short story about a lighthouse keeper who finds a message in a bottle."
    padded = prompt + (
        " Then nothing else happened at all that day or the next one either and the people"
        " in town went about their usual business without a care."
    )
    verdict = verify_for_training(padded, ["punctuation:no_comma"], [{}], prompt, request=check)
    assert verdict.reward == 0.0 and not verdict.details["request"]["parts"]["topic"]


def test_repeat_prompt_strips_the_repetition_first():
    ids = ["combination:repeat_prompt"]
    kwargs = [{"prompt_to_repeat": REQUEST}]
    prompt = REQUEST + " First repeat the request word for word without change."
    check = RequestCheck(terms=("river",), min_terms=1)
    answered = f"{REQUEST}\n\nRivers flow to the ocean and shape the land."
    ok = verify_for_training(answered, ids, kwargs, prompt, request=check, request_text=REQUEST)
    assert ok.correct, ok.reason
    echo = verify_for_training(REQUEST + " Okay.", ids, kwargs, prompt, request=check)
    assert echo.reward == 0.0
    only = verify_for_training(REQUEST, ids, kwargs, prompt, request=check, request_text=REQUEST)
    assert only.status is Status.NO_ANSWER


def test_relevance_check_from_a_free_form_prompt():
    check = relevance_check(
        "Write a poem about the ocean in winter.", ["punctuation:no_comma"], [{}]
    )
    assert "ocean" in check.terms and "write" not in check.terms and check.min_terms == 1
    keywords = relevance_check(
        "Write about cats.", ["keywords:existence"], [{"keywords": ["tabby"]}]
    )
    assert "tabby" not in keywords.terms  # an instruction's keyword is not the topic
    assert relevance_check("Write about cats.", ["language:response_language"], [{}]).empty


def test_bad_inputs_give_error_verdicts():
    assert verify_for_training("x", ["no:such"], [{}], PROMPT).status is Status.ERROR
    task = Task(
        id="t",
        prompt=PROMPT,
        answer={
            "instruction_id_list": ["punctuation:no_comma"],
            "kwargs": [{}],
            "request": {"x": 1},
        },
    )
    assert IFEvalVerifier(for_training=True)("Rivers flow.", task).status is Status.ERROR
    with pytest.raises(TypeError):
        verify_for_training(b"x", [], [], PROMPT)  # type: ignore[arg-type]


def test_ifeval_verifier_default_is_ifeval_scoring():
    task = Task(
        id="t",
        prompt=PROMPT,
        answer={"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]},
    )
    assert IFEvalVerifier()(PROMPT.replace(",", ""), task) == verify(
        PROMPT.replace(",", ""), ["punctuation:no_comma"], [{}], PROMPT
    )
    assert IFEvalVerifier()("0", task).reward == 1.0  # IFEval pays it ...
    assert IFEvalVerifier(for_training=True)("0", task).reward == 0.0  # ... training does not
    assert "for_training=True" in repr(IFEvalVerifier(for_training=True, combine="product"))


# --- the environments --------------------------------------------------------------------------


def test_instruction_following_components_and_combine_rule():
    env = gym.make("rlvr/InstructionFollowing-v1").unwrapped
    env.reset(seed=4)
    task = env.task
    _, reward, _, _, info = env.step(task.solution)
    assert reward == 1.0 and info["reward_components"] == {"request": 1.0, "instructions": 1.0}
    check = RequestCheck.from_dict(task.answer["request"])
    undone = break_request(task.solution, check)[0]
    env.reset(seed=4)
    _, reward, _, _, info = env.step(undone)
    assert reward == 0.0 and info["reward_components"]["request"] < 1.0
    product = gym.make("rlvr/InstructionFollowing-v1", combine="product").unwrapped
    product.reset(seed=4)
    _, partial, _, _, _ = product.step(undone)
    assert partial == pytest.approx(info["reward_components"]["request"] * 1.0) or partial == 0.0
    with pytest.raises(ValueError):
        gym.make("rlvr/InstructionFollowing-v1", combine="sum")


def test_instruction_following_does_not_pay_topic_terms_said_over_and_over():
    env = gym.make("rlvr/InstructionFollowing-v1", max_instructions=1).unwrapped
    for task in env.source.take(100, seed=2):
        check = RequestCheck.from_dict(task.answer["request"])
        salad = " ".join([*first_terms(check), *check.names] * 20)
        for completion in (salad, f"{task.prompt}\n{salad}"):
            verdict = env.verify(completion, task)
            assert verdict.reward == 0.0, (task.prompt, verdict.reason)


@pytest.mark.parametrize(
    ("completion", "status"),
    [("", "no_answer"), ("{}", "no_answer"), ("0", "no_answer"), (None, "format_error")],
)
def test_instruction_following_never_pays_non_answers(completion, status):
    env = gym.make("rlvr/InstructionFollowing-v1")
    obs, _ = env.reset(seed=9)
    _, reward, _, _, info = env.step(obs if completion is None else completion)
    assert reward == 0.0 and info["verdict"]["status"] == status


def test_ifeval_for_training_option():
    path = OFFLINE_DATA["rlvr/IFEval-v0"]
    evaluation = gym.make("rlvr/IFEval-v0", data_path=path).unwrapped
    training = gym.make("rlvr/IFEval-v0", data_path=path, for_training=True).unwrapped
    paid_eval = paid_train = 0
    for task in evaluation.source.tasks:
        for completion in ("0", "{}", task.prompt):
            paid_eval += evaluation.verify(completion, task).reward > 0
            paid_train += training.verify(completion, task).reward > 0
    assert paid_eval > 0 and paid_train == 0  # IFEval's scoring pays some; training none
    assert isinstance(training.verifier, IFEvalVerifier) and training.verifier.for_training


# --- the generator ---------------------------------------------------------------------------


def test_requests_are_compatible_with_the_generators_word_lists():
    for request in (*BASE_REQUESTS, *YES_NO_QUESTIONS):
        words = reference_words(request.check)
        assert not any(mentions(words, word) for word in FORBIDDEN), request.text
        for term in first_terms(request.check):
            assert term.casefold() in request.text.casefold() or request.kind != "list", term
        assert request.check.parts(), request.text
    assert sum(1 for r in BASE_REQUESTS if r.any_language) >= 3


def test_generated_instructions_never_contradict_the_request():
    rng = np.random.default_rng(5)
    kinds = set()
    for _ in range(300):
        task = instruction_task(rng, 1, 4)
        ids, kwargs = task.answer["instruction_id_list"], task.answer["kwargs"]
        check = RequestCheck.from_dict(task.answer["request"])
        kinds.add(task.metadata["request_kind"])
        request = next(
            r for r in (*BASE_REQUESTS, *YES_NO_QUESTIONS) if r.text == task.metadata["request"]
        )
        assert request_allows(request, ids)
        needed = reference_words(check).casefold()
        for iid, kw in zip(ids, kwargs):
            if iid == "keywords:letter_frequency" and kw["let_relation"] == "less than":
                assert kw["letter"] not in needed
            if iid == "keywords:frequency" and kw["relation"] == "less than":
                assert kw["keyword"] in KEYWORDS
                assert not any(mentions(kw["keyword"], group) for group in check.terms)
            if iid == "length_constraints:number_words" and kw["relation"] == "less than":
                assert kw["num_words"] > check.min_words
            if iid == "detectable_format:number_bullet_lists" and check.items:
                assert kw["num_bullets"] >= check.items
        if "language:response_language" in ids:
            assert check.names and not check.terms and check.min_letters
    assert kinds == {"explain", "story", "list", "letter", "dialogue", "named", "yes/no"}
