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
   Tests that only compare single calls with plain expected values skip this pass when the
   results are plain enough: :mod:`.direct` makes the same comparisons in the verifier.

The verdict comes from the final host pass, which executes no candidate code; the candidate can
influence it only through plain values it returned (objects that are not plain data are opaque
handles equal only to themselves), which is exactly what a test should judge.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import importlib
import marshal
import random as _random
import threading
import types
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

from .direct import DYNAMIC_NAMES, DirectDecision
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


# CPython 3.11 builds the Python objects of ``ast.parse`` with a recursion counter shared by
# every thread; a thread switch inside it (a finalizer run by the garbage collector) makes a
# concurrent parse fail with ``SystemError: AST constructor recursion depth mismatch``. The
# ``warnings.catch_warnings`` around it is not thread-safe either. So the verifier parses and
# compiles under one lock (the work is short and done once per task; see ``programs``). A parse
# of someone else's in another thread (sympy's ``parse_expr``, ``ast.literal_eval``) holds no
# such lock, so a parse that still hits the mismatch is retried: the counter is reset at the
# start of every parse, and the tree is the same.
_PARSE_LOCK = threading.Lock()
_PARSE_TRIES = 5
_MISMATCH = "recursion depth mismatch"


def parse_quietly(code: str) -> ast.Module:
    """``ast.parse`` without the warnings that escapes like ``"\\w"`` in plain strings give."""
    for attempt in range(_PARSE_TRIES):
        with _PARSE_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                return ast.parse(code)
            except SystemError as error:
                if _MISMATCH not in str(error) or attempt == _PARSE_TRIES - 1:
                    raise
    raise AssertionError("unreachable")


def quiet_compile(source: str | ast.Module, filename: str, inherit: bool = True) -> types.CodeType:
    """``compile(..., "exec")`` without escape-sequence warnings (``inherit``: this module's
    future flags, as the tests have always been compiled with)."""
    with _PARSE_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return compile(source, filename, "exec", dont_inherit=not inherit)


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class _Scan:
    """What one walk of a tree found (see :func:`_scan`)."""

    __slots__ = ("asserts", "bound", "escaping", "loaded")

    def __init__(self) -> None:
        self.loaded: set[str] = set()  # names it loads
        self.bound: set[str] = set()  # names it binds anywhere
        self.asserts: list[tuple[list, int, ast.Assert]] = []  # in source order, with their place
        self.escaping: set[str] = set()  # names used other than as a direct comparison's call


def _scan(tree: ast.AST, asserts_compare: bool = False) -> _Scan:
    """One walk of a tree: names it loads and binds, its assert statements (with the statement
    list and index that hold them) and, for :mod:`.direct`, the names used other than as ``f``
    in an ``assert f(...) == x`` (or ``x == f(...)``); with ``asserts_compare`` False every
    name counts as used other ways."""
    found = _Scan()
    loaded, bound, escaping, asserts = found.loaded, found.bound, found.escaping, found.asserts
    direct: set[int] = set()  # ids of the Name nodes called as one side of such a comparison
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is ast.Name:
            (loaded if type(node.ctx) is ast.Load else bound).add(node.id)  # type: ignore[attr-defined]
            if id(node) not in direct:
                escaping.add(node.id)  # type: ignore[attr-defined]
            continue
        if kind is ast.Assert and asserts_compare:  # seen before the nodes inside it
            test = node.test  # type: ignore[attr-defined]
            if type(test) is ast.Compare and len(test.ops) == 1 and type(test.ops[0]) is ast.Eq:
                for side in (test.left, test.comparators[0]):
                    if type(side) is ast.Call and type(side.func) is ast.Name:
                        direct.add(id(side.func))
        elif kind in _DEFINITIONS:
            bound.add(node.name)  # type: ignore[attr-defined]
        elif kind is ast.arg:
            bound.add(node.arg)  # type: ignore[attr-defined]
        elif kind is ast.Import or kind is ast.ImportFrom:
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)  # type: ignore[attr-defined]
        elif kind is ast.ExceptHandler and node.name:  # type: ignore[attr-defined]
            bound.add(node.name)  # type: ignore[attr-defined]
        for field_name in node._fields:
            value = getattr(node, field_name, None)
            if type(value) is list:
                for index, item in enumerate(value):
                    if type(item) in _LEAVES or not isinstance(item, ast.AST):
                        continue
                    if type(item) is ast.Assert:
                        asserts.append((value, index, item))
                    stack.append(item)
            elif type(value) not in _LEAVES and isinstance(value, ast.AST):
                stack.append(value)
    asserts.sort(key=lambda found: (found[2].lineno, found[2].col_offset))
    return found


# Nodes with nothing inside that a scan looks for: constants, contexts, operators (a test's
# literals are most of its nodes).
_LEAVES = frozenset(
    kind
    for base in (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)
    for kind in base.__subclasses__()
) | {ast.Constant}


_NO_ARGUMENTS = {"posonlyargs": [], "args": [], "kwonlyargs": [], "kw_defaults": [], "defaults": []}


def _rewrite_asserts(asserts: list[tuple[list, int, ast.Assert]]) -> None:
    """``assert test, msg`` becomes ``__rlvr_assert__(lambda: test, number, line)`` in place."""
    for number, (body, index, node) in enumerate(asserts, start=1):
        at = {
            "lineno": node.lineno,
            "col_offset": node.col_offset,
            "end_lineno": node.end_lineno,
            "end_col_offset": node.end_col_offset,
        }
        lam = ast.Lambda(args=ast.arguments(**_NO_ARGUMENTS), body=node.test, **at)
        check = ast.Name(id=ASSERT_FUNCTION, ctx=ast.Load(), **at)
        args = [lam, ast.Constant(number, **at), ast.Constant(node.lineno, **at)]
        body[index] = ast.Expr(value=ast.Call(func=check, args=args, keywords=[], **at), **at)


def solution_modules(tree: ast.Module | None) -> dict[str, str]:
    """``{bound name: module}`` for the solution's top-level ``import m`` / ``import m as n``."""
    found: dict[str, str] = {}
    for node in tree.body if tree is not None else ():
        if isinstance(node, ast.Import):
            for alias in node.names:
                module = alias.name
                if module in SHARED_MODULES or module == "random":
                    found[alias.asname or module] = module
    return found


def parse_solution(solution: str | None) -> ast.Module | None:
    """The solution's tree for :func:`solution_modules`, or None when there is none or it does
    not parse; an empty tree when its text cannot hold an import statement (spares the parse)."""
    if not solution:
        return None
    if solution.isascii() and "import" not in solution:
        return ast.Module(body=[], type_ignores=[])
    try:
        return parse_quietly(solution)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


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


class CompiledTests:
    """Assert-style tests parsed, rewritten and compiled once, whatever the candidate.

    ``free`` are the names the tests use without binding them (nor the setup, nor builtins):
    the solution's, or modules the solution imports.
    """

    def __init__(self, test_code: str, setup: str | None, entry_point: str | None) -> None:
        try:
            tree = parse_quietly(test_code)
            setup_tree = parse_quietly(setup or "")
        except (SyntaxError, ValueError) as error:
            raise HarnessError(f"the tests do not parse: {error}") from error
        self.source = (test_code, setup or "")
        self.entry_point = entry_point
        scan, setup_scan = _scan(tree, asserts_compare=True), _scan(setup_tree)
        if not scan.asserts:
            raise HarnessError("the tests contain no assert statement")
        self.assert_count = len(scan.asserts)
        checks = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check"]
        self.check_function = "check" if checks and entry_point else None
        self.literal_checks = _literal_checks(
            tree, scan.asserts, self.check_function, entry_point, scan.bound
        )
        self._code: types.CodeType | None = None
        if self.literal_checks is None:
            _rewrite_asserts(scan.asserts)
            self._code = quiet_compile(tree, "<tests>")
        self.setup = quiet_compile(setup_tree, "<setup>")
        # check()'s parameters stand for the candidate's entry point too.
        self.check_params = frozenset(
            a.arg for c in checks for a in ast.walk(c.args) if isinstance(a, ast.arg)
        )
        self.free = frozenset(
            scan.loaded - scan.bound - setup_scan.bound - _BUILTIN_NAMES - {ASSERT_FUNCTION}
        )
        # Names (of the tests, or of the setup: a helper there may call the candidate) used
        # other than as a direct comparison's call; None when dynamic code may use any name.
        names = scan.loaded | scan.bound | setup_scan.loaded | setup_scan.bound
        self.escaping = (
            None if names & DYNAMIC_NAMES else frozenset(scan.escaping | setup_scan.escaping)
        )

    @property
    def code(self) -> types.CodeType:
        """The rewritten tests, compiled (for literal-only tests: when a pass first needs them)."""
        if self._code is None:
            tree = parse_quietly(self.source[0])
            _rewrite_asserts(_scan(tree, asserts_compare=True).asserts)
            self._code = quiet_compile(tree, "<tests>")
        return self._code

    def needs_solution_modules(self) -> bool:
        """Whether the tests use a name that a module the solution imports could stand for."""
        return bool(self.free - {self.entry_point})


class LiteralCheck(NamedTuple):
    """``assert f(*args) == expected`` (or ``expected == f(*args)``), every value a literal."""

    assert_id: int
    line: int
    function: str | None  # the tests' name for the candidate's function; None: check()'s argument
    args: tuple[Any, ...]
    expected: Any
    call_first: bool


def _literal_checks(
    tree: ast.Module,
    asserts: list[tuple[list, int, ast.Assert]],
    check_function: str | None,
    entry_point: str | None,
    bound: set[str],
) -> tuple[LiteralCheck, ...] | None:
    """The tests as literal checks, when that is all they are; else None.

    Most tests (two in three of HumanEval's, nineteen in twenty of MBPP's) are a list of
    ``assert f(literals) == literal``, all at top level or all in ``check(candidate)``, beside
    literal assignments (``METADATA``) of other names. Their first pass records the same calls
    and comparisons whether the rewritten tests run or these values are replayed into it
    (:meth:`TestProgram.run_pass`), so they are compiled only if a later pass needs them.
    """
    param = None
    top_level_asserts = False
    for node in tree.body:
        top_level_asserts |= isinstance(node, ast.Assert)
        if isinstance(node, ast.FunctionDef) and node.name == check_function and param is None:
            arguments = node.args
            if (
                node.decorator_list
                or len(arguments.args) != 1
                or arguments.posonlyargs
                or arguments.vararg
                or arguments.kwonlyargs
                or arguments.kwarg
                or arguments.defaults
            ):
                return None
            param = arguments.args[0].arg
            if not all(_is_assert_or_docstring(statement) for statement in node.body):
                return None
        elif isinstance(node, ast.Assign):
            if not all(isinstance(target, ast.Name) for target in node.targets):
                return None
            if not _is_literal(node.value):
                return None
        elif not _is_assert_or_docstring(node):
            return None
    if check_function is not None and (param is None or top_level_asserts):
        return None  # the rewritten tests would run the top-level ones first
    if entry_point in bound:
        return None  # the tests rebind the candidate's name
    checks = []
    for number, (_, _, node) in enumerate(asserts, start=1):
        test = node.test
        if not (
            isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)
        ):
            return None
        left, right = test.left, test.comparators[0]
        call_first = _is_plain_call(left)
        call, other = (left, right) if call_first else (right, left)
        if not _is_plain_call(call):
            return None
        name = call.func.id  # type: ignore[attr-defined]
        if param is not None:
            if name != param:
                return None
            function = None
        elif name in bound or (name in _BUILTIN_NAMES and name != entry_point):
            return None  # the tests' own name, or a builtin: the rewritten tests decide
        else:
            function = name
        try:
            args = tuple(_literal(argument) for argument in call.args)  # type: ignore[attr-defined]
            expected = _literal(other)
        except _NOT_LITERAL:
            return None
        checks.append(LiteralCheck(number, node.lineno, function, args, expected, call_first))
    return tuple(checks)


def _is_assert_or_docstring(node: ast.stmt) -> bool:
    if isinstance(node, ast.Assert):
        return True
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)


_NOT_LITERAL = (ValueError, TypeError, SyntaxError, MemoryError, RecursionError)


def _literal(node: ast.AST) -> Any:
    """The value of a literal, as ``ast.literal_eval`` gives it, but calls refused (``set()``:
    the tests may have rebound the name); ValueError for anything else."""
    kind = type(node)
    if kind is ast.Constant:
        return node.value  # type: ignore[attr-defined]
    if kind is ast.List:
        return [_literal(item) for item in node.elts]  # type: ignore[attr-defined]
    if kind is ast.Tuple:
        return tuple(_literal(item) for item in node.elts)  # type: ignore[attr-defined]
    if kind is ast.Set:
        return {_literal(item) for item in node.elts}  # type: ignore[attr-defined]
    if kind is ast.Dict:
        keys, values = node.keys, node.values  # type: ignore[attr-defined]
        if any(key is None for key in keys):
            raise ValueError("dict unpacking is not a literal")
        return {_literal(key): _literal(value) for key, value in zip(keys, values)}
    if kind is ast.UnaryOp or kind is ast.BinOp:
        return ast.literal_eval(node)  # signed and complex numbers (no call can be in one)
    raise ValueError(f"{kind.__name__} is not a literal")


def _is_literal(node: ast.AST) -> bool:
    try:
        _literal(node)
    except _NOT_LITERAL:
        return False
    return True


def _is_plain_call(node: ast.AST) -> bool:
    """A call of a bare name with positional arguments only."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and not node.keywords
        and not any(isinstance(argument, ast.Starred) for argument in node.args)
    )


_BUILTIN_NAMES = frozenset(dir(builtins))


class _UnknownGlobal(Pending):
    """A name of the solution before the first round says what it is: a call or a value."""

    __slots__ = ("name",)

    def __init__(self, state: Pass, name: str) -> None:
        super().__init__(state, {"__global": name})
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.state.call(self.name, args, kwargs)


class TestProgram:
    """Assert-style tests prepared for host passes over one solution's values.

    Built from :class:`CompiledTests` (shared by every candidate of a task) and the modules the
    solution imports that the tests use; :meth:`wire` is the form a judge process rebuilds it
    from without parsing anything.
    """

    def __init__(
        self,
        test_code: str | CompiledTests,
        *,
        entry_point: str | None = None,
        setup: str | None = None,
        solution: str | None = None,
        modules: dict[str, str] | None = None,
    ) -> None:
        compiled = (
            test_code
            if isinstance(test_code, CompiledTests)
            else CompiledTests(test_code, setup, entry_point)
        )
        if modules is None:
            tree = parse_solution(solution) if compiled.needs_solution_modules() else None
            modules = solution_modules(tree)
        self._init(
            None,
            compiled.setup,
            compiled.entry_point,
            compiled.check_function,
            compiled.free,
            modules,
        )
        self._compiled = compiled
        self.literal_checks = compiled.literal_checks
        self.source = compiled.source
        self.assert_count = compiled.assert_count
        # Whether candidate values can reach nothing but ``f(...) == expected`` assertions
        # (:mod:`.direct`): then a first round may be decided without a judged pass.
        stand_ins = set(self.candidate_names) | compiled.check_params
        self.direct_ok = compiled.escaping is not None and not stand_ins & compiled.escaping

    def _init(
        self,
        code: types.CodeType | None,
        setup: types.CodeType,
        entry_point: str | None,
        check_function: str | None,
        free: frozenset[str],
        modules: dict[str, str],
    ) -> None:
        self._code, self.setup = code, setup
        self._compiled: CompiledTests | None = None
        self.literal_checks: tuple[LiteralCheck, ...] | None = None
        self.entry_point = entry_point
        self.check_function = check_function
        self.modules = {name: module for name, module in modules.items() if name in free}
        names = set(free) - set(self.modules)
        # The entry point is the candidate's even when it shadows a builtin (MBPP's ``sum``);
        # other builtin names stay the host's, so a solution cannot redefine ``len`` for the tests.
        self.candidate_names = sorted(names | ({entry_point} if entry_point else set()))
        if not self.candidate_names:
            raise HarnessError("the tests call no function of the solution")
        self._wire: dict[str, Any] | None = None
        self.recorded: PassOutcome | None = None  # the first pass, kept by ``programs``
        self.direct: DirectDecision | None = None  # set with ``recorded`` when the tests allow
        self.direct_ok = False

    @property
    def code(self) -> types.CodeType:
        """The rewritten tests, compiled."""
        if self._code is None:
            assert self._compiled is not None
            self._code = self._compiled.code
        return self._code

    @property
    def key(self) -> str:
        """A digest naming this program, so a judge rebuilds it once."""
        return self.wire()["key"]

    def wire(self) -> dict[str, Any]:
        """Plain data (code objects marshalled) to rebuild this program in a judge process."""
        if self._wire is None:
            data = {
                "code": marshal.dumps(self.code),
                "setup": marshal.dumps(self.setup),
                "entry_point": self.entry_point,
                "check_function": self.check_function,
                "candidate_names": list(self.candidate_names),
                "modules": dict(self.modules),
            }
            digest = hashlib.sha256(marshal.dumps(data))
            self._wire = {**data, "key": digest.hexdigest()}
        return self._wire

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> TestProgram:
        """The program a :meth:`wire` form stands for (same interpreter: trusted bytecode)."""
        program = cls.__new__(cls)
        names = frozenset(data["candidate_names"]) | frozenset(data["modules"])
        program._init(
            marshal.loads(data["code"]),
            marshal.loads(data["setup"]),
            data["entry_point"],
            data["check_function"],
            names,
            dict(data["modules"]),
        )
        program._wire = data
        return program

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
        log: list[Any] | None = None,
    ) -> PassOutcome:
        """Execute the tests once with stubs that replay ``known`` results.

        ``globals_info`` says what the solution's module-level names are (from the first round);
        None before it, when they all stand for results to come. ``log``, when given, receives
        every assertion's outcome in order (:attr:`.replay.Pass.plan`), and None when an
        exception escaped the tests.
        """
        state = Pass(known, len(known))
        state.plan = log
        seeded: list[types.ModuleType] = []  # built on first use: it costs more than most passes
        real_import = builtins.__import__

        def random_module() -> types.ModuleType:
            if not seeded:
                seeded.append(_seeded_random_module())
            return seeded[0]

        def import_(name: str, *args: Any, **kwargs: Any) -> Any:
            return random_module() if name == "random" else real_import(name, *args, **kwargs)

        test_builtins = dict(vars(builtins), __import__=import_)
        namespace: dict[str, Any] = {
            "__name__": "__rlvr_tests__",
            "__builtins__": test_builtins,
            ASSERT_FUNCTION: state.check,
        }
        for name, module in self.modules.items():
            namespace[name] = (
                random_module() if module == "random" else importlib.import_module(module)
            )
        try:
            exec(self.setup, namespace)
            for name in self.candidate_names:
                namespace[name] = self._bind(name, globals_info, state)
            if self.literal_checks is not None and globals_info is None:
                self._check_literals(namespace, state)
                return self._ended(state, globals_info)
            exec(self.code, namespace)
            if self.check_function:
                checker = namespace.get(self.check_function)
                if not callable(checker):
                    raise HarnessError(f"the tests define no {self.check_function}() to call")
                checker(namespace[self.entry_point])
        except HarnessError:
            raise
        except Exception as error:  # noqa: BLE001 - an escaped exception is an outcome
            if log is not None:
                log.append(None)
            state.outcome.memory_error |= isinstance(error, MemoryError)
            if not state.issued:
                state.outcome.aborted = f"{type(error).__name__}: {error}"
                state.outcome.aborted_by_candidate = getattr(error, "_rlvr_from_candidate", False)
        return self._ended(state, globals_info)

    @staticmethod
    def _ended(state: Pass, globals_info: dict[str, Any] | None) -> PassOutcome:
        state.outcome.final = not state.issued and globals_info is not None
        return state.outcome

    def _check_literals(self, namespace: dict[str, Any], state: Pass) -> None:
        """Each literal check as the rewritten tests would make it: the same call, comparison
        and outcome, in the same order (the values are literals: evaluating them does nothing)."""
        assert self.literal_checks is not None
        for check in self.literal_checks:

            def condition(f: Any = namespace[check.function or self.entry_point], c=check) -> Any:
                result = f(*c.args)  # evaluating the literal first would do nothing either
                return result == c.expected if c.call_first else c.expected == result

            state.check(condition, check.assert_id, check.line)
