"""Format and instruction-following environments: IFEval, procedural instructions, JSON output.

Each factory configures a :class:`~rlvr_envs.env.TextEnv` with a task source and a verifier:

- ``rlvr/IFEval-v0`` (:func:`ifeval`): IFEval's prompts (hub ``google/IFEval`` or a local file in
  the same row layout), checked by :mod:`rlvr_envs.verifiers.ifeval`. A row naming an instruction
  the checker does not implement, or with unusable arguments, stops loading with an error that
  lists them (``skip_unsupported=True`` skips such rows with a warning instead): a row is never
  silently scored as passed or failed. IFEval's scoring by default (evaluation);
  ``for_training=True`` pays no non-answers and asks for relevance to the prompt.
- ``rlvr/InstructionFollowing-v1`` (:func:`instruction_following`): seeded, unlimited tasks, each
  a base request with a check of its own content (:mod:`.instruction_requests`) and a random set
  of instructions and arguments compatible with each other and with that check. The reward is
  the request's check combined with the instructions' (gate or product); non-answers earn 0.
  Every task carries a reference response that the verifier accepts (see
  :mod:`.instruction_solutions`), which proves the task satisfiable; its filler sentences are a
  check, not a demonstration to imitate. (v0 paid constraint-only rewards: a non-answer that
  satisfied the form, such as ``{}`` or the prompt echoed, earned 1.)
- ``rlvr/JSONFormat-v0`` (:func:`json_format`): produce a JSON object that matches a random
  JSON Schema shown in the prompt; every task carries a conforming reference solution.
"""

from __future__ import annotations

import functools
import json
import os
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..data import DataError, load_benchmark
from ..env import TextEnv
from ..tasks import DatasetSource, ProceduralSource, Task
from ..verifiers.ifeval import (
    INSTRUCTIONS,
    IFEvalVerifier,
    InstructionError,
    RequestCheck,
    describe,
    parse_instruction_list,
    verify_for_training,
)
from ..verifiers.ifeval.request import mentions
from ..verifiers.json_output import JSONVerifier
from .instruction_requests import BASE_REQUESTS, YES_NO_QUESTIONS, BaseRequest, first_terms
from .instruction_solutions import (
    PROCEDURAL_LANGUAGES,
    SALUTATION,
    SIGN_OFF,
    break_instruction,
    break_request,
    reference_response,
)

# --- rlvr/IFEval-v0 -----------------------------------------------------------------------------

IFEVAL_FIELDS = ("key", "prompt", "instruction_id_list", "kwargs")
_MAX_PROBLEM_LINES = 12


_MALFORMED = "malformed row: instruction_id_list must be a list of ids, kwargs a list of objects"


def _is_list_of(value: Any, kinds: type | tuple[type, ...]) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(v, kinds) for v in value)


def _clean_kwargs(kwargs: Any) -> list[dict[str, Any]]:
    """Per-instruction kwargs without the hub's ``None`` padding of other instructions' keys."""
    return [{k: v for k, v in dict(kw or {}).items() if v is not None} for kw in kwargs]


def ifeval_tasks(
    rows: list[Mapping[str, Any]], *, skip_unsupported: bool = False, name: str = "ifeval"
) -> list[Task]:
    """Tasks from IFEval-layout rows, every instruction validated now rather than at ``step``."""
    tasks: list[Task] = []
    problems: dict[str, list[str]] = {}  # problem -> keys of the rows that have it
    bad_rows = 0
    for index, row in enumerate(rows):
        missing = [f for f in IFEVAL_FIELDS if f not in row]
        if missing:
            raise DataError(
                f"{name}: row {index} lacks field(s) {missing}; IFEval rows have {IFEVAL_FIELDS}"
            )
        key = str(row["key"])
        ids, raw_kwargs = row["instruction_id_list"], row["kwargs"]
        if not _is_list_of(ids, str) or not _is_list_of(raw_kwargs or [], (Mapping, type(None))):
            problems.setdefault(_MALFORMED, []).append(key)
            bad_rows += 1
            continue
        ids = list(ids)
        kwargs = _clean_kwargs(raw_kwargs or [{}] * len(ids))
        row_problems = [f"unknown instruction id {iid!r}" for iid in ids if iid not in INSTRUCTIONS]
        if not row_problems:
            try:
                parse_instruction_list(ids, kwargs, row["prompt"])
            except InstructionError as error:
                row_problems = [str(error)]
        if row_problems:
            bad_rows += 1
            for problem in dict.fromkeys(row_problems):
                problems.setdefault(problem, []).append(key)
            continue
        tasks.append(
            Task(
                id=f"{name}/{key}",
                prompt=str(row["prompt"]),
                answer={"instruction_id_list": ids, "kwargs": kwargs},
                metadata={"key": key, "instruction_id_list": ids},
            )
        )
    if problems:
        ranked = sorted(problems.items(), key=lambda item: (-len(item[1]), item[0]))
        lines = [
            f"  {len(keys)} row(s): {problem} (keys {', '.join(keys[:3])}"
            + (", ...)" if len(keys) > 3 else ")")
            for problem, keys in ranked[:_MAX_PROBLEM_LINES]
        ]
        if len(ranked) > _MAX_PROBLEM_LINES:
            lines.append(f"  ... and {len(ranked) - _MAX_PROBLEM_LINES} more kinds of problem")
        summary = f"{name}: {bad_rows} of {len(rows)} rows cannot be checked:\n" + "\n".join(lines)
        if not skip_unsupported:
            raise DataError(summary + "\nPass skip_unsupported=True to skip these rows.")
        warnings.warn(summary + "\nThese rows are skipped.", stacklevel=3)
    if not tasks:
        raise DataError(f"{name}: none of the {len(rows)} rows can be checked")
    return tasks


def ifeval(
    *,
    data_path: str | os.PathLike | None = None,
    split: str = "train",
    mode: str = "strict",
    reward: str = "prompt",
    skip_unsupported: bool = False,
    for_training: bool = False,
    combine: str = "gate",
    **env_kwargs: Any,
) -> TextEnv:
    """``rlvr/IFEval-v0``: IFEval's verifiable-instruction prompts (``google/IFEval`` or a file).

    ``mode`` is IFEval's ``strict`` or ``loose`` evaluation; ``reward`` is ``prompt`` (1 when every
    instruction is followed) or ``instruction`` (the fraction followed). By default the scores
    are IFEval's, comparable with published ones. ``for_training=True`` adds the training rules:
    non-answers (an echo of the prompt, ``{}``, a lone number...) earn 0, and the response must
    mention one of the prompt's own content words, combined with the instructions by ``combine``
    (see :mod:`rlvr_envs.verifiers.ifeval.training`).
    """
    rows = load_benchmark(
        "google/IFEval",
        split=split,
        data_path=data_path,
        local_names=("ifeval.jsonl", "ifeval_train.jsonl", "ifeval.jsonl.gz"),
    )
    tasks = ifeval_tasks(rows, skip_unsupported=skip_unsupported)
    env_kwargs.setdefault("reward_name", "ifeval")
    return TextEnv(
        DatasetSource(tasks, name="ifeval"),
        IFEvalVerifier(mode=mode, reward=reward, for_training=for_training, combine=combine),
        **env_kwargs,
    )


# --- rlvr/InstructionFollowing-v1 ---------------------------------------------------------------

# Keywords avoid the rare letters that letter-frequency instructions limit, so both can hold.
KEYWORDS = (
    "river", "lantern", "harvest", "compass", "window", "garden", "signal", "bridge", "village",
    "engine", "mirror", "letter", "island", "forest", "candle", "ladder", "orbit", "thunder",
    "ribbon", "meadow", "harbor", "anchor", "tower", "saddle", "pepper", "velvet",
)  # fmt: skip
FORBIDDEN = (
    "very", "really", "thing", "good", "important", "nice", "just", "basically", "actually",
    "amazing", "great", "simple",
)  # fmt: skip
FIRST_WORDS = ("however", "first", "finally", "meanwhile", "today", "imagine", "overall", "then")
END_PHRASES = (
    "Is there anything else I can help with?",
    "Any other questions?",
    "Let me know if you have additional questions.",
    "That is all for now.",
)
SECTION_MARKERS = ("Section", "SECTION", "Part", "PART", "Chapter")
COMMON_LETTERS = "etaoinsr"
RARE_LETTERS = "qzxjk"

Generator = Callable[[np.random.Generator], dict[str, Any]]


def _pick(rng: np.random.Generator, items: tuple[str, ...] | str, k: int = 1) -> list[str]:
    return [items[int(i)] for i in rng.choice(len(items), size=k, replace=False)]


def _count_relation(
    rng: np.random.Generator, at_least: tuple[int, int], less_than: tuple[int, int]
) -> tuple[int, str]:
    if rng.random() < 0.5:
        return int(rng.integers(at_least[0], at_least[1] + 1)), "at least"
    return int(rng.integers(less_than[0], less_than[1] + 1)), "less than"


def _frequency(rng: np.random.Generator) -> dict[str, Any]:
    frequency, relation = _count_relation(rng, (1, 4), (2, 4))
    return {"keyword": _pick(rng, KEYWORDS)[0], "frequency": frequency, "relation": relation}


def _letter(rng: np.random.Generator) -> dict[str, Any]:
    if rng.random() < 0.5:
        letter, count, relation = (
            _pick(rng, COMMON_LETTERS)[0],
            int(rng.integers(5, 31)),
            "at least",
        )
    else:
        letter, count, relation = _pick(rng, RARE_LETTERS)[0], int(rng.integers(2, 7)), "less than"
    return {"letter": letter, "let_frequency": count, "let_relation": relation}


def _sentences(rng: np.random.Generator) -> dict[str, Any]:
    count, relation = _count_relation(rng, (2, 8), (3, 12))
    return {"num_sentences": count, "relation": relation}


def _words(rng: np.random.Generator) -> dict[str, Any]:
    count, relation = _count_relation(rng, (50, 300), (60, 400))
    return {"num_words": count, "relation": relation}


def _nth_first_word(rng: np.random.Generator) -> dict[str, Any]:
    paragraphs = int(rng.integers(2, 6))
    return {
        "num_paragraphs": paragraphs,
        "nth_paragraph": int(rng.integers(1, paragraphs + 1)),
        "first_word": _pick(rng, FIRST_WORDS)[0],
    }


def _capital_words(rng: np.random.Generator) -> dict[str, Any]:
    count, relation = _count_relation(rng, (2, 10), (3, 10))
    return {"capital_frequency": count, "capital_relation": relation}


# Procedural instruction arguments, by instruction id (the repeated request is filled in later).
ARGUMENTS: dict[str, Generator] = {
    "keywords:existence": lambda rng: {"keywords": _pick(rng, KEYWORDS, int(rng.integers(1, 4)))},
    "keywords:frequency": _frequency,
    "keywords:forbidden_words": lambda rng: {
        "forbidden_words": _pick(rng, FORBIDDEN, int(rng.integers(1, 4)))
    },
    "keywords:letter_frequency": _letter,
    "language:response_language": lambda rng: {"language": _pick(rng, PROCEDURAL_LANGUAGES)[0]},
    "length_constraints:number_sentences": _sentences,
    "length_constraints:number_paragraphs": lambda rng: {"num_paragraphs": int(rng.integers(2, 6))},
    "length_constraints:number_words": _words,
    "length_constraints:nth_paragraph_first_word": _nth_first_word,
    "detectable_content:number_placeholders": lambda rng: {
        "num_placeholders": int(rng.integers(1, 5))
    },
    "detectable_content:postscript": lambda rng: {
        "postscript_marker": _pick(rng, ("P.S.", "P.P.S"))[0]
    },
    "detectable_format:number_bullet_lists": lambda rng: {"num_bullets": int(rng.integers(2, 7))},
    "detectable_format:constrained_response": lambda rng: {},
    "detectable_format:number_highlighted_sections": lambda rng: {
        "num_highlights": int(rng.integers(1, 5))
    },
    "detectable_format:multiple_sections": lambda rng: {
        "section_spliter": _pick(rng, SECTION_MARKERS)[0],
        "num_sections": int(rng.integers(2, 6)),
    },
    "detectable_format:json_format": lambda rng: {},
    "detectable_format:title": lambda rng: {},
    "combination:two_responses": lambda rng: {},
    "combination:repeat_prompt": lambda rng: {},
    "startend:end_checker": lambda rng: {"end_phrase": _pick(rng, END_PHRASES)[0]},
    "change_case:capital_word_frequency": _capital_words,
    "change_case:english_capital": lambda rng: {},
    "change_case:english_lowercase": lambda rng: {},
    "punctuation:no_comma": lambda rng: {},
    "startend:quotation": lambda rng: {},
}

ALL_IDS = tuple(sorted(ARGUMENTS))


def _all_but(*allowed: str) -> frozenset[str]:
    return frozenset(ALL_IDS) - frozenset(allowed)


# Pairs that cannot both be followed (or make no sense together). Based on IFEval's own conflict
# table, plus the pairs this project's stricter checkers add (a case-sensitive end phrase cannot
# be all capitals, a word count means little in scripts without spaces, ...).
_CONFLICTS: dict[str, frozenset[str]] = {
    "language:response_language": frozenset(
        {
            "detectable_format:multiple_sections",
            "keywords:existence",
            "keywords:frequency",
            "keywords:forbidden_words",
            "keywords:letter_frequency",
            "startend:end_checker",
            "change_case:english_capital",
            "change_case:english_lowercase",
            "change_case:capital_word_frequency",
            "length_constraints:number_words",
            "length_constraints:nth_paragraph_first_word",
            "detectable_content:postscript",
        }
    ),
    "length_constraints:number_paragraphs": frozenset(
        {
            "length_constraints:nth_paragraph_first_word",
            "length_constraints:number_sentences",
            "detectable_format:multiple_sections",
        }
    ),
    "length_constraints:nth_paragraph_first_word": frozenset(
        {
            "detectable_format:multiple_sections",
            "detectable_format:title",
            "detectable_content:postscript",
            "detectable_format:number_bullet_lists",
        }
    ),
    "detectable_format:constrained_response": frozenset(ALL_IDS),
    "detectable_format:multiple_sections": frozenset(
        {
            "detectable_format:number_highlighted_sections",
            "change_case:english_capital",
            "change_case:english_lowercase",
        }
    ),
    "detectable_format:json_format": _all_but("keywords:forbidden_words", "keywords:existence"),
    "combination:two_responses": _all_but(
        "keywords:forbidden_words",
        "keywords:existence",
        "language:response_language",
        "detectable_format:title",
        "punctuation:no_comma",
    ),
    # The request to repeat has commas, so "no commas" cannot go with it (IFEval pairs them).
    "combination:repeat_prompt": _all_but("keywords:existence", "detectable_format:title"),
    "startend:end_checker": frozenset(
        {
            "change_case:english_capital",
            "change_case:english_lowercase",
            "detectable_content:postscript",
        }
    ),
    "change_case:capital_word_frequency": frozenset(
        {
            "change_case:english_lowercase",
            "change_case:english_capital",
            "detectable_format:multiple_sections",  # SECTION and PART are capitalised words
        }
    ),
    "change_case:english_lowercase": frozenset({"change_case:english_capital"}),
    "startend:quotation": frozenset({"detectable_format:title"}),
}


def _symmetric(conflicts: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    table = {iid: set(conflicts.get(iid, ())) | {iid} for iid in ALL_IDS}
    for iid, others in conflicts.items():
        for other in others:
            table[other].add(iid)
    return {iid: frozenset(others) for iid, others in table.items()}


CONFLICTS = _symmetric(_CONFLICTS)


def compatible(instruction_ids: list[str]) -> bool:
    """True when no two of the instructions conflict."""
    return all(
        b not in CONFLICTS[a]
        for i, a in enumerate(instruction_ids)
        for b in instruction_ids[i + 1 :]
    )


def choose_instructions(rng: np.random.Generator, count: int) -> list[str]:
    """Up to ``count`` mutually compatible instruction ids, drawn with ``rng`` in a fixed order."""
    chosen: list[str] = []
    for index in rng.permutation(len(ALL_IDS)):
        candidate = ALL_IDS[int(index)]
        if all(candidate not in CONFLICTS[c] for c in chosen):
            chosen.append(candidate)
        if len(chosen) == count:
            break
    return chosen


MAX_DRAWS = 50
CONSTRAINED = "detectable_format:constrained_response"
LANGUAGE = "language:response_language"
# Minimum letters of a request answered in another language: names survive translation, English
# topic terms and word counts do not (Japanese is written without spaces).
LANGUAGE_MIN_LETTERS = {"ja": 60}
DEFAULT_MIN_LETTERS = 150

# Instructions that cannot go with a kind of request: a letter or a list has a shape of its own
# that a fixed first word of paragraph N would break.
REQUEST_CONFLICTS: dict[str, frozenset[str]] = {
    "letter": frozenset({"length_constraints:nth_paragraph_first_word"}),
    "list": frozenset({"length_constraints:nth_paragraph_first_word"}),
    "dialogue": frozenset(
        {"length_constraints:nth_paragraph_first_word", "detectable_format:multiple_sections"}
    ),
}


def request_allows(request: BaseRequest, instruction_ids: list[str]) -> bool:
    """True when no instruction contradicts the request's own check."""
    ids = set(instruction_ids)
    if (CONSTRAINED in ids) != (request.kind == "yes/no"):
        return False  # a fixed answer only answers a yes/no question
    if LANGUAGE in ids and not request.any_language:
        return False  # English topic terms cannot be asked of another language
    return not ids & REQUEST_CONFLICTS.get(request.kind, frozenset())


def request_check(
    request: BaseRequest, instruction_ids: list[str], kwargs: list[dict]
) -> RequestCheck:
    """The request's check under these instructions (names and letters in another language)."""
    if LANGUAGE not in instruction_ids:
        return request.check
    language = kwargs[instruction_ids.index(LANGUAGE)]["language"]
    return RequestCheck(
        names=request.check.names,
        min_letters=LANGUAGE_MIN_LETTERS.get(language, DEFAULT_MIN_LETTERS),
    )


def reference_words(check: RequestCheck) -> str:
    """The words reference responses write for a request (to keep instructions compatible)."""
    words = [*check.names, *first_terms(check), *check.speakers]
    if check.letter:
        words += [SALUTATION, SIGN_OFF]
    if check.answer:
        words.append(f"My answer is {check.answer}")
    return " ".join(words)


def fit_to_request(
    instruction_id: str, kwargs: dict[str, Any], check: RequestCheck, rng: np.random.Generator
) -> dict[str, Any]:
    """Arguments adjusted so that the instruction and the request's check can both hold."""
    needed = reference_words(check).casefold()
    if instruction_id == "keywords:frequency" and kwargs["relation"] == "less than":
        free = [k for k in KEYWORDS if not any(mentions(k, g) for g in check.terms)]
        kwargs["keyword"] = _pick(rng, tuple(free))[0]
    elif instruction_id == "keywords:letter_frequency" and kwargs["let_relation"] == "less than":
        free = "".join(letter for letter in RARE_LETTERS if letter not in needed)
        if free:
            kwargs["letter"] = _pick(rng, free)[0]
        else:
            kwargs.update(letter=_pick(rng, COMMON_LETTERS)[0], let_relation="at least")
    elif instruction_id == "length_constraints:number_words" and kwargs["relation"] == "less than":
        kwargs["num_words"] = max(kwargs["num_words"], 2 * check.min_words + 40)
    elif instruction_id == "detectable_format:number_bullet_lists" and check.items:
        kwargs["num_bullets"] = check.items + int(rng.integers(0, 3))
    return kwargs


def _accepted(
    response: str,
    *,
    ids: list[str],
    kwargs: list[dict[str, Any]],
    prompt: str,
    check: RequestCheck,
    request_text: str,
) -> bool:
    """True when the training verifier takes ``response`` for this task."""
    verdict = verify_for_training(
        response, ids, kwargs, prompt, request=check, request_text=request_text
    )
    return verdict.correct


def _draw_request(rng: np.random.Generator, ids: list[str]) -> BaseRequest | None:
    pool = YES_NO_QUESTIONS if CONSTRAINED in ids else BASE_REQUESTS
    allowed = [r for r in pool if request_allows(r, ids)]
    return allowed[int(rng.integers(len(allowed)))] if allowed else None


def instruction_task(
    rng: np.random.Generator, min_instructions: int, max_instructions: int
) -> Task:
    """One base request with 1..n random compatible instructions, rendered into the prompt.

    The task's answer holds the instructions and the request's check; the task carries a
    reference response that the training verifier accepts. A draw for which none is found is
    redrawn, so every task is satisfiable.
    """
    for _ in range(MAX_DRAWS):
        count = int(rng.integers(min_instructions, max_instructions + 1))
        ids = choose_instructions(rng, count)
        request = _draw_request(rng, ids)
        if request is None:
            continue
        kwargs = [ARGUMENTS[iid](rng) for iid in ids]
        check = request_check(request, ids, kwargs)
        kwargs = [fit_to_request(iid, kw, check, rng) for iid, kw in zip(ids, kwargs)]
        # The request to repeat is everything said before the repeat instruction: it comes last.
        order = sorted(range(len(ids)), key=lambda i: ids[i] == "combination:repeat_prompt")
        ids, kwargs = [ids[i] for i in order], [kwargs[i] for i in order]
        text = request.text
        for iid, kw in zip(ids, kwargs):
            if iid == "combination:repeat_prompt":
                kw["prompt_to_repeat"] = text
            text = f"{text} {describe(iid, kw)}"

        accept = functools.partial(
            _accepted, ids=ids, kwargs=kwargs, prompt=text, check=check, request_text=request.text
        )

        solution = reference_response(
            ids, kwargs, accept, request=check, offset=int(rng.integers(1000))
        )
        if solution is not None:
            return Task(
                id="",
                prompt=text,
                answer={"instruction_id_list": ids, "kwargs": kwargs, "request": check.to_dict()},
                solution=solution,
                metadata={
                    "request": request.text,
                    "request_kind": request.kind,
                    "instruction_id_list": ids,
                },
            )
    raise RuntimeError(f"no satisfiable instruction set found in {MAX_DRAWS} draws")


def perturb_instruction_answer(task: Task, rng: np.random.Generator) -> list[str]:
    """Known-wrong completions: the reference broken on one instruction, or on the request."""
    answer = task.answer
    solution = task.solution or ""
    wrong = [
        break_instruction(solution, iid, kw)
        for iid, kw in zip(answer["instruction_id_list"], answer["kwargs"])
    ]
    return wrong + break_request(solution, RequestCheck.from_dict(answer.get("request") or {}))


def instruction_following(
    *,
    min_instructions: int = 1,
    max_instructions: int = 3,
    mode: str = "strict",
    reward: str = "prompt",
    combine: str = "gate",
    **env_kwargs: Any,
) -> TextEnv:
    """``rlvr/InstructionFollowing-v1``: seeded requests with random compatible instructions.

    The reward is the request's check combined with the instructions' by ``combine`` ("gate" or
    "product"); non-answers earn 0 (see :mod:`rlvr_envs.verifiers.ifeval.training`).
    """
    if not 1 <= min_instructions <= max_instructions <= 6:
        raise ValueError(
            "need 1 <= min_instructions <= max_instructions <= 6, got "
            f"{min_instructions} and {max_instructions}"
        )

    def generate(rng: np.random.Generator) -> Task:
        return instruction_task(rng, min_instructions, max_instructions)

    verifier = IFEvalVerifier(mode=mode, reward=reward, for_training=True, combine=combine)
    env_kwargs.setdefault("reward_name", "ifeval")
    if mode == "strict" and reward == "prompt" and combine == "gate":
        # Breaking one instruction, or the request, zeroes only a strict, gated, prompt-level
        # reward.
        env_kwargs.setdefault("perturb", perturb_instruction_answer)
    return TextEnv(
        ProceduralSource(
            generate, name="instructions", params=f"{min_instructions}-{max_instructions}"
        ),
        verifier,
        **env_kwargs,
    )


# --- rlvr/JSONFormat-v0 -------------------------------------------------------------------------

ENTITIES = (
    "book", "city", "recipe", "employee", "planet", "film", "product", "concert", "hiking trail",
    "museum", "train route", "restaurant", "podcast", "sports team", "research paper",
)  # fmt: skip
# Property names by the kind of value they hold, so schemas read naturally.
FIELDS: dict[str, tuple[str, ...]] = {
    "string": ("name", "title", "summary", "owner", "location", "notes", "origin", "author"),
    "enum": ("category", "status", "level", "priority", "size", "frequency"),
    "pattern": ("code", "reference", "sku", "ticket"),
    "integer": ("year", "count", "capacity", "pages", "members", "floors"),
    "number": ("rating", "price", "score", "duration_hours", "distance_km", "weight_kg"),
    "boolean": ("active", "verified", "open_now", "available", "featured"),
    "array": ("tags", "aliases", "keywords", "features"),
    "nullable": ("nickname", "website", "motto"),
    "object": ("details", "contact", "stats", "schedule"),
}
ENUM_OPTIONS = (
    ("low", "medium", "high"),
    ("draft", "active", "archived"),
    ("small", "medium", "large"),
    ("daily", "weekly", "monthly"),
    ("north", "south", "east", "west"),
)
WORDS = (
    "amber", "birch", "cobalt", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper",
    "kestrel", "lumen", "maple", "nectar", "onyx", "pebble", "quartz", "raven", "sable", "tundra",
)  # fmt: skip
MAX_PROPERTIES = sum(len(names) for names in FIELDS.values())

Example = Any


def _string_field(rng: np.random.Generator) -> tuple[dict[str, Any], Example]:
    words = _pick(rng, WORDS, int(rng.integers(1, 4)))
    value = " ".join(words).capitalize()
    schema: dict[str, Any] = {"type": "string", "minLength": 1}
    if rng.random() < 0.5:
        schema["maxLength"] = int(max(len(value), rng.integers(10, 61)))
    return schema, value


def _field(rng: np.random.Generator, kind: str, depth: int) -> tuple[dict[str, Any], Example]:
    """A property schema of ``kind`` and a value that conforms to it."""
    if kind == "string":
        return _string_field(rng)
    if kind == "enum":
        options = list(ENUM_OPTIONS[int(rng.integers(len(ENUM_OPTIONS)))])
        return {"type": "string", "enum": options}, options[int(rng.integers(len(options)))]
    if kind == "pattern":
        letters = "".join(_pick(rng, "ABCDEFGHJKLMNPQRSTUVWXYZ", 3))
        digits = int(rng.integers(0, 1000))
        return {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{3}$"}, f"{letters}-{digits:03d}"
    if kind == "integer":
        low = int(rng.integers(-10, 50))
        high = low + int(rng.integers(1, 500))
        return (
            {"type": "integer", "minimum": low, "maximum": high},
            int(rng.integers(low, high + 1)),
        )
    if kind == "number":
        high = float(rng.integers(1, 100))
        return {"type": "number", "minimum": 0, "maximum": high}, round(
            float(rng.uniform(0, high)), 2
        )
    if kind == "boolean":
        return {"type": "boolean"}, bool(rng.random() < 0.5)
    if kind == "array":
        low = int(rng.integers(1, 3))
        high = low + int(rng.integers(0, 4))
        items = _pick(rng, WORDS, int(rng.integers(low, high + 1)))
        schema = {
            "type": "array",
            "items": {"type": "string"},
            "minItems": low,
            "maxItems": high,
            "uniqueItems": True,
        }
        return schema, items
    if kind == "nullable":
        schema, value = _string_field(rng)
        schema = {**schema, "type": ["string", "null"]}
        return schema, None if rng.random() < 0.5 else value
    return _object(rng, depth - 1, int(rng.integers(2, 4)))


def _object(rng: np.random.Generator, depth: int, size: int) -> tuple[dict[str, Any], Example]:
    kinds = [kind for kind in FIELDS if kind != "object" or depth > 0]
    fields: dict[str, str] = {}
    while len(fields) < size:
        kind = kinds[int(rng.integers(len(kinds)))]
        unused = tuple(n for n in FIELDS[kind] if n not in fields)
        if unused:
            fields[_pick(rng, unused)[0]] = kind
    names = sorted(fields)
    properties, value = {}, {}
    for name in names:
        properties[name], value[name] = _field(rng, fields[name], depth)
    required = [n for n in names if rng.random() < 0.8] or names[:1]
    schema = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    return schema, value


def json_task(
    rng: np.random.Generator, min_properties: int, max_properties: int, depth: int
) -> Task:
    """A random object schema, a prompt that shows it, and a conforming reference object."""
    entity = _pick(rng, ENTITIES)[0]
    schema, example = _object(rng, depth, int(rng.integers(min_properties, max_properties + 1)))
    prompt = (
        f"Describe a fictional {entity} as a JSON object that matches this JSON Schema:\n"
        f"```json\n{json.dumps(schema, indent=2)}\n```\n"
        "Respond with the JSON object only (a ```json code block is allowed), no other text."
    )
    return Task(
        id="",
        prompt=prompt,
        answer={"schema": schema},
        solution=json.dumps(example, indent=2, ensure_ascii=False),
        metadata={"entity": entity},
    )


def perturb_json_answer(task: Task, rng: np.random.Generator) -> list[str]:
    """Known-wrong completions: a required key dropped, a wrong type, prose around the JSON."""
    value = json.loads(task.solution or "{}")
    schema = task.answer["schema"]
    wrong = []
    required = schema.get("required") or []
    if required:
        dropped = dict(value)
        dropped.pop(required[int(rng.integers(len(required)))], None)
        wrong.append(json.dumps(dropped))
    retyped = dict(value)
    retyped[sorted(value)[0]] = [[["not", "this", "type"]]]
    wrong.append(json.dumps(retyped))
    wrong.append(f"Here is the object you asked for:\n{task.solution}")
    wrong.append(json.dumps({**value, "unexpected_extra_field": 1}))
    return wrong


def json_format(
    *,
    min_properties: int = 2,
    max_properties: int = 6,
    depth: int = 1,
    **env_kwargs: Any,
) -> TextEnv:
    """``rlvr/JSONFormat-v0``: produce a JSON object matching a schema given in the prompt."""
    if not 1 <= min_properties <= max_properties <= MAX_PROPERTIES:
        raise ValueError(
            f"need 1 <= min_properties <= max_properties <= {MAX_PROPERTIES}, got "
            f"{min_properties} and {max_properties}"
        )
    if not 0 <= depth <= 3:
        raise ValueError(f"depth must be between 0 and 3, got {depth}")

    def generate(rng: np.random.Generator) -> Task:
        return json_task(rng, min_properties, max_properties, depth)

    env_kwargs.setdefault("reward_name", "json")
    env_kwargs.setdefault("perturb", perturb_json_answer)
    return TextEnv(
        ProceduralSource(
            generate, name="json", params=f"{min_properties}-{max_properties}-d{depth}"
        ),
        JSONVerifier(),
        **env_kwargs,
    )
