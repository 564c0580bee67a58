"""Comparing a candidate's value with an expected one, for function cases.

Two rules. *Strict* (Python-given expectations): types must match exactly, so ``1 != 1.0 !=
True`` and a tuple is not a list. *JSON* (expectations read from JSON, which has one number type
and one sequence type): compare as JSON would see both values, so a returned tuple equals a list,
``2 == 2.0``, integer dict keys equal their strings; ``True`` is still not ``1``, a set or an
object is never JSON, and NaN equals nothing. ``compare="auto"`` picks JSON when the expected
value is made of JSON types only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

COMPARE_MODES = ("auto", "json", "strict")


def is_json_value(value: Any, depth: int = 0) -> bool:
    """True when a value is made of what ``json.loads`` returns (and so could have come from it)."""
    if depth > 100:
        return False
    if value is None or type(value) in (bool, int, float, str):
        return True
    if type(value) is list:
        return all(is_json_value(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(type(k) is str and is_json_value(v, depth + 1) for k, v in value.items())
    return False


def values_equal(got: Any, expected: Any, float_tolerance: float, mode: str = "auto") -> bool:
    """Equality of a candidate's value with an expected one under the rule ``mode`` picks."""
    if mode not in COMPARE_MODES:
        raise ValueError(f"compare must be one of {COMPARE_MODES}, got {mode!r}")
    if mode == "json" or (mode == "auto" and is_json_value(expected)):
        return json_equal(got, expected, float_tolerance)
    return strict_equal(got, expected, float_tolerance)


def _close(a: float, b: float, float_tolerance: float) -> bool:
    if a == b:
        return True
    return float_tolerance > 0 and abs(a - b) <= float_tolerance * max(1.0, abs(a), abs(b))


def strict_equal(a: Any, b: Any, float_tolerance: float) -> bool:
    """Type-strict equality of plain data (``1 != 1.0 != True``), with optional float tolerance."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (a != a and b != b) or _close(a, b, float_tolerance)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(strict_equal(x, y, float_tolerance) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strict_equal(a[k], b[k], float_tolerance) for k in a)
    return a == b


def _json_key(key: Any) -> str | None:
    """The string ``json.dumps`` would write for a dict key, or None if it cannot."""
    if type(key) is str:
        return key
    if type(key) is bool:
        return "true" if key else "false"
    if key is None:
        return "null"
    if type(key) is int:
        return str(key)
    if type(key) is float and math.isfinite(key):
        return repr(key)
    return None


def json_equal(got: Any, expected: Any, float_tolerance: float) -> bool:
    """Equality as JSON sees it (see the module docstring)."""
    if type(expected) is bool or type(got) is bool:
        return type(got) is bool and type(expected) is bool and got == expected
    if expected is None or got is None:
        return got is None and expected is None
    if type(expected) in (int, float):
        if type(got) not in (int, float):
            return False
        if not (math.isfinite(got) and math.isfinite(expected)):
            return got == expected and not math.isnan(got)
        return got == expected or _close(float(got), float(expected), float_tolerance)
    if type(expected) is str:
        return type(got) is str and got == expected
    if type(expected) in (list, tuple):
        return (
            type(got) in (list, tuple)
            and len(got) == len(expected)
            and all(json_equal(g, e, float_tolerance) for g, e in zip(got, expected))
        )
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping) or type(got).__module__ not in ("builtins", "collections"):
            return False
        converted = {}
        for key, value in got.items():
            text = _json_key(key)
            if text is None or text in converted:
                return False
            converted[text] = value
        wanted = {_json_key(k): v for k, v in expected.items()}
        return converted.keys() == wanted.keys() and all(
            json_equal(converted[k], wanted[k], float_tolerance) for k in wanted
        )
    return False
