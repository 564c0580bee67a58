"""One host pass of record and replay: stand-ins for the candidate and the results they replay.

During a pass the tests see, instead of the candidate's functions, *stubs*. A stub call whose
result is known (from an earlier sandbox round) replays it: the returned value, the arguments as
the call left them (so ``sort_inplace(l)`` changes ``l``), or the exception it raised. A call not
known yet is recorded and returns a :class:`Pending` value that stands for its result: passed to
another call it becomes a reference the sandbox resolves, combined with an operator it becomes an
expression, so dependent calls are collected in one pass and run in one round. Only a pending
value's *truth* (``bool``, ``len``, iteration...) cannot be deferred: that blocks the pass.

A value the candidate returned that is not plain data comes back as a :class:`Handle`: equal
only to itself, truthy as the object was, and able to go back to the candidate (as an argument,
or through its methods and attributes, each fetched in a later round).
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._runner import EVAL, NotPlainData, Opaque, from_plain, to_plain


class Blocked(Exception):
    """A test needed a value the candidate has not produced yet (only in non-final passes)."""


class HarnessError(RuntimeError):
    """The tests cannot be decided this way (a fault of the tests or the harness, not the answer)."""


class CandidateError(Exception):
    """An exception the candidate raised that has no built-in class on the host."""


def candidate_error(error: BaseException) -> BaseException:
    """Mark an exception as the candidate's doing (it then grades as a runtime error)."""
    error._rlvr_from_candidate = True  # type: ignore[attr-defined]
    return error


def _replay_exception(name: str, message: str) -> BaseException:
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            error = cls(message)
        except Exception:  # an exception class with an unusual constructor
            error = CandidateError(f"{name}: {message}")
    else:  # SystemExit, KeyboardInterrupt and custom classes must not act on the host
        error = CandidateError(f"{name}: {message}")
    return candidate_error(error)


@dataclass
class Call:
    """One call of a candidate function: its key (name + plain arguments) and payload."""

    key: str
    payload: list[Any]  # [target, plain args, plain kwargs] as sent to the sandbox


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
    memory_error: bool = False  # the pass ran out of memory (in a judge: its limit)
    passed_before_failure: int | None = None  # assertions that held before the first failure
    skipped: int = 0  # assertions not evaluated: the pass stopped at the first failure

    @property
    def total(self) -> int:
        """Assertions evaluated or skipped, plus one for an abort that skipped the rest."""
        return self.passed + len(self.failures) + (1 if self.aborted else 0) + self.skipped

    @property
    def passed_first(self) -> int:
        """Assertions that held before the first failure (or the abort)."""
        if self.failures and self.passed_before_failure is not None:
            return self.passed_before_failure
        return self.passed

    def record(self, ok: bool, assert_id: int, line: int, error: str | None, raised: bool) -> None:
        """Count one assertion's outcome (the first failure notes how many held before it)."""
        if ok:
            self.passed += 1
            return
        if not self.failures:
            self.passed_before_failure = self.passed
        self.failures.append((assert_id, line, error or "assertion failed", raised))

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (what a judge process sends back)."""
        return {
            "final": self.final,
            "passed": self.passed,
            "failures": [list(f) for f in self.failures],
            "new_calls": [[c.key, c.payload] for c in self.new_calls],
            "aborted": self.aborted,
            "aborted_by_candidate": self.aborted_by_candidate,
            "memory_error": self.memory_error,
            "passed_before_failure": self.passed_before_failure,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PassOutcome:
        """The outcome a :meth:`to_dict` form stands for."""
        return cls(
            final=bool(data["final"]),
            passed=int(data["passed"]),
            failures=[(int(a), int(b), str(c), bool(d)) for a, b, c, d in data["failures"]],
            new_calls=[Call(str(k), list(p)) for k, p in data["new_calls"]],
            aborted=data["aborted"],
            aborted_by_candidate=bool(data["aborted_by_candidate"]),
            memory_error=bool(data.get("memory_error")),
            passed_before_failure=(
                None
                if data.get("passed_before_failure") is None
                else int(data["passed_before_failure"])
            ),
        )


_KEY_ENCODER = json.JSONEncoder(sort_keys=True)  # what json.dumps(..., sort_keys=True) builds


def call_key(payload: Sequence[Any]) -> str:
    """The key results are matched by: the call's target and arguments as plain data."""
    return _KEY_ENCODER.encode(payload)


# ----------------------------------------------------------------------------- pending values


class Pending:
    """Stands for a candidate result not computed yet; any use that needs its value blocks.

    ``expr`` is the plain form the sandbox can evaluate (a reference, or an operator applied to
    references), or None when it cannot; ``deps`` are attribute fetches it waits for.
    """

    __slots__ = ("expr", "deps", "state")

    def __init__(self, state: Pass, expr: Any, deps: tuple[Any, ...] = ()) -> None:
        self.state = state
        self.expr = expr
        self.deps = deps

    def _op(self, name: str, *operands: Any) -> Pending:
        parts, deps = [], list(self.deps)
        for operand in operands:
            if isinstance(operand, Pending):
                if operand.expr is None:
                    return Pending(self.state, None, tuple(deps) + operand.deps)
                deps.extend(operand.deps)
                parts.append(operand.expr)
            else:
                try:
                    parts.append(self.state.encode(operand))
                except (NotPlainData, HarnessError):
                    return Pending(self.state, None, tuple(deps))
        return Pending(self.state, {"__op": [name, *parts]}, tuple(deps))

    def _block(self, *args: Any, **kwargs: Any) -> Any:
        self.state.fetch(self.deps)
        raise Blocked("a candidate result is pending")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.expr is None:
            self._block()
        return self.state.call(self.expr, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._op("getattr", self, name)

    def __repr__(self) -> str:
        return "<pending>"

    __str__ = __repr__


def _binary(name: str, reflected: bool = False) -> Any:
    if reflected:
        return lambda self, other: self._op(name, other, self)
    return lambda self, other: self._op(name, self, other)


for _name in "add sub mul truediv floordiv mod pow lshift rshift matmul".split():
    setattr(Pending, f"__{_name}__", _binary(_name))
    setattr(Pending, f"__r{_name}__", _binary(_name, reflected=True))
for _name, _op_name in (("and", "and_"), ("or", "or_"), ("xor", "xor")):
    setattr(Pending, f"__{_name}__", _binary(_op_name))
    setattr(Pending, f"__r{_name}__", _binary(_op_name, reflected=True))
for _name in "eq ne lt le gt ge getitem".split():
    setattr(Pending, f"__{_name}__", _binary(_name))
for _name in "neg pos abs invert".split():
    setattr(Pending, f"__{_name}__", lambda self, _n=_name: self._op(_n, self))
for _name in "bool len iter hash index int float complex contains next reversed round".split():
    setattr(Pending, f"__{_name}__", Pending._block)
for _name in "trunc floor ceil".split():
    setattr(Pending, f"__{_name}__", Pending._block)


# ----------------------------------------------------------------------------- handles


class Handle(Opaque):
    """A value the candidate returned that is not plain data, as the tests see it.

    Equal only to itself; truthy as the object was; passed to a call it is the object itself;
    its methods are calls, its attributes values fetched from the sandbox.
    """

    def __init__(self, record: dict[str, Any], expr: Any, state: Pass) -> None:
        super().__init__(
            str(record.get("__opaque", "object")),
            bool(record.get("truth", True)),
            str(record.get("repr", "<object>")),
            record.get("ref"),
        )
        self._expr = expr
        self._state = state

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._state.attribute(self._expr, name)

    def __getitem__(self, key: Any) -> Any:
        return self._state.attribute(self._expr, key, item=True)

    __hash__ = Opaque.__hash__


class Stub:
    """Stands in for a module-level name of the candidate during a host pass."""

    def __init__(self, name: str, state: Pass) -> None:
        self.__name__ = self.__qualname__ = name
        self._state = state

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._state.call(self.__name__, args, kwargs)

    def __repr__(self) -> str:
        return f"<candidate {self.__name__}>"


class Missing:
    """A name the tests use that the solution does not define: any use is the candidate's error."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise candidate_error(NameError(f"the solution does not define {self._name}"))

    __call__ = __getattr__ = __getitem__ = __iter__ = __len__ = __bool__ = _fail
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __add__ = __radd__ = _fail
    __sub__ = __rsub__ = __mul__ = __rmul__ = __index__ = __int__ = __float__ = _fail
    __hash__ = None  # type: ignore[assignment]


# ----------------------------------------------------------------------------- the pass


class Pass:
    """The state of one host pass: known results, new calls, assertion outcomes.

    Results are matched to calls by key and occurrence, not by position: an assertion that
    blocked on a pending value in one pass makes calls in the next that it never reached before,
    so the order of calls differs between passes. A record is known under the key of the call as
    sent and, when that held references, under the key of what they resolved to.
    """

    def __init__(self, known: Sequence[tuple[Call, dict[str, Any]]], first_index: int) -> None:
        self.by_key: dict[str, list[dict[str, Any]]] = {}
        for call, record in known:
            keys = {call.key}
            if isinstance(record.get("in"), list):
                keys.add(call_key(record["in"]))
            for key in keys:
                self.by_key.setdefault(key, []).append(record)
        self.used: dict[str, int] = {}
        self.next_index = first_index  # index the next new call will have in the next round
        self.issued = False  # a placeholder was handed out: outcomes of this pass do not count
        self.outcome = PassOutcome(final=False)
        self.handles: dict[Any, Handle] = {}
        # When a list, every assertion is logged here in order (see :mod:`.direct`): how it
        # ended, or the pending comparison it waits on; None in the log spoils it.
        self.plan: list[Any] | None = None

    # -- values crossing into the sandbox

    def encode(self, value: Any) -> Any:
        """Plain form of a value the tests pass to the candidate (handles and pending included)."""
        return to_plain(value, other=self._encode_other)

    def _encode_other(self, value: Any) -> Any:
        if isinstance(value, Pending):
            if value.expr is None:
                raise NotPlainData("a pending value")
            return value.expr
        if isinstance(value, Handle):
            return value._expr
        if isinstance(value, Opaque) and value.ref is not None:
            return {"__ref": value.ref}
        raise NotPlainData(f"a {type(value).__module__}.{type(value).__qualname__}")

    def decode(self, data: Any) -> Any:
        """A value the candidate produced, with handles for what is not plain data."""
        return from_plain(data, opaque=self._handle)

    def _handle(self, record: dict[str, Any]) -> Handle:
        ref = record.get("ref")
        if ref is None:
            return Handle(record, None, self)
        if ref not in self.handles:
            self.handles[ref] = Handle(record, {"__ref": ref}, self)
        return self.handles[ref]

    # -- calls

    def _new(self, payload: list[Any], key: str | None = None) -> Pending:
        self.issued = True
        self.outcome.new_calls.append(Call(key or call_key(payload), payload))
        pending = Pending(self, {"__result": self.next_index})
        self.next_index += 1
        return pending

    def _lookup(self, key: str) -> dict[str, Any] | None:
        occurrence = self.used.get(key, 0)
        self.used[key] = occurrence + 1
        records = self.by_key.get(key, [])
        return records[occurrence] if occurrence < len(records) else None

    def call(self, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """A call of the candidate: replayed if known, else recorded (a pending result)."""
        try:
            payload = [target, self.encode(list(args)), self.encode(kwargs)]
        except NotPlainData as error:
            if _contains_pending((args, kwargs)):
                self.issued = True  # depends on a result that cannot be sent as a reference
                return Pending(self, None)
            if _contains_handle((args, kwargs)):
                raise candidate_error(TypeError(f"cannot pass {error} to the solution")) from None
            raise HarnessError(
                f"the tests pass {error} to {_name_of(target)}(); cannot run it in isolation"
            ) from None
        key = call_key(payload)
        record = self._lookup(key)
        if record is None:
            return self._new(payload, key)
        return self._replay(_name_of(target), record, args, kwargs)

    def attribute(self, base: Any, name: Any, item: bool = False) -> Any:
        """An attribute (or item) of a handle: known, or fetched in the next round."""
        if base is None:
            raise candidate_error(TypeError("the solution's object cannot be inspected"))
        try:
            expr = {"__op": ["getitem" if item else "getattr", base, self.encode(name)]}
        except NotPlainData:
            raise HarnessError(f"the tests index a solution object with {name!r}") from None
        record = self._lookup(call_key([expr, EVAL, None]))
        if record is None:
            return Pending(self, expr, deps=(expr,))
        if record.get("callable") and not item:
            return _Method(self, expr)
        return self._replay(str(name), record, (), {})

    def fetch(self, deps: tuple[Any, ...]) -> None:
        """Ask the next round for the values a blocked expression waits for."""
        for expr in deps:
            payload = [expr, EVAL, None]
            if call_key(payload) not in {c.key for c in self.outcome.new_calls}:
                self._new(payload)
        self.issued = True

    def _replay(self, name: str, record: dict[str, Any], args: Any, kwargs: Any) -> Any:
        try:
            if "v" in record:
                if isinstance(record.get("after"), list) and len(record["after"]) == 2:
                    _sync_arguments(args, kwargs, record["after"], self)
                return self.decode(record["v"])
        except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError) as e:
            raise candidate_error(TypeError(f"{name}() returned malformed data: {e}")) from None
        if "exc" in record:
            raise _replay_exception(*record["exc"])
        if "bad" in record:
            raise candidate_error(TypeError(f"{name}() returned {record['bad']}"))
        if "missing" in record:
            raise candidate_error(NameError(f"the solution does not define {record['missing']}"))
        raise candidate_error(TypeError(f"malformed result record for {name}: {sorted(record)}"))

    # -- assertions

    def check(self, condition: Any, assert_id: int, line: int) -> None:
        """Record one assertion's outcome (unless it waited on a result not known yet)."""
        issued_before = self.issued
        value: Any = None
        blocked = False
        try:
            value = condition()
            ok = bool(value)
            error: str | None = None
            raised = False
        except HarnessError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure inside an assertion is an outcome
            ok, error = False, f"{type(exc).__name__}: {exc}"
            raised = getattr(exc, "_rlvr_from_candidate", False)
            blocked = isinstance(exc, (Blocked, MemoryError))
            self.outcome.memory_error |= isinstance(exc, MemoryError)
        if self.plan is not None:
            if isinstance(value, Pending):
                self.plan.append(("pending", value.expr, value.deps, assert_id, line))
            else:
                self.plan.append(
                    None if blocked else ("decided", ok, error, raised, assert_id, line)
                )
        if issued_before or self.issued:
            return  # depends on results not known yet; a later pass decides
        self.outcome.record(ok, assert_id, line, error, raised)


class _Method(Pending):
    """A method of a handle: calling it is a call of the candidate."""

    __slots__ = ()


def _name_of(target: Any) -> str:
    if isinstance(target, str):
        return target
    if isinstance(target, dict) and "__op" in target and target["__op"][0] == "getattr":
        return str(target["__op"][2])
    return "the solution's function"


def _contains(value: Any, test: Any, depth: int = 0) -> bool:
    if test(value):
        return True
    if depth > 20:
        return False
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_contains(v, test, depth + 1) for v in value)
    if isinstance(value, dict):
        return any(_contains(v, test, depth + 1) for v in (*value.keys(), *value.values()))
    return False


def _contains_pending(value: Any) -> bool:
    return _contains(value, lambda v: isinstance(v, Pending))


def _contains_handle(value: Any) -> bool:
    return _contains(value, lambda v: isinstance(v, Opaque))


def _sync_arguments(args: Any, kwargs: Any, after: list[Any], state: Pass) -> None:
    """Make the tests' argument objects what the call left them (in-place mutation)."""
    new_args, new_kwargs = after
    if isinstance(new_args, list):
        for old, new in zip(args, new_args):
            _sync(old, state.decode(new))
    if isinstance(new_kwargs, dict) and "__dict" in new_kwargs:
        values = state.decode(new_kwargs)
        for key, old in kwargs.items():
            if key in values:
                _sync(old, values[key])


def _sync(old: Any, new: Any) -> None:
    """Update a mutable container in place to equal ``new``, keeping nested objects where can."""
    if type(old) is list and type(new) is list:
        if len(old) == len(new):
            for i, (a, b) in enumerate(zip(old, new)):
                if type(a) is type(b) and type(a) in (list, dict, set):
                    _sync(a, b)
                elif not (type(a) is type(b) and a == b):
                    old[i] = b
        else:
            old[:] = new
    elif type(old) is dict and type(new) is dict:
        for key in [k for k in old if k not in new]:
            del old[key]
        for key, value in new.items():
            current = old.get(key)
            if key in old and type(current) is type(value) and type(value) in (list, dict, set):
                _sync(current, value)
            else:
                old[key] = value
    elif type(old) is set and type(new) is set:
        old.intersection_update(new)
        old.update(new)
