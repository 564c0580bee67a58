"""Training rewards for instruction following: the request done, the instructions followed.

:func:`verify_for_training` scores a response in three stages:

1. non-answers (:mod:`.nonanswer`) earn 0 with status ``no_answer`` or ``format_error``;
2. the instructions, as :func:`.verify` checks them (IFEval's strict or loose mode);
3. the request's own check (:mod:`.request`), read in the response without the repetition that
   ``combination:repeat_prompt`` asks for, with JSON unwrapped to its strings, and (for names,
   topic terms and length) without the passages copied from the prompt.

The reward combines the request and the instructions by a named rule: ``gate`` (the instructions'
reward when the request is done, else 0) or ``product`` (the request's score, the fraction of its
parts done, times the instructions' reward). Both scores are in ``Verdict.components`` as
``request`` and ``instructions``.

A task without a written request check (an IFEval prompt, an injected task) gets a relevance
check instead (:func:`relevance_check`): the response must mention one of the request's own
content words outside what it copied. It is a floor against off-topic text, not a grader.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ...verdict import Status, Verdict
from ._text import nfkc
from .formatting import CONSTRAINED_OPTIONS
from .nonanswer import STOPWORDS, content_words, non_answer, unwrap, without_copies, words_of
from .registry import InstructionError
from .request import RequestCheck, check_request
from .verify import check_options, parse_instruction_list, verify

COMBINE_RULES = ("gate", "product")
REPEAT = "combination:repeat_prompt"
# Instructions under which the request's words need not appear: another language, or a fixed
# answer ("My answer is yes.").
_NO_RELEVANCE = frozenset({"language:response_language", "detectable_format:constrained_response"})
# Argument values that are text a response is asked to contain.
_ALLOWED_ARGUMENTS = ("keywords", "keyword", "end_phrase", "postscript_marker", "first_word")
_MAX_RELEVANCE_TERMS = 16


def relevance_check(
    request_text: str, instruction_ids: Sequence[str], kwargs_list: Sequence[Mapping[str, Any]]
) -> RequestCheck:
    """A check that the response mentions one of ``request_text``'s content words."""
    if _NO_RELEVANCE & set(instruction_ids):
        return RequestCheck()
    excluded = set(STOPWORDS)
    for phrase in allowed_phrases(instruction_ids, kwargs_list):
        excluded.update(words_of(phrase))
    terms: dict[str, None] = {}
    for word in content_words(request_text):
        if word in excluded:
            continue
        stem = word[:-1] if word.endswith("s") and not word.endswith("ss") else word
        terms.setdefault(stem)
    chosen = tuple(terms)[:_MAX_RELEVANCE_TERMS]
    return RequestCheck(terms=chosen, min_terms=1 if chosen else 0)


def allowed_phrases(
    instruction_ids: Sequence[str], kwargs_list: Sequence[Mapping[str, Any] | None]
) -> list[str]:
    """Text the instructions ask a response to contain (keywords, an end phrase, options...)."""
    phrases: list[str] = []
    for iid, kwargs in zip(instruction_ids, kwargs_list):
        if iid == "detectable_format:constrained_response":
            phrases += [option.rstrip(".") for option in CONSTRAINED_OPTIONS]
        for name in _ALLOWED_ARGUMENTS:
            value = (kwargs or {}).get(name)
            if isinstance(value, str):
                phrases.append(value)
            elif isinstance(value, (list, tuple)):
                phrases += [v for v in value if isinstance(v, str)]
    return phrases


def strip_repetition(response: str, request: str) -> str:
    """``response`` without a leading repetition of ``request`` (case and spacing aside)."""
    words = request.split()
    if not words:
        return response
    pattern = r"\A\s*" + r"\s+".join(re.escape(nfkc(w)) for w in words)
    match = re.match(pattern, nfkc(response), re.IGNORECASE)
    return nfkc(response)[match.end() :] if match else response


def check_combine(combine: str) -> None:
    """A ``ValueError`` unless ``combine`` is a known rule."""
    if combine not in COMBINE_RULES:
        raise ValueError(f"combine must be one of {COMBINE_RULES}, got {combine!r}")


def verify_for_training(
    response: str,
    instruction_id_list: Sequence[str],
    kwargs_list: Sequence[Mapping[str, Any] | None] | None,
    prompt: str,
    *,
    request: RequestCheck | None = None,
    request_text: str | None = None,
    mode: str = "strict",
    reward: str = "prompt",
    combine: str = "gate",
) -> Verdict:
    """Non-answers first, then the instructions and the request, combined by ``combine``.

    ``request_text`` is the request part of ``prompt`` (the rest being the instructions); with
    no ``request`` check, a :func:`relevance_check` of ``request_text`` (or the prompt) is used.
    """
    if not isinstance(response, str):
        raise TypeError(f"response must be a str, got {type(response).__name__}")
    check_options(mode, reward)
    check_combine(combine)
    try:
        parsed = parse_instruction_list(instruction_id_list, kwargs_list, request_text or prompt)
    except InstructionError as error:
        return Verdict.make(Status.ERROR, f"bad instruction list: {error}")
    ids = [instruction.id for instruction, _ in parsed]
    arguments = [args for _, args in parsed]
    body = response
    if REPEAT in ids:
        body = strip_repetition(response, arguments[ids.index(REPEAT)]["prompt_to_repeat"])
    zero = {"request": 0.0, "instructions": 0.0}
    rejected = non_answer(
        body, prompt, allowed=allowed_phrases(ids, arguments), request_text=request_text
    )
    if rejected is not None:
        return rejected.replace(components=zero, details={"stage": "non-answer"})

    followed = verify(response, ids, arguments, request_text or prompt, mode, reward=reward)
    if followed.status is Status.ERROR:
        return followed
    check = (
        request if request is not None else relevance_check(request_text or prompt, ids, arguments)
    )
    content = unwrap(body).text
    done = check_request(content, check, topic_text=without_copies(content, prompt))
    instructions_reward = followed.reward if followed.status is not Status.NO_ANSWER else 0.0
    if combine == "gate":
        total = instructions_reward if done.passed else 0.0
    else:
        total = done.score * instructions_reward
    if done.passed and followed.correct:
        status, reason = Status.CORRECT, f"did the request; {followed.reason}"
    else:
        status = Status.WRONG
        request_reason = (
            "did the request" if done.passed else "request not done: " + "; ".join(done.missing)
        )
        reason = f"{request_reason}; {followed.reason}"
    return Verdict.make(
        status,
        reason,
        reward=total,
        expected=followed.expected,
        components={"request": done.score, "instructions": instructions_reward},
        details={
            **followed.details,
            "combine": combine,
            "request": {"check": check.to_dict(), "parts": dict(done.parts)},
        },
    )
