"""Sudoku and mini-sudoku: fill the grid so that every row, column and box holds each digit once.

Puzzles are random valid grids (a base pattern shuffled by digit, row, column, band and stack
permutations) with some cells blanked. Uniqueness is not required: the checker accepts any
completed grid that is valid and keeps every given digit, so it needs no reference answer.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from ...tasks import Task
from ...verdict import Verdict
from .common import Family, correct, wrong

Grid = list[list[int]]
_SEPARATORS = str.maketrans({c: " " for c in ",|;"})
_RULE_CHARS = frozenset("-+=_|: ")
_DIGITS = {n: {str(d): d for d in range(1, n + 1)} for n in range(1, 10)}


@dataclass(frozen=True)
class SudokuParams:
    """Difficulty knobs of ``rlvr/Sudoku-v0`` and ``rlvr/MiniSudoku-v0``."""

    box_rows: int = 3  # a box is box_rows x box_cols; the grid side is their product
    box_cols: int = 3
    blanks: int = 40  # how many cells are left empty

    @property
    def size(self) -> int:
        """The side of the grid (and the largest digit)."""
        return self.box_rows * self.box_cols

    def validate(self) -> None:
        """Raise ValueError for knob values that cannot make a task."""
        if not (2 <= self.box_rows <= 3 and 2 <= self.box_cols <= 3):
            raise ValueError("boxes must be 2-3 rows by 2-3 columns (grids up to 9 x 9)")
        if not 1 <= self.blanks <= self.size * self.size - 1:
            raise ValueError(f"blanks must be 1..{self.size * self.size - 1}, got {self.blanks}")


SUDOKU_LEVELS = {
    1: dict(blanks=20),
    2: dict(blanks=30),
    3: dict(blanks=40),
    4: dict(blanks=50),
    5: dict(blanks=58),
}
MINI_LEVELS = {
    1: dict(box_rows=2, box_cols=2, blanks=4),
    2: dict(box_rows=2, box_cols=2, blanks=8),
    3: dict(box_rows=2, box_cols=2, blanks=11),
    4: dict(box_rows=2, box_cols=3, blanks=14),
    5: dict(box_rows=2, box_cols=3, blanks=22),
}


def _shuffled_groups(rng: random.Random, groups: int, width: int) -> list[int]:
    """Indices permuted within each group of ``width``, and the groups permuted."""
    order = rng.sample(range(groups), groups)
    return [g * width + i for g in order for i in rng.sample(range(width), width)]


def random_solution(rng: random.Random, box_rows: int, box_cols: int) -> Grid:
    """A random valid full grid."""
    n = box_rows * box_cols
    rows = _shuffled_groups(rng, box_cols, box_rows)  # box_cols bands of box_rows rows
    cols = _shuffled_groups(rng, box_rows, box_cols)  # box_rows stacks of box_cols columns
    digits = rng.sample(range(1, n + 1), n)
    return [
        [digits[(box_cols * (r % box_rows) + r // box_rows + c) % n] for c in cols] for r in rows
    ]


def render_grid(grid: Grid) -> str:
    """Rows of digits separated by spaces, ``.`` for an empty cell."""
    return "\n".join(" ".join(str(v) if v else "." for v in row) for row in grid)


def generate(rng: random.Random, p: SudokuParams) -> Task:
    """A random valid grid with ``p.blanks`` cells emptied."""
    n = p.size
    solution = random_solution(rng, p.box_rows, p.box_cols)
    puzzle = [row[:] for row in solution]
    for cell in rng.sample(range(n * n), p.blanks):
        puzzle[cell // n][cell % n] = 0
    prompt = (
        f"Solve this {n}x{n} sudoku: fill every '.' with a digit from 1 to {n} so that each row, "
        f"each column and each {p.box_rows}x{p.box_cols} box contains every digit exactly once.\n\n"
        f"{render_grid(puzzle)}\n\n"
        f"Give the completed grid as {n} lines of {n} digits separated by spaces."
    )
    data = {"puzzle": puzzle, "box_rows": p.box_rows, "box_cols": p.box_cols}
    return Task(id="", prompt=prompt, answer=data, metadata={"size": n, "blanks": p.blanks})


def parse_grid(text: str, n: int) -> Grid | str:
    """An ``n`` x ``n`` grid of digits 1..n from the answer text, or why it is not one."""
    digits = _DIGITS[n]
    rows: Grid = []
    for line in text.splitlines():
        if not line.strip() or set(line) <= _RULE_CHARS:  # blank lines and box rules
            continue
        if len(rows) == n:
            return f"more than {n} rows"
        cells = line.translate(_SEPARATORS).split()
        if len(cells) == 1 and len(cells[0]) == n:  # "534678912" without spaces
            cells = list(cells[0])
        if len(cells) != n:
            return f"row {len(rows) + 1} has {len(cells)} cells, not {n}"
        row = [digits.get(cell, 0) for cell in cells]
        if 0 in row:
            bad = cells[row.index(0)]
            return f"row {len(rows) + 1} holds {bad[:10]!r}, not a digit from 1 to {n}"
        rows.append(row)
    if len(rows) != n:
        return f"{len(rows)} rows, not {n}"
    return rows


@functools.lru_cache(maxsize=8)
def _boxes(n: int, box_rows: int, box_cols: int) -> tuple[tuple[tuple[int, int], ...], ...]:
    return tuple(
        tuple((br + r, bc + c) for r in range(box_rows) for c in range(box_cols))
        for br in range(0, n, box_rows)
        for bc in range(0, n, box_cols)
    )


def check(answer: str, task: Task) -> Verdict:
    """The grid must be complete and valid and keep every given digit."""
    puzzle = task.answer["puzzle"]
    n = len(puzzle)
    grid = parse_grid(answer, n)
    if isinstance(grid, str):
        return wrong(f"not a {n}x{n} grid: {grid}")
    for r, (given_row, row) in enumerate(zip(puzzle, grid)):
        for c, (given, value) in enumerate(zip(given_row, row)):
            if given and value != given:
                return wrong(f"cell ({r + 1}, {c + 1}) was given as {given}")
    for what, groups in (("row", grid), ("column", zip(*grid))):
        for index, group in enumerate(groups):
            if len(set(group)) != n:
                return wrong(f"{what} {index + 1} repeats a digit")
    for index, box in enumerate(_boxes(n, task.answer["box_rows"], task.answer["box_cols"])):
        if len({grid[r][c] for r, c in box}) != n:
            return wrong(f"box {index + 1} repeats a digit")
    return correct("a valid grid that keeps the givens")


def solve_grid(puzzle: Grid, box_rows: int, box_cols: int) -> Grid:
    """A completion of ``puzzle`` by backtracking on the most constrained empty cell."""
    n = box_rows * box_cols
    grid = [row[:] for row in puzzle]
    full = (1 << (n + 1)) - 2
    rows, cols, boxes = [0] * n, [0] * n, [0] * n

    def box(r: int, c: int) -> int:
        return (r // box_rows) * (n // box_cols) + c // box_cols

    empty = []
    for r in range(n):
        for c in range(n):
            if grid[r][c]:
                bit = 1 << grid[r][c]
                rows[r] |= bit
                cols[c] |= bit
                boxes[box(r, c)] |= bit
            else:
                empty.append((r, c))

    def fill(remaining: list[tuple[int, int]]) -> bool:
        if not remaining:
            return True
        best = min(
            remaining,
            key=lambda rc: bin(full & ~(rows[rc[0]] | cols[rc[1]] | boxes[box(*rc)])).count("1"),
        )
        r, c = best
        b = box(r, c)
        rest = [rc for rc in remaining if rc != best]
        free = full & ~(rows[r] | cols[c] | boxes[b])
        for digit in range(1, n + 1):
            bit = 1 << digit
            if free & bit:
                rows[r] |= bit
                cols[c] |= bit
                boxes[b] |= bit
                grid[r][c] = digit
                if fill(rest):
                    return True
                rows[r] &= ~bit
                cols[c] &= ~bit
                boxes[b] &= ~bit
        grid[r][c] = 0
        return False

    if not fill(empty):
        raise ValueError("the puzzle has no solution")
    return grid


def solve(task: Task) -> str:
    """A completed grid found by backtracking (depth at most the number of blanks)."""
    a = task.answer
    return render_grid(solve_grid(a["puzzle"], a["box_rows"], a["box_cols"]))


def perturb(task: Task, answer: str, rng: random.Random) -> list[str]:
    """Wrong by construction: two cells of a row swapped, a given changed, blanks left in."""
    puzzle = task.answer["puzzle"]
    n = len(puzzle)
    grid = parse_grid(answer, n)
    if isinstance(grid, str):
        return []
    swapped = [row[:] for row in grid]
    r = rng.randrange(n)
    c1, c2 = rng.sample(range(n), 2)
    swapped[r][c1], swapped[r][c2] = swapped[r][c2], swapped[r][c1]
    changed = [row[:] for row in grid]
    given = next((r, c) for r in range(n) for c in range(n) if puzzle[r][c])
    changed[given[0]][given[1]] = puzzle[given[0]][given[1]] % n + 1
    return [render_grid(swapped), render_grid(changed), render_grid(puzzle)]


def _family(name: str, levels: dict, default_level: int) -> Family:
    return Family(name, SudokuParams, levels, default_level, generate, check, solve, perturb)


SUDOKU = _family("sudoku", SUDOKU_LEVELS, 3)
MINI_SUDOKU = _family("mini_sudoku", MINI_LEVELS, 3)
