"""The instruction registry: each IFEval instruction id with its checker, arguments and wording.

An instruction is a plain function ``check(response, **arguments) -> bool`` registered under its
IFEval id together with the keyword arguments IFEval's data gives it (the same names, including
IFEval's spelling ``section_spliter``) and a ``describe(**arguments)`` that words the instruction
for a prompt. Arguments are validated and normalised once, before any response is checked, so a
bad dataset row fails loudly at load time instead of silently scoring as "not followed".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

RELATIONS = ("less than", "at least")


class InstructionError(ValueError):
    """An instruction id is unknown or its arguments are unusable."""


def compare(count: int, relation: str, threshold: int) -> bool:
    """IFEval's comparison: ``less than`` is ``count < threshold``, ``at least`` is ``>=``."""
    if relation == "less than":
        return count < threshold
    if relation == "at least":
        return count >= threshold
    raise InstructionError(f"relation must be one of {RELATIONS}, got {relation!r}")


# --- argument kinds: each turns a raw dataset value into a checked Python value ------------------


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, int):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    elif isinstance(value, str) and value.strip().lstrip("+").isdigit():
        result = int(value)
    else:
        raise ValueError(f"expected a non-negative integer, got {value!r}")
    if result < 0:
        raise ValueError(f"expected a non-negative integer, got {value!r}")
    return result


def _positive_int(value: Any) -> int:
    result = _int(value)
    if result < 1:
        raise ValueError(f"expected an integer >= 1, got {value!r}")
    return result


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value.strip()


def _text_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        raise ValueError(f"expected a list of strings, got the string {value!r}")
    try:
        items = tuple(_text(item) for item in value)
    except TypeError:
        raise ValueError(f"expected a list of strings, got {value!r}") from None
    if not items:
        raise ValueError("expected a non-empty list of strings")
    return items


def _relation(value: Any) -> str:
    if value not in RELATIONS:
        raise ValueError(f"expected one of {RELATIONS}, got {value!r}")
    return value


def _letter(value: Any) -> str:
    # IFEval's data also uses "#" and "!" as the "letter" to count.
    if not isinstance(value, str) or len(value.strip()) != 1:
        raise ValueError(f"expected a single character, got {value!r}")
    return value.strip().casefold()


ARGUMENT_KINDS: dict[str, Callable[[Any], Any]] = {
    "int": _int,
    "positive_int": _positive_int,
    "text": _text,
    "text_list": _text_list,
    "relation": _relation,
    "letter": _letter,
}


@dataclass(frozen=True)
class Param:
    """One keyword argument of an instruction."""

    name: str
    kind: str  # a key of ARGUMENT_KINDS

    def parse(self, instruction_id: str, value: Any) -> Any:
        """The validated value, or an :class:`InstructionError` naming the instruction and argument."""
        try:
            return ARGUMENT_KINDS[self.kind](value)
        except ValueError as error:
            raise InstructionError(f"{instruction_id}: argument {self.name!r}: {error}") from None


@dataclass(frozen=True)
class Instruction:
    """A verifiable instruction: its id, checker, arguments and prompt wording."""

    id: str
    check: Callable[..., bool]  # check(response, **arguments) -> bool
    params: tuple[Param, ...]
    describe: Callable[..., str]  # describe(**arguments) -> the instruction as prompt text
    validate: Callable[..., None] | None = None  # cross-argument checks; raises ValueError

    def parse_kwargs(self, kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
        """Validated arguments; ``None`` values (the hub's padding of absent keys) are dropped."""
        given = {k: v for k, v in dict(kwargs or {}).items() if v is not None}
        names = {p.name for p in self.params}
        unknown = sorted(set(given) - names)
        if unknown:
            expected = ", ".join(sorted(names)) or "none"
            raise InstructionError(
                f"{self.id}: unknown argument(s) {unknown}; this instruction takes: {expected}"
            )
        missing = [p.name for p in self.params if p.name not in given]
        if missing:
            raise InstructionError(f"{self.id}: missing argument(s) {missing}")
        parsed = {p.name: p.parse(self.id, given[p.name]) for p in self.params}
        if self.validate is not None:
            try:
                self.validate(**parsed)
            except ValueError as error:
                raise InstructionError(f"{self.id}: {error}") from None
        return parsed


INSTRUCTIONS: dict[str, Instruction] = {}


def instruction(
    instruction_id: str,
    *,
    params: Mapping[str, str] | None = None,
    describe: Callable[..., str],
    validate: Callable[..., None] | None = None,
) -> Callable[[Callable[..., bool]], Callable[..., bool]]:
    """Register the decorated ``check(response, **arguments)`` under ``instruction_id``."""

    def register(check: Callable[..., bool]) -> Callable[..., bool]:
        if instruction_id in INSTRUCTIONS:
            raise ValueError(f"instruction {instruction_id!r} is registered twice")
        for kind in (params or {}).values():
            if kind not in ARGUMENT_KINDS:
                raise ValueError(f"{instruction_id}: unknown argument kind {kind!r}")
        INSTRUCTIONS[instruction_id] = Instruction(
            id=instruction_id,
            check=check,
            params=tuple(Param(name, kind) for name, kind in (params or {}).items()),
            describe=describe,
            validate=validate,
        )
        return check

    return register


def get_instruction(instruction_id: str) -> Instruction:
    """The registered instruction, or an :class:`InstructionError` listing the known ids."""
    try:
        return INSTRUCTIONS[instruction_id]
    except (KeyError, TypeError):
        raise InstructionError(
            f"unknown instruction id {instruction_id!r}; known: {', '.join(sorted(INSTRUCTIONS))}"
        ) from None
