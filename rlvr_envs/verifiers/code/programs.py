"""Assert-style tests prepared once per task and shared by every candidate answering it.

A GRPO step verifies G answers to each task, an epoch comes back to the same tasks, and a vector
environment steps many answers to a few tasks: parsing, rewriting and compiling the tests, and
the first host pass (which only records the calls the tests make, before any candidate value
exists, so it is the same for every candidate), are done once per task and kept here. What
depends on the candidate (the modules its solution imports that the tests use) picks one of a
task's programs. Bounded (least recently used first out) and safe from any thread.
"""

from __future__ import annotations

import ast
import threading
from collections import OrderedDict
from typing import Any

from .direct import DirectDecision
from .harness import (
    CompiledTests,
    HarnessError,
    TestProgram,
    parse_solution,
    solution_modules,
)
from .replay import PassOutcome

MAX_TASKS = 4096


class _Entry:
    """One task's compiled tests (or why they cannot be run) and its programs by modules."""

    __slots__ = ("compiled", "error", "programs")

    def __init__(self, compiled: CompiledTests | None, error: HarnessError | None) -> None:
        self.compiled = compiled
        self.error = error
        self.programs: dict[tuple[tuple[str, str], ...], TestProgram | HarnessError] = {}


_entries: OrderedDict[tuple[str, str, str | None], _Entry] = OrderedDict()
_lock = threading.Lock()


def _entry(tests: str, setup: str | None, entry_point: str | None) -> _Entry:
    key = (tests, setup or "", entry_point)
    with _lock:
        entry = _entries.get(key)
        if entry is not None:
            _entries.move_to_end(key)
            return entry
    try:
        entry = _Entry(CompiledTests(tests, setup, entry_point), None)
    except HarnessError as error:
        entry = _Entry(None, error)
    with _lock:
        entry = _entries.setdefault(key, entry)  # a concurrent thread may have been first
        while len(_entries) > MAX_TASKS:
            _entries.popitem(last=False)
    return entry


def program_for(
    tests: str,
    setup: str | None,
    entry_point: str | None,
    solution: str,
    tree: ast.Module | None = None,
) -> TestProgram:
    """The prepared tests of a task for one solution (``tree``: its parsed form, if at hand);
    HarnessError if they cannot be run."""
    entry = _entry(tests, setup, entry_point)
    if entry.error is not None:
        raise HarnessError(str(entry.error))
    compiled = entry.compiled
    assert compiled is not None
    if not compiled.needs_solution_modules():
        tree = None
    elif tree is None:
        tree = parse_solution(solution)
    modules = solution_modules(tree)
    key = tuple(sorted((n, m) for n, m in modules.items() if n in compiled.free))
    program = entry.programs.get(key)
    if program is None:
        try:
            program = TestProgram(compiled, modules=dict(key))
        except HarnessError as error:
            program = error
        program = entry.programs.setdefault(key, program)
    if isinstance(program, HarnessError):
        raise HarnessError(str(program))
    return program


def first_pass(program: TestProgram) -> PassOutcome:
    """The pass before any candidate value (the calls the tests make), run once per program;
    it also sets ``program.direct`` when the tests allow deciding rounds without a judge."""
    outcome = program.recorded
    if outcome is None:
        # Two threads may both run it the first time; either result is the same.
        log: list[Any] | None = [] if program.direct_ok else None
        outcome = program.run_pass([], None, log=log)
        if log is not None and not outcome.aborted:
            program.direct = DirectDecision.from_log(
                program.candidate_names, log, outcome.new_calls
            )
        program.recorded = outcome
    return outcome


def clear() -> None:
    """Forget every prepared task (benchmarks start cold; tests isolate from each other)."""
    with _lock:
        _entries.clear()


def cached_tasks() -> int:
    """How many tasks are prepared now."""
    return len(_entries)
