"""Runs inside the sandbox: imports the candidate and calls its functions on given inputs.

Each sandbox worker holds this module compiled (``sandbox.register_worker_module``); a job that
does not find it there loads it from the files shipped with it. ``solution.py`` is the candidate
(with ``solution.code``, its bytecode as the host compiled it) and ``calls.json`` the inputs. It
holds no expected outputs and decides nothing: it writes one JSON line per call with what the
call returned, and the arguments as the call left them, as strictly typed plain data; the
trusted verifier outside the sandbox compares. The host also imports this
module for :func:`to_plain` and :func:`from_plain`, so both sides share one definition of plain
data. Standard library only.

Beyond plain data, a call's arguments (and its target) may hold *references*, resolved here:
``{"__result": i}`` is what call ``i`` returned, ``{"__ref": n}`` the n-th object that was not plain
data (sent to the host as an opaque handle, so the tests can pass it back),
``{"__global": name}`` a module-level name of the solution, and ``{"__op": [name, operands...]}``
an operator applied to them. So a chain of dependent calls (``x = f(x)`` a hundred times) runs in
one sandbox round.
"""

from __future__ import annotations

import base64
import collections
import json
import marshal
import math
import operator
import os
import sys
import types

MAX_ITEMS = 100_000  # elements per serialised value; more is not a plausible test output
MAX_DEPTH = 64
EVAL = "@eval"  # a call whose target is only evaluated (an attribute of a handle), not called


class NotPlainData(TypeError):
    """A value that is not plain data (custom classes, int subclasses, functions, ...)."""


class TooLarge(NotPlainData):
    """A value too large or too deeply nested to be a plausible test output."""


class Opaque:
    """A returned value that is not plain data, replayed on the host by truthiness and repr only.

    It equals nothing but itself, so an object with a lying ``__eq__`` compares unequal. ``ref``
    names the object inside the sandbox, so the tests may hand it back to the candidate.
    """

    def __init__(self, type_name, truth, text, ref=None):
        self.type_name, self.truth, self.text, self.ref = type_name, truth, text, ref

    def __bool__(self):
        return self.truth

    def __repr__(self):
        return self.text

    def __eq__(self, other):
        return self is other

    def __hash__(self):
        return id(self)


def opaque_record(value, ref=None):
    """The plain form of a value that is not plain data: type name, truth value, repr."""
    try:
        truth = bool(value)
    except Exception:  # noqa: BLE001 - the candidate's __bool__ may raise
        truth = True
    try:
        text = repr(value)[:500]
    except Exception:  # noqa: BLE001 - or its __repr__
        text = f"<{type(value).__name__} object>"
    record = {"__opaque": type(value).__name__, "truth": truth, "repr": str(text)}
    if ref is not None:
        record["ref"] = ref
    return record


# Standard-library containers compared like their base type (``Counter(...) == {...}``). Exact
# type checks keep candidate-defined subclasses out.
_MAPPINGS = {
    "__counter": collections.Counter,
    "__ordereddict": collections.OrderedDict,
    "__defaultdict": collections.defaultdict,
}
_MAPPING_TAGS = {cls: tag for tag, cls in _MAPPINGS.items()}
# Built-in types passed as values (``remove_datatype(items, int)``).
_BUILTIN_TYPES = {
    t.__name__: t
    for t in (int, float, complex, str, bytes, bool, list, tuple, dict, set, frozenset, type(None))
}
_TYPE_NAMES = {t: name for name, t in _BUILTIN_TYPES.items()}
# Operators a reference may be combined with (the tests' ``f(x) + 1``, ``f(x)[0]``).
OPERATORS = {
    name: getattr(operator, name)
    for name in (
        "add sub mul truediv floordiv mod pow lshift rshift and_ or_ xor matmul "
        "neg pos abs invert getitem eq ne lt le gt ge"
    ).split()
}
OPERATORS["getattr"] = getattr
REFERENCE_TAGS = ("__result", "__ref", "__global", "__op")


def to_plain(value, _depth=0, _budget=None, opaque=False, other=None):
    """Tagged JSON-ready form of a value; exact types only, so subclasses cannot lie.

    A value that is not plain data raises :class:`NotPlainData`, unless ``other`` (a function
    giving the plain form of such a value) is given, or ``opaque=True`` (an opaque record).
    """
    if opaque and other is None:
        other = opaque_record
    return _to_plain(value, _depth, [MAX_ITEMS] if _budget is None else _budget, other)


def _to_plain(value, _depth, _budget, other):
    _budget[0] -= 1
    if _budget[0] < 0:
        raise TooLarge(f"value has more than {MAX_ITEMS} elements")
    if _depth > MAX_DEPTH:
        raise TooLarge(f"value is nested deeper than {MAX_DEPTH}")
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return value if -(2**53) < value < 2**53 else {"__int": str(value)}
    if kind is float:
        return value if math.isfinite(value) else {"__float": repr(value)}

    def sub(v):
        return _to_plain(v, _depth + 1, _budget, other)

    if kind is list:
        return [sub(v) for v in value]
    if kind is tuple:
        return {"__tuple": [sub(v) for v in value]}
    if kind is set or kind is frozenset:
        items = [sub(v) for v in value]
        items.sort(key=lambda item: json.dumps(item, sort_keys=True))
        return {"__set" if kind is set else "__frozenset": items}
    if kind is dict or kind in _MAPPING_TAGS:
        pairs = [[sub(k), sub(v)] for k, v in value.items()]
        return {"__dict": pairs} if kind is dict else {_MAPPING_TAGS[kind]: pairs}
    if kind is type and value in _TYPE_NAMES:
        return {"__type": _TYPE_NAMES[value]}
    if kind is collections.deque:
        return {"__deque": [sub(v) for v in value]}
    if kind is bytes:
        return {"__bytes": base64.b64encode(value).decode("ascii")}
    if kind is complex:
        return {"__complex": [sub(value.real), sub(value.imag)]}
    if isinstance(value, types.GeneratorType) or kind in (map, filter, zip, reversed, enumerate):
        return {"__iter": [sub(item) for item in value], "__kind": kind.__name__}
    if other is not None:
        return other(value)
    raise NotPlainData(f"a {kind.__module__}.{kind.__qualname__} is not plain data")


def from_plain(data, opaque=None, reference=None):
    """The value a :func:`to_plain` form stands for (fresh objects on every call).

    ``opaque(record)`` makes the object an opaque record stands for (default :class:`Opaque`);
    ``reference(record)`` resolves a reference (by default references are not accepted).
    """
    if isinstance(data, list):
        return [from_plain(v, opaque, reference) for v in data]
    if not isinstance(data, dict):
        return data

    def sub(v):
        return from_plain(v, opaque, reference)

    if "__int" in data:
        return int(data["__int"])
    if "__float" in data:
        return float(data["__float"])
    if "__tuple" in data:
        return tuple(sub(v) for v in data["__tuple"])
    if "__set" in data:
        return {sub(v) for v in data["__set"]}
    if "__frozenset" in data:
        return frozenset(sub(v) for v in data["__frozenset"])
    if "__dict" in data:
        return {sub(k): sub(v) for k, v in data["__dict"]}
    for tag, cls in _MAPPINGS.items():
        if tag in data:
            items = {sub(k): sub(v) for k, v in data[tag]}
            # A defaultdict's factory is not data; without one it behaves as a plain dict.
            return cls(None, items) if cls is collections.defaultdict else cls(items)
    if "__type" in data:
        return _BUILTIN_TYPES[data["__type"]]
    if "__deque" in data:
        return collections.deque(sub(v) for v in data["__deque"])
    if "__opaque" in data:
        if opaque is not None:
            return opaque(data)
        return Opaque(
            str(data["__opaque"]), bool(data["truth"]), str(data["repr"]), data.get("ref")
        )
    if "__bytes" in data:
        return base64.b64decode(data["__bytes"])
    if "__complex" in data:
        return complex(sub(data["__complex"][0]), sub(data["__complex"][1]))
    if "__iter" in data:
        return iter([sub(v) for v in data["__iter"]])
    if reference is not None and any(tag in data for tag in REFERENCE_TAGS):
        return reference(data)
    raise ValueError(f"unknown plain-data tag in {sorted(data)}")


def has_reference(data):
    """True when a plain form holds a reference (to a result, a handle, a global, an operator)."""
    return has_tag(data, REFERENCE_TAGS)


def has_tag(data, tags):
    """True when a plain form holds a mapping tagged with one of ``tags`` at any depth."""
    todo = [data]
    while todo:
        item = todo.pop()
        if isinstance(item, list):
            todo.extend(item)
        elif isinstance(item, dict):
            for tag in tags:
                if tag in item:
                    return True
            todo.extend(item.values())
    return False


class _Missing(Exception):
    """A global the tests use that the solution does not define."""


class Session:
    """The candidate's module and every object it handed out, for one run of calls."""

    def __init__(self, module):
        self.module = module
        self.results = []  # what each call returned, by index
        self.objects = []  # values that are not plain data, by handle number
        self.numbers = {}  # id(object) -> handle number

    def number(self, value):
        """The handle number of a value that is not plain data (the same object, the same one)."""
        ident = id(value)
        if ident not in self.numbers:
            self.numbers[ident] = len(self.objects)
            self.objects.append(value)
        return self.numbers[ident]

    def plain(self, value):
        """Plain form for the host: values that are not plain data become numbered handles."""
        return to_plain(value, other=lambda v: opaque_record(v, self.number(v)))

    def key_form(self, value):
        """Plain form the host uses to recognise a call: handles as ``{"__ref": n}``."""
        return to_plain(value, other=lambda v: {"__ref": self.number(v)})

    def resolve(self, data):
        """The value a plain form stands for, references resolved."""
        return from_plain(data, reference=self._reference)

    def _reference(self, data):
        if "__result" in data:
            return self.results[data["__result"]]
        if "__ref" in data:
            return self.objects[data["__ref"]]
        if "__global" in data:
            name = data["__global"]
            if name not in self.module.__dict__:
                raise _Missing(name)
            return self.module.__dict__[name]
        name, *operands = data["__op"]
        return OPERATORS[name](*[self.resolve(v) for v in operands])

    def _target(self, target):
        if isinstance(target, str):
            if target not in self.module.__dict__:
                raise _Missing(target)
            return self.module.__dict__[target]
        return self.resolve(target)

    def _target_key(self, data):
        """A target expression with call results replaced by what they were."""
        if isinstance(data, dict) and "__result" in data:
            return self.key_form(self.results[data["__result"]])
        if isinstance(data, dict) and "__op" in data:
            name, *operands = data["__op"]
            return {"__op": [name, *[self._target_key(v) for v in operands]]}
        return data

    def describe_globals(self, names):
        """The solution's module-level names the tests use: plain values, or what they are."""
        out = {}
        for name in names:
            if name not in self.module.__dict__:
                continue
            value = self.module.__dict__[name]
            if callable(value):
                out[name] = {"kind": "callable"}
                continue
            try:
                out[name] = {"v": to_plain(value)}
            except NotPlainData:
                out[name] = {"kind": "object"}
        return out

    def run(self, index, target, args, kwargs):
        """Run one call (or evaluation) and return its result record."""
        value = None
        try:
            record = self._run(index, target, args, kwargs)
            value = record.pop("value", None)
        except _Missing as missing:
            record = {"i": index, "missing": str(missing)}
        except NotPlainData as error:
            record = {"i": index, "bad": str(error)}
        except BaseException as error:  # noqa: BLE001 - any failure of the candidate is data
            record = {"i": index, "exc": [type(error).__name__, str(error)[:2000]]}
        self.results.append(value)
        return record

    def _run(self, index, target, args, kwargs):
        function = self._target(target)
        record = {"i": index}
        if args == EVAL:  # [expression, "@eval", null]: the value of an attribute
            if has_reference(target):
                record["in"] = [self._target_key(target), EVAL, None]
            record["v"] = self.plain(function)
            record["callable"] = callable(function)
            record["value"] = function
            return record
        call_args, call_kwargs = self.resolve(args), self.resolve(kwargs)
        before = [args, kwargs]
        if has_reference([target, args, kwargs]):
            key_args = [self.key_form(call_args), self.key_form(call_kwargs)]
            record["in"] = [self._target_key(target), *key_args]
            before = [self.plain(call_args), self.plain(call_kwargs)]
        value = function(*call_args, **call_kwargs)
        record["v"] = self.plain(value)
        after = [self.plain(call_args), self.plain(call_kwargs)]
        if after != before:  # the call changed its arguments in place
            record["after"] = after
        record["value"] = value
        return record


def _read(path):
    """A file's bytes, read with ``os`` calls: a job pays a page fault for each page it writes,
    and the ``io`` objects ``open`` builds touch several times the pages of the read itself."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def _solution_code(tag):
    """The solution's bytecode as the host compiled it (same interpreter), else its source's."""
    if tag == sys.implementation.cache_tag:
        try:
            return marshal.loads(_read("solution.code"))
        except (OSError, ValueError, EOFError, TypeError):
            pass
    return compile(_read("solution.py").decode("utf-8"), "solution.py", "exec")


def run_request(request, code, emit, file="solution.py"):
    """Import the solution from ``code`` and run the request's calls, each record to ``emit``."""
    module = types.ModuleType("solution")
    module.__file__ = file
    sys.modules["solution"] = module
    try:
        exec(code, module.__dict__)
    except BaseException as error:  # noqa: BLE001 - SystemExit at import is the candidate's doing
        emit({"import_error": [type(error).__name__, str(error)[:2000]]})
        return
    session = Session(module)
    emit({"imported": True, "globals": session.describe_globals(request.get("names", []))})
    for index, (target, args, kwargs) in enumerate(request["calls"]):
        emit(session.run(index, target, args, kwargs))
    emit({"done": len(request["calls"])})


def main():
    """Import ``solution.py``, run every call of ``calls.json``, write results to the saved stdout."""
    results = os.dup(1)
    os.dup2(2, 1)  # the candidate's own prints go to stderr, away from the results
    sys.stdout = sys.stderr

    def emit(record):
        data = (json.dumps(record) + "\n").encode("utf-8")
        while data:
            data = data[os.write(results, data) :]

    request = json.loads(_read("calls.json"))
    run_request(request, _solution_code(request.get("tag")), emit, os.path.abspath("solution.py"))
    os._exit(0)  # skip atexit handlers and finalizers the candidate may have registered


# A problem of the runner's own for ``__worker_warm__``: values of most plain types, a chained
# call, a call that raises, a missing name and an attribute evaluation.
_WARM_SOLUTION = """
import math
LIMIT = 3
def f(xs, k=1):
    xs.append(k)
    return [x * k for x in xs], {"n": len(xs), "t": (1.5, "a", None, True)}, {k}
def g(s):
    return s[::-1] if s else math.inf
"""


def _warm_request():
    def call(target, *args, **kwargs):
        return [target, to_plain(list(args)), to_plain(kwargs)]

    calls = [
        call("f", [1, 2, 3], k=2),
        ["f", [{"__result": 0}], to_plain({})],
        call("g", "abc"),
        call("g", ""),
        call("h"),
        [{"__op": ["getitem", {"__result": 0}, 1]}, EVAL, None],
    ]
    names = ["f", "g", "LIMIT", "h"]
    return json.dumps({"names": names, "calls": calls, "tag": sys.implementation.cache_tag})


def __worker_warm__():
    """Run the runner on a problem of its own in the worker's template, before any job exists.

    CPython rewrites a function's bytecode into its specialised form once it has run a few
    times; done here, jobs (fresh forks of the template) find the runner's code ready instead of
    each rewriting it, and copying the pages it lives on. No job data is involved.
    """
    code = marshal.dumps(compile(_WARM_SOLUTION, "solution.py", "exec"))
    request = _warm_request().encode("utf-8")
    sink = []
    for _ in range(10):  # main()'s steps, on the runner's own bytes instead of a job's files
        _read(os.devnull)
        run_request(
            json.loads(request),
            marshal.loads(code),
            lambda record: sink.append((json.dumps(record) + "\n").encode("utf-8")),
        )
    sys.modules.pop("solution", None)


if __name__ == "__main__":
    main()
