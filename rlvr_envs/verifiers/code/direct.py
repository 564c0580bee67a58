"""Deciding the simplest assert-style tests without a judge pass, with the same outcome.

Most tests compare one call of the candidate with an expected value and nothing more:
``assert candidate([1, 2]) == 3``. For those the judged pass of :mod:`.asserts` (a round trip to
a judge process that runs the tests again over the candidate's values) only ever evaluates
``value == expected`` per assertion, in order. This module proves, once per task, that a task's
tests are of that kind, and then decides a candidate's first round here, in the verifier's
process, by exactly those comparisons.

Why the outcome is the judged pass's, assertion for assertion:

* **Statically** (``CompiledTests.escaping``): every use of a name that stands for the candidate
  (its functions, and ``check``'s parameters) is ``f(...)`` as one side of an ``==`` that is an
  assertion's whole test, and the tests use no dynamic code (``eval``, ``globals``...). So a
  candidate value can reach nothing but that one comparison: no control flow, no other
  assertion, no other call depends on it.
* **In the first pass** (recorded once per task): every call of the candidate became a pending
  ``{"__result": i} == expected`` that an assertion tested, each call exactly once; expected
  values are plain data; no exception escaped the tests. Assertions that involve no candidate
  value are decided then, as every later pass would decide them.
* **Per candidate**: every name the tests use is a function of the solution, and every call
  returned a plain value the comparison cannot be made slow by: ``None``, booleans, numbers,
  strings, lists and tuples (no dicts or sets, whose hashing a candidate could make quadratic),
  within the runner's output limit and nesting depth. The call did not change its arguments
  and raised nothing. Anything else (an exception, a mutation, a handle, a dict) goes to the
  judge as before.

Comparing plain values of these types is linear in their size, so it needs no time or memory
bound beyond the one the sandbox's output limit already sets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._runner import MAX_DEPTH, REFERENCE_TAGS, from_plain, has_reference, has_tag
from .replay import Call, PassOutcome

# Names that run or reach code the scan cannot see: a test using one is never decided here.
DYNAMIC_NAMES = frozenset(
    "eval exec compile globals locals vars getattr setattr delattr __import__ __builtins__".split()
)
_CALLABLE = {"kind": "callable"}


class DirectDecision:
    """A task's assertions as the first pass logged them, to decide a candidate's round."""

    def __init__(self, names: Sequence[str], steps: list[tuple[Any, ...]], calls: int) -> None:
        self.names = tuple(names)
        self.steps = steps  # ("eq", call index, expected value, id, line) or ("decided", ...)
        self.calls = calls

    @classmethod
    def from_log(
        cls, names: Sequence[str], log: list[Any], new_calls: Sequence[Call]
    ) -> DirectDecision | None:
        """The decision a first pass's log allows, or None when the tests need the judge."""
        steps: list[tuple[Any, ...]] = []
        compared: set[int] = set()
        for entry in log:
            if entry is None:
                return None
            if entry[0] == "decided":
                _, ok, error, raised, assert_id, line = entry
                steps.append(("decided", ok, error, raised, assert_id, line))
                continue
            _, expr, deps, assert_id, line = entry
            found = _comparison(expr, deps)
            if found is None or found[0] in compared:
                return None
            compared.add(found[0])
            steps.append(("eq", found[0], found[1], assert_id, line))
        if compared != set(range(len(new_calls))):
            return None  # a call whose value the tests use some other way, or not at all
        if any(has_reference(call.payload) for call in new_calls):
            return None
        return cls(names, steps, len(new_calls))

    def outcome(
        self,
        records: Mapping[int, Mapping[str, Any]],
        globals_info: Mapping[str, Any],
        stop: bool = False,
    ) -> PassOutcome | None:
        """The final pass's outcome over these values, or None when the judge must decide (or,
        with ``stop``, when the records end before the first failure).

        ``stop`` ends the pass at the first failing assertion, as a plain test run would: the
        assertions after it count as skipped, and only the records before it are looked at, so
        a candidate that fails and then loops, crashes or writes junk gets the same outcome as
        one that fails and returns.
        """
        if any(globals_info.get(name) != _CALLABLE for name in self.names):
            return None
        outcome = PassOutcome(final=True)
        for position, step in enumerate(self.steps):
            if step[0] == "eq":
                _, index, expected, assert_id, line = step
                record = records.get(index)
                if record is None or len(record) != 2 or "v" not in record:
                    return None  # raised, changed its arguments, is not a value, or is not there
                if not _simple(record["v"], 0):
                    return None
                ok, error, raised = from_plain(record["v"]) == expected, None, False
            else:
                _, ok, error, raised, assert_id, line = step
            outcome.record(ok, assert_id, line, error, raised)
            if not ok and stop:
                outcome.skipped = len(self.steps) - position - 1
                return outcome
        return outcome


def _comparison(expr: Any, deps: Any) -> tuple[int, Any] | None:
    """``(call index, expected value)`` when a pending value is ``result == plain data``."""
    if deps or not isinstance(expr, dict) or list(expr) != ["__op"]:
        return None
    op = expr["__op"]
    if not (isinstance(op, list) and len(op) == 3 and op[0] == "eq"):
        return None
    result, expected = op[1], op[2]
    if not (isinstance(result, dict) and list(result) == ["__result"]):
        return None
    index = result["__result"]
    # A reference is a value of the candidate's; an iterator was consumed by ``to_plain``.
    if type(index) is not int or has_tag(expected, (*REFERENCE_TAGS, "__iter")):
        return None
    try:
        return index, from_plain(expected)
    except (ValueError, TypeError, KeyError):
        return None


def _simple(data: Any, depth: int) -> bool:
    """A returned value comparing in linear time: None, bool, number, str, list, tuple."""
    kind = type(data)
    if data is None or kind is bool or kind is int or kind is float or kind is str:
        return True
    if depth >= MAX_DEPTH:
        return False
    if kind is list:
        return all(_simple(v, depth + 1) for v in data)
    if kind is dict and len(data) == 1:
        if "__tuple" in data:
            items = data["__tuple"]
            return type(items) is list and all(_simple(v, depth + 1) for v in items)
        if "__float" in data:
            return data["__float"] in ("nan", "inf", "-inf")
    return False
