"""Deciding assert-style tests outside the sandbox, by record and replay.

Public harnesses run the candidate and the tests in one process, so the candidate can reach the
harness: exit early, patch ``AssertionError``, return an object equal to everything, read the
expected values from the caller's frame. Here the candidate never shares a process with the tests:

1. The trusted test code runs on the host with every candidate function replaced by a *stub*. A stub
   call whose result is not known yet records its arguments (as plain data) and returns a
   :class:`Pending` placeholder, so one pass collects every call whose arguments do not depend on
   another call's result.
2. The sandbox runs the candidate on exactly those arguments (``_runner.py``) and returns the
   results as strictly typed plain data: no expected value ever enters the sandbox.
3. The test code runs again with the stubs replaying those results. When a pass issues no
   placeholder, its assertion outcomes are final; otherwise the newly collected calls go to the
   sandbox and the loop repeats (calls that depend on earlier results need another round).

The verdict comes from the final host pass, which executes no candidate code; the candidate can
influence it only through plain values it returned, which is exactly what a test should judge.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import json
import random as _random
import types
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._runner import NotPlainData, from_plain, to_plain

ASSERT_FUNCTION = "__rlvr_assert__"
RANDOM_SEED = 0
# Modules a solution may import at top level and tests may then use (MBPP's tests run in the
# solution's namespace, so ``sys.getsizeof`` in a test relies on the solution's ``import sys``).
# The host imports them itself; they are standard library and have no import side effects.
SHARED_MODULES = frozenset(
    "array bisect cmath collections copy datetime decimal fractions functools heapq itertools "
    "json math operator re statistics string sys typing".split()
)


def parse_quietly(code: str) -> ast.Module:
    """``ast.parse`` without the warnings that escapes like ``"\\w"`` in plain strings give."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return ast.parse(code)


def quiet_compile(source: str | ast.Module, filename: str) -> types.CodeType:
    """``compile(..., "exec")`` without escape-sequence warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return compile(source, filename, "exec")


class Blocked(Exception):
    """A test needed a value the candidate has not produced yet (only in non-final passes)."""


class HarnessError(RuntimeError):
    """The tests cannot be decided this way (a fault of the tests or the harness, not the answer)."""


class CandidateError(Exception):
    """An exception the candidate raised that has no built-in class on the host."""


class Pending:
    """Stands for a candidate result not computed yet; any use that needs its value blocks."""

    __slots__ = ()

    def _same(self, *args: Any, **kwargs: Any) -> Pending:
        return self

    def _block(self, *args: Any, **kwargs: Any) -> Any:
        raise Blocked("a candidate result is pending")

    def __repr__(self) -> str:
        return "<pending>"

    __str__ = __repr__


for _name in (
    "add radd sub rsub mul rmul truediv rtruediv floordiv rfloordiv mod rmod pow rpow neg pos "
    "abs invert and rand or ror xor rxor lshift rlshift rshift rrshift matmul rmatmul "
    "eq ne lt le gt ge getitem getattr call round trunc floor ceil"
).split():
    setattr(Pending, f"__{_name}__", Pending._same)
for _name in "bool len iter hash index int float complex contains next reversed".split():
    setattr(Pending, f"__{_name}__", Pending._block)
PENDING = Pending()


def _contains_pending(value: Any, depth: int = 0) -> bool:
    if value is PENDING:
        return True
    if depth > 20:
        return False
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_contains_pending(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return any(_contains_pending(v, depth + 1) for v in (*value.keys(), *value.values()))
    return False


def _replay_exception(name: str, message: str) -> BaseException:
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            error = cls(message)
        except Exception:  # an exception class with an unusual constructor
            error = CandidateError(f"{name}: {message}")
    else:  # SystemExit, KeyboardInterrupt and custom classes must not act on the host
        error = CandidateError(f"{name}: {message}")
    error._rlvr_from_candidate = True  # type: ignore[attr-defined]
    return error


@dataclass
class Call:
    """One call of a candidate function: its key (name + plain arguments) and payload."""

    key: str
    payload: list[Any]  # [name, plain args, plain kwargs] as sent to the sandbox


@dataclass
class PassOutcome:
    """What one host pass over the tests observed."""

    final: bool
    passed: int = 0
    failures: list[tuple[int, int, str, bool]] = field(
        default_factory=list
    )  # id, line, why, raised
    new_calls: list[Call] = field(default_factory=list)
    aborted: str | None = None  # an exception that escaped the test code
    aborted_by_candidate: bool = False

    @property
    def total(self) -> int:
        """Assertions evaluated, plus one for an abort that skipped the rest."""
        return self.passed + len(self.failures) + (1 if self.aborted else 0)


class _Pass:
    """The state of one host pass: known results, new calls, assertion outcomes.

    Results are matched to calls by (function, arguments) and occurrence, not by position: an
    assertion that blocked on a pending value in one pass makes calls in the next that it never
    reached before, so the order of calls differs between passes.
    """

    def __init__(self, known: Sequence[tuple[Call, dict[str, Any]]]) -> None:
        self.by_key: dict[str, list[dict[str, Any]]] = {}
        for call, record in known:
            self.by_key.setdefault(call.key, []).append(record)
        self.used: dict[str, int] = {}
        self.issued = False  # a placeholder was handed out: outcomes of this pass do not count
        self.outcome = PassOutcome(final=False)

    def call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            payload = [name, to_plain(list(args)), to_plain(kwargs)]
        except NotPlainData as error:
            if _contains_pending((args, kwargs)):
                self.issued = True  # depends on a result not known yet
                return PENDING
            raise HarnessError(
                f"the tests pass {error} to {name}(); cannot run it in isolation"
            ) from None
        key = json.dumps(payload, sort_keys=True)
        occurrence = self.used.get(key, 0)
        self.used[key] = occurrence + 1
        records = self.by_key.get(key, [])
        if occurrence < len(records):
            return self._replay(name, records[occurrence])
        self.issued = True
        self.outcome.new_calls.append(Call(key, payload))
        return PENDING

    @staticmethod
    def _replay(name: str, record: dict[str, Any]) -> Any:
        if "v" in record:
            return from_plain(record["v"])
        if "exc" in record:
            raise _replay_exception(*record["exc"])
        if "bad" in record:
            error = TypeError(f"{name}() returned {record['bad']}")
            error._rlvr_from_candidate = True  # type: ignore[attr-defined]
            raise error
        if "missing" in record:
            error = NameError(f"the solution does not define {record['missing']}()")
            error._rlvr_from_candidate = True  # type: ignore[attr-defined]
            raise error
        raise HarnessError(f"malformed result record for {name}: {sorted(record)}")

    def check(self, condition: Callable[[], Any], assert_id: int, line: int) -> None:
        issued_before = self.issued
        try:
            ok = bool(condition())
            error: str | None = None
            raised = False
        except HarnessError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure inside an assertion is an outcome
            ok, error = False, f"{type(exc).__name__}: {exc}"
            raised = getattr(exc, "_rlvr_from_candidate", False)
        if issued_before or self.issued:
            return  # depends on results not known yet; a later pass decides
        if ok:
            self.outcome.passed += 1
        else:
            self.outcome.failures.append((assert_id, line, error or "assertion failed", raised))


class _Stub:
    """Stands in for a candidate function during a host pass."""

    def __init__(self, name: str, state: _Pass) -> None:
        self.__name__ = self.__qualname__ = name
        self._state = state

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._state.call(self.__name__, args, kwargs)

    def __repr__(self) -> str:
        return f"<candidate {self.__name__}>"


class _AssertRewriter(ast.NodeTransformer):
    """Turns ``assert test, msg`` into ``__rlvr_assert__(lambda: test, id, line)``."""

    def __init__(self) -> None:
        self.count = 0

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        self.count += 1
        lam = ast.Lambda(
            args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
            body=self.visit(node.test),
        )
        call = ast.Call(
            func=ast.Name(id=ASSERT_FUNCTION, ctx=ast.Load()),
            args=[lam, ast.Constant(self.count), ast.Constant(node.lineno)],
            keywords=[],
        )
        return ast.copy_location(ast.Expr(value=call), node)


def _bound_names(tree: ast.AST) -> set[str]:
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound


def _solution_modules(solution: str | None) -> list[tuple[str, str]]:
    """``(bound name, module)`` for the solution's top-level ``import m`` / ``import m as n``."""
    if not solution:
        return []
    try:
        tree = parse_quietly(solution)
    except (SyntaxError, ValueError):
        return []
    found = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                module = alias.name
                if module in SHARED_MODULES or module == "random":
                    found.append((alias.asname or module, module))
    return found


def _seeded_random_module() -> types.ModuleType:
    """A ``random`` module whose functions draw from a private, freshly seeded generator."""
    module = types.ModuleType("random")
    generator = _random.Random(RANDOM_SEED)
    for name in dir(_random):
        value = getattr(_random, name)
        if callable(getattr(generator, name, None)) and not name.startswith("_"):
            value = getattr(generator, name)
        setattr(module, name, value)
    return module


class TestProgram:
    """Assert-style tests prepared for host passes."""

    def __init__(
        self,
        test_code: str,
        *,
        entry_point: str | None = None,
        setup: str | None = None,
        solution: str | None = None,
    ) -> None:
        try:
            tree = parse_quietly(test_code)
            setup_tree = parse_quietly(setup or "")
        except (SyntaxError, ValueError) as error:
            raise HarnessError(f"the tests do not parse: {error}") from error
        rewriter = _AssertRewriter()
        tree = ast.fix_missing_locations(rewriter.visit(tree))
        if rewriter.count == 0:
            raise HarnessError("the tests contain no assert statement")
        self.code = quiet_compile(tree, "<tests>")
        self.setup = quiet_compile(setup_tree, "<setup>")
        self.assert_count = rewriter.count
        self.entry_point = entry_point
        defines_check = any(isinstance(n, ast.FunctionDef) and n.name == "check" for n in tree.body)
        self.check_function = "check" if defines_check and entry_point else None
        builtin_names = set(dir(builtins))
        loaded = {
            n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        }
        free = loaded - _bound_names(tree) - _bound_names(setup_tree) - builtin_names
        free.discard(ASSERT_FUNCTION)
        self.modules = {
            name: module for name, module in _solution_modules(solution) if name in free
        }
        free -= set(self.modules)
        # The entry point is the candidate's even when it shadows a builtin (MBPP's ``sum``);
        # other builtin names stay the host's, so a solution cannot redefine ``len`` for the tests.
        self.candidate_names = sorted(free | ({entry_point} if entry_point else set()))
        if not self.candidate_names:
            raise HarnessError("the tests call no function of the solution")

    def run_pass(self, known: Sequence[tuple[Call, dict[str, Any]]]) -> PassOutcome:
        """Execute the tests once with stubs that replay ``known`` results."""
        state = _Pass(known)
        random_module = _seeded_random_module()
        real_import = builtins.__import__

        def import_(name: str, *args: Any, **kwargs: Any) -> Any:
            return random_module if name == "random" else real_import(name, *args, **kwargs)

        test_builtins = dict(vars(builtins), __import__=import_)
        namespace: dict[str, Any] = {
            "__name__": "__rlvr_tests__",
            "__builtins__": test_builtins,
            ASSERT_FUNCTION: state.check,
        }
        for name, module in self.modules.items():
            namespace[name] = (
                random_module if module == "random" else importlib.import_module(module)
            )
        try:
            exec(self.setup, namespace)
            for name in self.candidate_names:
                namespace[name] = _Stub(name, state)
            exec(self.code, namespace)
            if self.check_function:
                checker = namespace.get(self.check_function)
                if not callable(checker):
                    raise HarnessError(f"the tests define no {self.check_function}() to call")
                checker(namespace[self.entry_point])
        except HarnessError:
            raise
        except Exception as error:  # noqa: BLE001 - an escaped exception is an outcome
            if not state.issued:
                state.outcome.aborted = f"{type(error).__name__}: {error}"
                state.outcome.aborted_by_candidate = getattr(error, "_rlvr_from_candidate", False)
        state.outcome.final = not state.issued
        return state.outcome
