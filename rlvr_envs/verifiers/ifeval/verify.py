"""Checking responses against lists of instructions, in IFEval's strict and loose modes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...tasks import Task
from ...verdict import Status, Verdict
from .language import LanguageIdUnavailable
from .registry import Instruction, InstructionError, get_instruction

MODES = ("strict", "loose")
REWARDS = ("prompt", "instruction")


def parse_arguments(
    instruction_id: str, kwargs: Mapping[str, Any] | None, prompt: str | None = None
) -> tuple[Instruction, dict[str, Any]]:
    """The instruction and its validated arguments; raises :class:`InstructionError`."""
    instruction = get_instruction(instruction_id)
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise InstructionError(f"{instruction_id}: kwargs must be a mapping, got {kwargs!r}")
    given = dict(kwargs or {})
    if instruction_id == "combination:repeat_prompt" and given.get("prompt_to_repeat") is None:
        # The request to repeat defaults to the prompt itself when the row does not spell it out.
        if prompt is not None:
            given["prompt_to_repeat"] = prompt
    return instruction, instruction.parse_kwargs(given)


def check_instruction(
    response: str,
    instruction_id: str,
    kwargs: Mapping[str, Any] | None = None,
    prompt: str | None = None,
) -> bool:
    """True when ``response`` follows one instruction (an empty response follows none)."""
    if not isinstance(response, str):
        raise TypeError(f"response must be a str, got {type(response).__name__}")
    instruction, arguments = parse_arguments(instruction_id, kwargs, prompt)
    return bool(response.strip()) and bool(instruction.check(response, **arguments))


def loose_variants(response: str) -> list[str]:
    """IFEval's loose-mode rewrites: without the first/last line, without ``*``, and both."""
    lines = response.split("\n")
    trimmed = [
        response,
        "\n".join(lines[1:]).strip(),
        "\n".join(lines[:-1]).strip(),
        "\n".join(lines[1:-1]).strip(),
    ]
    variants = trimmed + [text.replace("*", "") for text in trimmed]
    return list(dict.fromkeys(variants))  # same order as IFEval, duplicates removed


def _kwargs_list(
    instruction_id_list: Sequence[str], kwargs_list: Sequence[Mapping[str, Any] | None] | None
) -> list[Mapping[str, Any] | None]:
    if isinstance(instruction_id_list, str):
        raise InstructionError("instruction_id_list must be a list of ids, not one string")
    if kwargs_list is None:
        return [None] * len(instruction_id_list)
    kwargs_list = list(kwargs_list)
    if len(kwargs_list) != len(instruction_id_list):
        raise InstructionError(
            f"{len(instruction_id_list)} instruction ids but {len(kwargs_list)} kwargs entries"
        )
    return kwargs_list


def parse_instruction_list(
    instruction_id_list: Sequence[str],
    kwargs_list: Sequence[Mapping[str, Any] | None] | None,
    prompt: str | None = None,
) -> list[tuple[Instruction, dict[str, Any]]]:
    """Validate a whole row of instructions at once; raises :class:`InstructionError`."""
    pairs = zip(instruction_id_list, _kwargs_list(instruction_id_list, kwargs_list))
    return [parse_arguments(iid, kw, prompt) for iid, kw in pairs]


def check_options(mode: str, reward: str) -> None:
    """A ``ValueError`` unless ``mode`` and ``reward`` are known."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if reward not in REWARDS:
        raise ValueError(f"reward must be one of {REWARDS}, got {reward!r}")


def verify(
    response: str,
    instruction_id_list: Sequence[str],
    kwargs_list: Sequence[Mapping[str, Any] | None] | None = None,
    prompt: str | None = None,
    mode: str = "strict",
    *,
    reward: str = "prompt",
) -> Verdict:
    """Check every instruction; the reward is prompt-level (all followed) or instruction-level.

    ``details`` holds the per-instruction results and both IFEval scores whichever is rewarded.
    Unknown instruction ids and unusable arguments give an ``error`` verdict (a task fault).
    """
    if not isinstance(response, str):
        raise TypeError(f"response must be a str, got {type(response).__name__}")
    check_options(mode, reward)
    candidates = [response] if mode == "strict" else loose_variants(response)
    candidates = [text for text in candidates if text.strip()]
    try:
        parsed = parse_instruction_list(instruction_id_list, kwargs_list, prompt)
        if not parsed:
            return Verdict.make(Status.ERROR, "the instruction list is empty")
        followed = [
            any(instruction.check(text, **arguments) for text in candidates)
            for instruction, arguments in parsed
        ]
    except InstructionError as error:
        return Verdict.make(Status.ERROR, f"bad instruction list: {error}")
    except LanguageIdUnavailable as error:  # the grader's environment, not the response
        return Verdict.make(Status.ERROR, str(error))

    prompt_level = 1.0 if all(followed) else 0.0
    instruction_level = sum(followed) / len(followed)
    missed = [instruction.id for (instruction, _), ok in zip(parsed, followed) if not ok]
    if not response.strip():
        status, reason = Status.NO_ANSWER, "empty response"
    elif not missed:
        status, reason = Status.CORRECT, f"followed all {len(followed)} instructions ({mode})"
    else:
        status = Status.WRONG
        reason = f"followed {sum(followed)}/{len(followed)} instructions ({mode}); not: " + (
            ", ".join(missed)
        )
    return Verdict.make(
        status,
        reason,
        reward=prompt_level if reward == "prompt" else instruction_level,
        expected=[instruction.id for instruction, _ in parsed],
        details={
            "mode": mode,
            "prompt_level": prompt_level,
            "instruction_level": instruction_level,
            "instructions": [
                {"id": instruction.id, "kwargs": arguments, "followed": ok}
                for (instruction, arguments), ok in zip(parsed, followed)
            ],
        },
    )


def describe(instruction_id: str, kwargs: Mapping[str, Any] | None = None) -> str:
    """The instruction worded for a prompt, from its validated arguments."""
    instruction, arguments = parse_arguments(instruction_id, kwargs)
    return instruction.describe(**arguments)


def task_instructions(task: Task) -> tuple[list[str], list[Mapping[str, Any] | None]]:
    """A task's ``(instruction_id_list, kwargs)``; its answer holds both (IFEval's row layout)."""
    answer = task.answer
    if not isinstance(answer, Mapping) or "instruction_id_list" not in answer:
        raise InstructionError(
            f"task {task.id!r}: the answer must be a mapping with 'instruction_id_list' and "
            f"'kwargs', got {type(answer).__name__}"
        )
    ids = list(answer["instruction_id_list"])
    return ids, _kwargs_list(ids, answer.get("kwargs"))
