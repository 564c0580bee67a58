"""Deciding assert-style tests outside the sandbox, by record and replay.

Public harnesses run the candidate and the tests in one process, so the candidate can reach the
harness: exit early, patch ``AssertionError``, return an object equal to everything, read the
expected values from the caller's frame. Here the candidate never shares a process with the tests:

1. The trusted test code runs on the host with every name of the solution replaced by a stub
   (:mod:`.replay`). A stub call whose result is not known yet records its arguments (as plain
   data) and returns a :class:`~.replay.Pending` placeholder; a call whose arguments hold such
   placeholders records *references* to those results, so one pass collects every call, chains
   of dependent calls included; only a test that needs a pending value's truth waits.
2. The sandbox runs the candidate on exactly those calls (``_runner.py``) and returns the
   results, what each call did to its arguments, and the solution's module-level plain values,
   as strictly typed plain data: no expected value ever enters the sandbox.
3. The test code runs again with the stubs replaying those results, in a judge process that
   bounds it in time and memory (:mod:`.judge`). When a pass issues no placeholder, its
   assertion outcomes are final; otherwise the new calls go to the sandbox and the loop repeats.

The verdict comes from the final host pass, which executes no candidate code; the candidate can
influence it only through plain values it returned (objects that are not plain data are opaque
handles equal only to themselves), which is exactly what a test should judge.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import random as _random
import types
import warnings
from collections.abc import Sequence
from typing import Any

from .replay import (
    Call,
    Handle,
    HarnessError,
    Missing,
    Pass,
    PassOutcome,
    Pending,
    Stub,
)

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


class _UnknownGlobal(Pending):
    """A name of the solution before the first round says what it is: a call or a value."""

    __slots__ = ("name",)

    def __init__(self, state: Pass, name: str) -> None:
        super().__init__(state, {"__global": name})
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.state.call(self.name, args, kwargs)


class TestProgram:
    """Assert-style tests prepared for host passes."""

    def __init__(
        self,
        test_code: str,
        *,
        entry_point: str | None = None,
        setup: str | None = None,
        solution: str | None = None,
        modules: dict[str, str] | None = None,
    ) -> None:
        try:
            tree = parse_quietly(test_code)
            setup_tree = parse_quietly(setup or "")
        except (SyntaxError, ValueError) as error:
            raise HarnessError(f"the tests do not parse: {error}") from error
        self.source = (test_code, setup or "")
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
        if modules is None:
            modules = {name: module for name, module in _solution_modules(solution)}
        self.modules = {name: module for name, module in modules.items() if name in free}
        free -= set(self.modules)
        # The entry point is the candidate's even when it shadows a builtin (MBPP's ``sum``);
        # other builtin names stay the host's, so a solution cannot redefine ``len`` for the tests.
        self.candidate_names = sorted(free | ({entry_point} if entry_point else set()))
        if not self.candidate_names:
            raise HarnessError("the tests call no function of the solution")

    def spec(self) -> dict[str, Any]:
        """Plain data to rebuild this program elsewhere (a judge process)."""
        return {
            "tests": self.source[0],
            "setup": self.source[1],
            "entry_point": self.entry_point,
            "modules": dict(self.modules),
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> TestProgram:
        """The program a :meth:`spec` stands for."""
        return cls(
            spec["tests"],
            entry_point=spec["entry_point"],
            setup=spec["setup"],
            modules=spec["modules"],
        )

    def _bind(self, name: str, info: dict[str, Any] | None, state: Pass) -> Any:
        if info is None:
            return _UnknownGlobal(state, name)
        entry = info.get(name)
        if entry is None:
            return Missing(name)
        if "v" in entry:
            return state.decode(entry["v"])
        if entry.get("kind") == "object":
            record = {"__opaque": "object", "truth": True, "repr": f"<{name}>"}
            return Handle(record, {"__global": name}, state)
        return Stub(name, state)

    def run_pass(
        self,
        known: Sequence[tuple[Call, dict[str, Any]]],
        globals_info: dict[str, Any] | None = None,
    ) -> PassOutcome:
        """Execute the tests once with stubs that replay ``known`` results.

        ``globals_info`` says what the solution's module-level names are (from the first round);
        None before it, when they all stand for results to come.
        """
        state = Pass(known, len(known))
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
                namespace[name] = self._bind(name, globals_info, state)
            exec(self.code, namespace)
            if self.check_function:
                checker = namespace.get(self.check_function)
                if not callable(checker):
                    raise HarnessError(f"the tests define no {self.check_function}() to call")
                checker(namespace[self.entry_point])
        except HarnessError:
            raise
        except Exception as error:  # noqa: BLE001 - an escaped exception is an outcome
            state.outcome.memory_error |= isinstance(error, MemoryError)
            if not state.issued:
                state.outcome.aborted = f"{type(error).__name__}: {error}"
                state.outcome.aborted_by_candidate = getattr(error, "_rlvr_from_candidate", False)
        state.outcome.final = not state.issued and globals_info is not None
        return state.outcome
