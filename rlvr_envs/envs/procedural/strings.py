"""String manipulation: apply a chain of edits (reverse, rotate, replace, case changes...) to a
random string.

The result is determined by the start string and the edits, which the task keeps as data; the
checker recomputes it from them and compares it with the answer exactly (case and spacing
matter). Chains whose result equals the start string are never generated, so copying the string
from the prompt earns nothing.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

from ...tasks import Task
from ...verdict import Verdict
from .common import Family, correct, wrong

OPERATIONS = (
    "reverse",
    "upper",
    "lower",
    "swapcase",
    "rotate_left",
    "rotate_right",
    "remove",
    "replace",
    "caesar",
    "drop_odd",
    "sort",
)
Edit = list  # [name, *arguments]


@dataclass(frozen=True)
class StringParams:
    """Difficulty knobs of ``rlvr/StringManipulation-v0``."""

    length: int = 12
    num_ops: int = 3
    alphabet: str = string.ascii_lowercase

    def validate(self) -> None:
        """Raise ValueError for knob values that cannot make a task."""
        if not 3 <= self.length <= 200:
            raise ValueError(f"length must be 3..200, got {self.length}")
        if not 1 <= self.num_ops <= 10:
            raise ValueError(f"num_ops must be 1..10, got {self.num_ops}")
        if len(set(self.alphabet)) < 3 or any(
            c.isspace() or not c.isprintable() for c in self.alphabet
        ):
            raise ValueError("alphabet needs at least 3 distinct printable, non-space characters")


LEVELS = {
    1: dict(length=6, num_ops=1, alphabet=string.ascii_lowercase),
    2: dict(length=10, num_ops=2, alphabet=string.ascii_lowercase),
    3: dict(length=14, num_ops=3, alphabet=string.ascii_letters),
    4: dict(length=20, num_ops=4, alphabet=string.ascii_letters + string.digits),
    5: dict(length=30, num_ops=5, alphabet=string.ascii_letters + string.digits),
}


def _caesar(text: str, shift: int) -> str:
    out = []
    for c in text:
        if "a" <= c <= "z":
            out.append(chr((ord(c) - 97 + shift) % 26 + 97))
        elif "A" <= c <= "Z":
            out.append(chr((ord(c) - 65 + shift) % 26 + 65))
        else:
            out.append(c)
    return "".join(out)


def apply_edit(text: str, edit: Edit) -> str:
    """The string after one edit."""
    name, args = edit[0], edit[1:]
    if name == "reverse":
        return text[::-1]
    if name in ("upper", "lower", "swapcase"):
        return getattr(text, name)()
    if name == "rotate_left":
        k = args[0] % len(text) if text else 0
        return text[k:] + text[:k]
    if name == "rotate_right":
        k = args[0] % len(text) if text else 0
        return text[len(text) - k :] + text[: len(text) - k]
    if name == "remove":
        return text.replace(args[0], "")
    if name == "replace":
        return text.replace(args[0], args[1])
    if name == "caesar":
        return _caesar(text, args[0])
    if name == "drop_odd":
        return text[::2]
    if name == "sort":
        return "".join(sorted(text))
    raise ValueError(f"unknown edit {name!r}")


def describe_edit(edit: Edit) -> str:
    """The edit as an instruction."""
    name, args = edit[0], edit[1:]
    if name in ("rotate_left", "rotate_right"):
        side, ends = (
            ("left", "start to the end") if name == "rotate_left" else ("right", "end to the start")
        )
        return f"rotate the string {side} by {args[0]} (move that many characters from the {ends})"
    if name == "remove":
        return f"delete every occurrence of the character '{args[0]}'"
    if name == "replace":
        return f"replace every '{args[0]}' with '{args[1]}'"
    if name == "caesar":
        return (
            f"shift every letter {args[0]} places forward in the alphabet (wrapping from z to a, "
            "keeping its case; other characters stay)"
        )
    return {
        "reverse": "reverse the string",
        "upper": "convert every letter to upper case",
        "lower": "convert every letter to lower case",
        "swapcase": "swap the case of every letter",
        "drop_odd": "keep only the characters at odd positions (the 1st, 3rd, 5th, ...)",
        "sort": "sort the characters by their Unicode code point (digits, then A-Z, then a-z)",
    }[name]


def _random_edit(rng: random.Random, text: str, alphabet: str) -> Edit:
    name = rng.choice(OPERATIONS)
    if name in ("rotate_left", "rotate_right"):
        return [name, rng.randint(1, max(1, len(text) - 1))]
    if name == "remove":
        return [name, rng.choice(text)]
    if name == "replace":
        return [name, rng.choice(text), rng.choice(alphabet)]
    if name == "caesar":
        return [name, rng.randint(1, 25)]
    return [name]


def generate(rng: random.Random, p: StringParams) -> Task:
    """A random string and a chain of edits, each changing it, that ends somewhere new."""
    for _ in range(1000):
        start = "".join(rng.choice(p.alphabet) for _ in range(p.length))
        text, edits = start, []
        for _ in range(p.num_ops):
            edit = _random_edit(rng, text, p.alphabet)
            after = apply_edit(text, edit)
            if after == text or not after:  # a no-op or emptying edit: draw another chain
                break
            text, edits = after, [*edits, edit]
        if len(edits) == p.num_ops and text != start:
            break
    else:
        raise RuntimeError("could not draw a chain of edits that changes the string")
    steps = "\n".join(f"{i}. {describe_edit(e)}" for i, e in enumerate(edits, 1))
    prompt = (
        f'Start with the string "{start}" and apply these edits in order:\n{steps}\n\n'
        "What is the final string? Write it without quotes."
    )
    data = {"start": start, "edits": edits}
    return Task(
        id="", prompt=prompt, answer=data, metadata={"length": p.length, "num_ops": len(edits)}
    )


def result_of(task: Task) -> str:
    """The start string after every edit of the task."""
    text = task.answer["start"]
    for edit in task.answer["edits"]:
        text = apply_edit(text, edit)
    return text


def check(answer: str, task: Task) -> Verdict:
    """The answer must be exactly the edited string (surrounding quotes allowed)."""
    if len(answer) >= 2 and answer[0] == answer[-1] and answer[0] in "\"'`":
        answer = answer[1:-1]
    expected = result_of(task)
    if answer != expected:
        return wrong("differs from the edited string", expected=expected)
    return correct("the edited string", expected=expected)


def solve(task: Task) -> str:
    """The edited string."""
    return result_of(task)


def perturb(task: Task, answer: str, rng: random.Random) -> list[str]:
    """Wrong by construction: the start string, one character changed, one dropped."""
    i = rng.randrange(len(answer))
    changed = answer[:i] + ("x" if answer[i] != "x" else "y") + answer[i + 1 :]
    wrongs = [task.answer["start"], changed]
    if len(answer) > 1:
        wrongs.append(answer[:i] + answer[i + 1 :])
    return wrongs


STRING_MANIPULATION = Family(
    "string_manipulation", StringParams, LEVELS, 3, generate, check, solve, perturb
)
