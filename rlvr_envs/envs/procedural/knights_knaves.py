"""Knights and knaves: knights always tell the truth, knaves always lie; say who is which.

Each statement is kept as data and evaluated on every assignment at once as a bitset (bit ``a``
stands for assignment ``a``), so checking that a puzzle has exactly one consistent assignment
costs a few integer operations. The checker verifies the claimed assignment against the
statements themselves: every knight's statement must be true and every knave's false.
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass

from ...tasks import Task
from ...verdict import Verdict
from .common import Family, correct, wrong

NAMES = (
    "Alice Bob Carol Dave Erin Frank Grace Heidi Ivan Judy Kevin Laura Mallory Nora Oscar "
    "Peggy Quentin Rupert Sybil Trent Ursula Victor Walter Xavier Yvonne Zelda"
).split()
KINDS = ("is", "same", "different", "and", "or", "if", "count")
Statement = tuple  # ("is", x, role) | ("same", x, y) | ("and", x, rx, y, ry) | ("count", k)


@dataclass(frozen=True)
class KnightsKnavesParams:
    """Difficulty knobs of ``rlvr/KnightsKnaves-v0``."""

    num_people: int = 3
    kinds: str = "is,same,different,and,or"  # statement kinds, from KINDS

    def validate(self) -> None:
        """Raise ValueError for knob values that cannot make a task."""
        if not 2 <= self.num_people <= 8:
            raise ValueError(f"num_people must be 2..8, got {self.num_people}")
        unknown = set(self.kinds.split(",")) - set(KINDS)
        if unknown or not self.kinds:
            raise ValueError(
                f"kinds must be a comma-separated subset of {KINDS}, got {self.kinds!r}"
            )


LEVELS = {
    1: dict(num_people=2, kinds="is,same,different"),
    2: dict(num_people=3, kinds="is,same,different,and,or"),
    3: dict(num_people=4, kinds="is,same,different,and,or,if"),
    4: dict(num_people=5, kinds="is,same,different,and,or,if,count"),
    5: dict(num_people=6, kinds="same,different,and,or,if,count"),
}


@functools.lru_cache(maxsize=16)
def _tables(n: int) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
    """All-assignments mask, per person "is a knight", per count "exactly k knights"."""
    assignments = range(1 << n)
    knights = tuple(sum(1 << a for a in assignments if a >> i & 1) for i in range(n))
    counts = tuple(sum(1 << a for a in assignments if a.bit_count() == k) for k in range(n + 1))
    return (1 << (1 << n)) - 1, knights, counts


def truth_table(statement: Statement, n: int) -> int:
    """The set of assignments (as a bitset) under which ``statement`` is true."""
    full, knights, counts = _tables(n)

    def role(person: int, kind: str) -> int:
        return knights[person] if kind == "knight" else full & ~knights[person]

    kind = statement[0]
    if kind == "is":
        return role(statement[1], statement[2])
    if kind == "same":
        return full & ~(knights[statement[1]] ^ knights[statement[2]])
    if kind == "different":
        return knights[statement[1]] ^ knights[statement[2]]
    if kind == "count":
        return counts[statement[1]]
    left, right = role(statement[1], statement[2]), role(statement[3], statement[4])
    if kind == "and":
        return left & right
    if kind == "or":
        return left | right
    return (full & ~left) | right  # "if"


def consistent_assignments(statements: list[Statement], n: int) -> int:
    """Assignments under which every speaker's statement matches the speaker's kind."""
    full, knights, _ = _tables(n)
    result = full
    for speaker, statement in enumerate(statements):
        result &= full & ~(knights[speaker] ^ truth_table(statement, n))
    return result


def _random_statement(rng: random.Random, speaker: int, n: int, kinds: list[str]) -> Statement:
    """A random statement; pairs may include the speaker, which is what makes two-person
    puzzles solvable at all ("Alice and Bob are the same kind", said by Alice, means Bob is a
    knight)."""
    kind = rng.choice(kinds)
    roles = ("knight", "knave")
    if kind == "count":
        return ("count", rng.randint(0, n))
    if kind == "is":
        return ("is", rng.choice([i for i in range(n) if i != speaker]), rng.choice(roles))
    x, y = rng.sample(range(n), 2)
    if kind in ("same", "different"):
        return (kind, x, y)
    return (kind, x, rng.choice(roles), y, rng.choice(roles))


def render_statement(statement: Statement, names: list[str]) -> str:
    """The statement as a sentence."""
    kind = statement[0]
    if kind == "is":
        return f"{names[statement[1]]} is a {statement[2]}."
    if kind in ("same", "different"):
        what = "the same kind" if kind == "same" else "of different kinds"
        return f"{names[statement[1]]} and {names[statement[2]]} are {what}."
    if kind == "count":
        k = statement[1]
        return f"Exactly {k} of us {'is a knight' if k == 1 else 'are knights'}."
    left = f"{names[statement[1]]} is a {statement[2]}"
    right = f"{names[statement[3]]} is a {statement[4]}"
    if kind == "and":
        return f"{left} and {right}."
    if kind == "or":
        return f"{left} or {right} (or both)."
    return f"If {left}, then {right}."


def generate(rng: random.Random, p: KnightsKnavesParams) -> Task:
    """A puzzle with exactly one consistent assignment."""
    n = p.num_people
    kinds = p.kinds.split(",")
    for _ in range(100_000):
        hidden = rng.getrandbits(n)
        statements = []
        for speaker in range(n):
            knight = bool(hidden >> speaker & 1)
            while True:
                statement = _random_statement(rng, speaker, n, kinds)
                if bool(truth_table(statement, n) >> hidden & 1) == knight:
                    break
            statements.append(statement)
        if consistent_assignments(statements, n).bit_count() == 1:
            break
    else:
        raise RuntimeError(f"no puzzle with a unique answer from statement kinds {kinds}")
    names = rng.sample(NAMES, n)
    lines = "\n".join(
        f'{names[s]} says: "{render_statement(st, names)}"' for s, st in enumerate(statements)
    )
    prompt = (
        "On an island, every inhabitant is either a knight, who always tells the truth, or a "
        f"knave, who always lies. You meet {n} inhabitants: {', '.join(names)}.\n{lines}\n\n"
        "Who is a knight and who is a knave? Name every inhabitant with their kind, separated "
        "by commas, in the form 'Name: knight'."
    )
    data = {"names": names, "statements": [list(s) for s in statements]}
    return Task(id="", prompt=prompt, answer=data, metadata={"num_people": n})


_SEGMENT_SPLIT = re.compile(r"[,;\n]|\band\b", re.IGNORECASE)
_ASSIGNMENT = re.compile(
    r"([A-Za-z]+)\s*(?:is|:|=|-|–|→)?\s*(?:an?\s+)?(knight|knave)s?", re.IGNORECASE
)


def parse_assignment(text: str, names: list[str]) -> dict[str, bool] | str:
    """``{name: is_knight}`` for every inhabitant, or why the answer is not such a list."""
    known = {name.lower(): name for name in names}
    roles: dict[str, bool] = {}
    for segment in _SEGMENT_SPLIT.split(text):
        segment = segment.strip(" .!\t*'\"")
        if not segment:
            continue
        match = _ASSIGNMENT.fullmatch(segment)
        if match is None:
            return f"cannot read {segment[:40]!r} as 'Name: knight' or 'Name: knave'"
        name = known.get(match.group(1).lower())
        if name is None:
            return f"{match.group(1)[:20]!r} is not one of the inhabitants"
        knight = match.group(2).lower() == "knight"
        if roles.get(name, knight) != knight:
            return f"{name} is called both a knight and a knave"
        roles[name] = knight
    missing = [name for name in names if name not in roles]
    if missing:
        return f"no kind given for {', '.join(missing)}"
    return roles


def check(answer: str, task: Task) -> Verdict:
    """Every knight's statement must be true and every knave's false under the claimed kinds."""
    names = task.answer["names"]
    roles = parse_assignment(answer, names)
    if isinstance(roles, str):
        return wrong(roles)
    claimed = sum(1 << i for i, name in enumerate(names) if roles[name])
    statements = [tuple(s) for s in task.answer["statements"]]
    if consistent_assignments(statements, len(names)) >> claimed & 1:
        return correct("every statement agrees with its speaker's kind")
    return wrong("some statement does not agree with its speaker's claimed kind")


def _render_roles(names: list[str], assignment: int) -> str:
    kinds = ("knave", "knight")
    return ", ".join(f"{name}: {kinds[assignment >> i & 1]}" for i, name in enumerate(names))


def solve(task: Task) -> str:
    """The consistent assignment, by trying all of them."""
    names = task.answer["names"]
    statements = [tuple(s) for s in task.answer["statements"]]
    mask = consistent_assignments(statements, len(names))
    if mask == 0:
        raise ValueError("no assignment is consistent")
    return _render_roles(names, (mask & -mask).bit_length() - 1)


def perturb(task: Task, answer: str, rng: random.Random) -> list[str]:
    """Wrong by construction: one kind flipped, one inhabitant left out, one named twice."""
    names = task.answer["names"]
    roles = parse_assignment(answer, names)
    if isinstance(roles, str):
        return []
    truth = sum(1 << i for i, name in enumerate(names) if roles[name])
    flipped = _render_roles(names, truth ^ (1 << rng.randrange(len(names))))
    parts = answer.split(", ")
    twice = f"{answer}, {names[0]}: {'knave' if roles[names[0]] else 'knight'}"
    return [flipped, ", ".join(parts[1:]), twice]


KNIGHTS_KNAVES = Family(
    "knights_knaves", KnightsKnavesParams, LEVELS, 3, generate, check, solve, perturb
)
