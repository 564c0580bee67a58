"""Runs inside the sandbox: imports the candidate and calls its functions on given inputs.

This file is shipped as source into the sandbox next to ``solution.py`` (the candidate) and
``calls.json`` (the inputs). It holds no expected outputs and decides nothing: it writes one JSON
line per call with the returned value as strictly typed plain data, and the trusted verifier
outside the sandbox compares. The host also imports this module for :func:`to_plain` and
:func:`from_plain`, so both sides share one definition of plain data. Standard library only.
"""

from __future__ import annotations

import base64
import collections
import json
import math
import os
import sys
import types

MAX_ITEMS = 100_000  # elements per serialised value; more is not a plausible test output
MAX_DEPTH = 64


class NotPlainData(TypeError):
    """A value that is not plain data (custom classes, int subclasses, functions, ...)."""


class TooLarge(NotPlainData):
    """A value too large or too deeply nested to be a plausible test output."""


class Opaque:
    """A returned value that is not plain data, replayed on the host by truthiness and repr only.

    It equals nothing but itself, so an object with a lying ``__eq__`` compares unequal.
    """

    def __init__(self, type_name, truth, text):
        self.type_name, self.truth, self.text = type_name, truth, text

    def __bool__(self):
        return self.truth

    def __repr__(self):
        return self.text

    def __eq__(self, other):
        return self is other

    def __hash__(self):
        return id(self)


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


def to_plain(value, _depth=0, _budget=None, opaque=False):
    """Tagged JSON-ready form of a value; exact types only, so subclasses cannot lie.

    With ``opaque=True`` a value that is not plain data becomes an opaque record (type, truth,
    repr) instead of raising :class:`NotPlainData`.
    """
    try:
        return _to_plain(value, _depth, [MAX_ITEMS] if _budget is None else _budget)
    except NotPlainData as error:
        if not opaque or isinstance(error, TooLarge):
            raise
        return {"__opaque": type(value).__name__, "truth": bool(value), "repr": repr(value)[:500]}


def _to_plain(value, _depth, _budget):
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
    if kind is list:
        return [_to_plain(v, _depth + 1, _budget) for v in value]
    if kind is tuple:
        return {"__tuple": [_to_plain(v, _depth + 1, _budget) for v in value]}
    if kind is set or kind is frozenset:
        items = [_to_plain(v, _depth + 1, _budget) for v in value]
        items.sort(key=lambda item: json.dumps(item, sort_keys=True))
        return {"__set" if kind is set else "__frozenset": items}
    if kind is dict or kind in _MAPPING_TAGS:
        pairs = [
            [_to_plain(k, _depth + 1, _budget), _to_plain(v, _depth + 1, _budget)]
            for k, v in value.items()
        ]
        if kind is dict:
            return {"__dict": pairs}
        return {_MAPPING_TAGS[kind]: pairs}
    if kind is type and value in _TYPE_NAMES:
        return {"__type": _TYPE_NAMES[value]}
    if kind is collections.deque:
        return {"__deque": [_to_plain(v, _depth + 1, _budget) for v in value]}
    if kind is bytes:
        return {"__bytes": base64.b64encode(value).decode("ascii")}
    if kind is complex:
        return {
            "__complex": [
                _to_plain(value.real, _depth, _budget),
                _to_plain(value.imag, _depth, _budget),
            ]
        }
    if isinstance(value, types.GeneratorType) or kind in (map, filter, zip, reversed, enumerate):
        items = []
        for item in value:
            items.append(_to_plain(item, _depth + 1, _budget))
        return {"__iter": items, "__kind": kind.__name__}
    raise NotPlainData(f"a {kind.__module__}.{kind.__qualname__} is not plain data")


def from_plain(data):
    """The value a :func:`to_plain` form stands for (fresh objects on every call)."""
    if isinstance(data, list):
        return [from_plain(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "__int" in data:
        return int(data["__int"])
    if "__float" in data:
        return float(data["__float"])
    if "__tuple" in data:
        return tuple(from_plain(v) for v in data["__tuple"])
    if "__set" in data:
        return {from_plain(v) for v in data["__set"]}
    if "__frozenset" in data:
        return frozenset(from_plain(v) for v in data["__frozenset"])
    if "__dict" in data:
        return {from_plain(k): from_plain(v) for k, v in data["__dict"]}
    for tag, cls in _MAPPINGS.items():
        if tag in data:
            items = {from_plain(k): from_plain(v) for k, v in data[tag]}
            # A defaultdict's factory is not data; without one it behaves as a plain dict.
            return cls(None, items) if cls is collections.defaultdict else cls(items)
    if "__type" in data:
        return _BUILTIN_TYPES[data["__type"]]
    if "__deque" in data:
        return collections.deque(from_plain(v) for v in data["__deque"])
    if "__opaque" in data:
        return Opaque(data["__opaque"], bool(data["truth"]), str(data["repr"]))
    if "__bytes" in data:
        return base64.b64decode(data["__bytes"])
    if "__complex" in data:
        return complex(from_plain(data["__complex"][0]), from_plain(data["__complex"][1]))
    if "__iter" in data:
        return iter([from_plain(v) for v in data["__iter"]])
    raise ValueError(f"unknown plain-data tag in {sorted(data)}")


def main():
    """Import ``solution.py``, run every call of ``calls.json``, write results to the saved stdout."""
    results = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # the candidate's own prints go to stderr, away from the results
    sys.stdout = sys.stderr

    def emit(record):
        results.write(json.dumps(record) + "\n")
        results.flush()

    with open("calls.json", encoding="utf-8") as handle:
        calls = json.load(handle)
    with open("solution.py", encoding="utf-8") as handle:
        source = handle.read()
    module = types.ModuleType("solution")
    module.__file__ = os.path.abspath("solution.py")
    sys.modules["solution"] = module
    try:
        exec(compile(source, "solution.py", "exec"), module.__dict__)
    except BaseException as error:  # noqa: BLE001 - SystemExit at import is the candidate's doing
        emit({"import_error": [type(error).__name__, str(error)[:2000]]})
        results.close()
        os._exit(0)
    emit({"imported": True})
    for index, (name, args, kwargs) in enumerate(calls):
        function = module.__dict__.get(name)
        if not callable(function):
            emit({"i": index, "missing": name})
            continue
        try:
            value = function(*from_plain(args), **from_plain(kwargs))
            record = {"i": index, "v": to_plain(value, opaque=True)}
        except NotPlainData as error:
            record = {"i": index, "bad": str(error)}
        except BaseException as error:  # noqa: BLE001 - any failure of the candidate is data
            record = {"i": index, "exc": [type(error).__name__, str(error)[:2000]]}
        emit(record)
    emit({"done": len(calls)})
    results.close()
    os._exit(0)  # skip atexit handlers and finalizers the candidate may have registered


if __name__ == "__main__":
    main()
