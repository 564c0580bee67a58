"""JSON output verification: the response is one JSON value, optionally matching a JSON Schema.

Stages, each testable alone: :func:`strip_code_fence` (one optional markdown fence around the whole
response), :func:`parse_json_output` (strict JSON: no ``NaN``/``Infinity``, no duplicate keys, no
trailing text) and :func:`validate_schema` (the common JSON Schema keywords, checked by this
module with no dependency; a schema using other keywords is handed to the ``jsonschema`` package
when it is installed, and is otherwise an ``error`` verdict, never a silent pass).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any

from ..tasks import Task
from ..verdict import Status, Verdict

DEFAULT_MAX_CHARS = 1 << 20

_FENCE = re.compile(
    r"\A```[ \t]*(?P<lang>[A-Za-z0-9_+-]*)[ \t]*\n?(?P<body>.*?)\n?[ \t]*```\Z", re.S
)
_FENCE_LANGUAGES = frozenset({"", "json"})


class JSONOutputError(ValueError):
    """The response is not one valid JSON value; ``status`` says how it failed."""

    def __init__(self, reason: str, status: Status = Status.FORMAT_ERROR) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class SchemaError(ValueError):
    """The schema itself is unusable (a task fault, not the response's)."""


def strip_code_fence(text: str) -> str:
    """The body of one markdown code fence (```` ``` ```` or ```` ```json ````) around all of ``text``.

    Text that is not entirely one fence is returned stripped but otherwise unchanged.
    """
    stripped = text.strip()
    match = _FENCE.match(stripped)
    if match is None or match.group("lang").lower() not in _FENCE_LANGUAGES:
        return stripped
    return match.group("body").strip()


def _reject_constant(name: str) -> Any:
    raise JSONOutputError(f"{name} is not valid JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise JSONOutputError(f"duplicate key {key!r} in an object")
        result[key] = value
    return result


def parse_json_output(
    response: str,
    *,
    allow_code_fence: bool = True,
    allow_duplicate_keys: bool = False,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> Any:
    """The JSON value the whole response holds, or a :class:`JSONOutputError` saying why not."""
    if not isinstance(response, str):
        raise TypeError(f"response must be a str, got {type(response).__name__}")
    if len(response) > max_chars:
        raise JSONOutputError(
            f"response has {len(response)} characters, over max_chars={max_chars}",
            Status.INVALID_INPUT,
        )
    text = strip_code_fence(response) if allow_code_fence else response.strip()
    if not text:
        raise JSONOutputError("empty response", Status.NO_ANSWER)
    try:
        return json.loads(
            text,
            parse_constant=_reject_constant,
            object_pairs_hook=None if allow_duplicate_keys else _unique_keys,
        )
    except JSONOutputError:
        raise
    except json.JSONDecodeError as error:
        raise JSONOutputError(
            f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise JSONOutputError("not usable JSON: nested too deeply") from None
    except ValueError as error:  # e.g. an integer longer than Python's digit limit
        raise JSONOutputError(f"not usable JSON: {error}") from None


# --- schema validation -----------------------------------------------------------------------

_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "default", "examples", "format",
     "readOnly", "writeOnly", "deprecated"}
)  # fmt: skip
_SUPPORTED = _ANNOTATIONS | {
    "type", "enum", "const", "properties", "required", "additionalProperties", "items",
    "minItems", "maxItems", "uniqueItems", "minLength", "maxLength", "pattern", "minimum",
    "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minProperties",
    "maxProperties", "anyOf", "allOf", "oneOf", "not",
}  # fmt: skip
_TYPES = frozenset({"null", "boolean", "object", "array", "number", "integer", "string"})


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _has_type(value: Any, name: str) -> bool:
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "number":
        return _is_number(value)
    if name == "integer":  # JSON Schema counts 1.0 as an integer
        return _is_number(value) and float(value).is_integer()
    raise SchemaError(f"unknown type {name!r}")


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: ``1 == 1.0`` but ``true != 1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise SchemaError(f"invalid pattern {pattern!r}: {error}") from None


def _uses_only_supported(schema: Any) -> bool:
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, Mapping):
        raise SchemaError(f"a schema must be an object or a boolean, got {type(schema).__name__}")
    if not set(schema) <= _SUPPORTED:
        return False
    subschemas: list[Any] = list(dict(schema.get("properties") or {}).values())
    for key in ("additionalProperties", "items", "not"):
        if key in schema:
            subschemas.append(schema[key])
    for key in ("anyOf", "allOf", "oneOf"):
        subschemas.extend(schema.get(key) or [])
    return all(_uses_only_supported(s) for s in subschemas)


def _path(path: str, key: Any) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}"


def _errors(value: Any, schema: Any, path: str) -> list[str]:
    """Every way ``value`` breaks ``schema`` (empty when it conforms)."""
    if schema is True:
        return []
    if schema is False:
        return [f"{path}: no value is allowed here"]
    errors: list[str] = []
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        for name in names:
            if name not in _TYPES:
                raise SchemaError(f"unknown type {name!r}")
        if not any(_has_type(value, name) for name in names):
            return [f"{path}: expected {' or '.join(names)}, got {_json_type(value)}"]
    if "enum" in schema and not any(json_equal(value, v) for v in schema["enum"]):
        errors.append(f"{path}: {_short(value)} is not one of {_short(schema['enum'])}")
    if "const" in schema and not json_equal(value, schema["const"]):
        errors.append(f"{path}: expected {_short(schema['const'])}, got {_short(value)}")
    if isinstance(value, str):
        errors += _string_errors(value, schema, path)
    if _is_number(value):
        errors += _number_errors(value, schema, path)
    if isinstance(value, list):
        errors += _array_errors(value, schema, path)
    if isinstance(value, dict):
        errors += _object_errors(value, schema, path)
    for sub in schema.get("allOf") or []:
        errors += _errors(value, sub, path)
    if "anyOf" in schema and not any(not _errors(value, s, path) for s in schema["anyOf"]):
        errors.append(f"{path}: matches none of the anyOf alternatives")
    if "oneOf" in schema:
        matching = sum(1 for s in schema["oneOf"] if not _errors(value, s, path))
        if matching != 1:
            errors.append(f"{path}: matches {matching} of the oneOf alternatives, not exactly 1")
    if "not" in schema and not _errors(value, schema["not"], path):
        errors.append(f"{path}: matches a schema it must not match")
    return errors


def _string_errors(value: str, schema: Mapping[str, Any], path: str) -> list[str]:
    errors = []
    if "minLength" in schema and len(value) < schema["minLength"]:
        errors.append(f"{path}: string shorter than {schema['minLength']} characters")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(f"{path}: string longer than {schema['maxLength']} characters")
    if "pattern" in schema and not _regex(schema["pattern"]).search(value):
        errors.append(f"{path}: {_short(value)} does not match pattern {schema['pattern']!r}")
    return errors


def _number_errors(value: float, schema: Mapping[str, Any], path: str) -> list[str]:
    errors = []
    if "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{path}: {value} is less than the minimum {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        errors.append(f"{path}: {value} is greater than the maximum {schema['maximum']}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        errors.append(f"{path}: {value} is not greater than {schema['exclusiveMinimum']}")
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        errors.append(f"{path}: {value} is not less than {schema['exclusiveMaximum']}")
    if "multipleOf" in schema:
        step = schema["multipleOf"]
        if not _is_number(step) or step <= 0:
            raise SchemaError(f"multipleOf must be a positive number, got {step!r}")
        if _exact(value) % _exact(step) != 0:
            errors.append(f"{path}: {value} is not a multiple of {step}")
    return errors


def _exact(number: float) -> Fraction:
    """The decimal a JSON number was written as, exactly (so 0.3 is a multiple of 0.1)."""
    if isinstance(number, int):
        return Fraction(number)
    if not math.isfinite(number):
        raise SchemaError(f"{number!r} is not a JSON number")
    return Fraction(Decimal(repr(number)))


def _array_errors(value: list[Any], schema: Mapping[str, Any], path: str) -> list[str]:
    errors = []
    if "minItems" in schema and len(value) < schema["minItems"]:
        errors.append(f"{path}: fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append(f"{path}: more than {schema['maxItems']} items")
    if schema.get("uniqueItems"):
        for i, item in enumerate(value):
            if any(json_equal(item, other) for other in value[:i]):
                errors.append(f"{_path(path, i)}: duplicate item {_short(item)}")
                break
    if "items" in schema:
        if not isinstance(schema["items"], (Mapping, bool)):
            raise SchemaError("'items' must be a schema (tuple form is not supported here)")
        for i, item in enumerate(value):
            errors += _errors(item, schema["items"], _path(path, i))
    return errors


def _object_errors(value: dict[str, Any], schema: Mapping[str, Any], path: str) -> list[str]:
    errors = []
    properties = schema.get("properties") or {}
    for name in schema.get("required") or []:
        if name not in value:
            errors.append(f"{path}: missing required property {name!r}")
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        errors.append(f"{path}: fewer than {schema['minProperties']} properties")
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        errors.append(f"{path}: more than {schema['maxProperties']} properties")
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            errors += _errors(item, properties[name], _path(path, name))
        elif extra is False:
            errors.append(f"{path}: property {name!r} is not allowed")
        elif extra is not True:
            errors += _errors(item, extra, _path(path, name))
    return errors


def _json_type(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _has_type(value, name):
            return name
    return type(value).__name__


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _jsonschema_errors(value: Any, schema: Any) -> list[str]:
    try:
        import jsonschema
    except ImportError:
        raise SchemaError(
            "the schema uses keywords beyond the built-in subset; install 'jsonschema' to check it"
        ) from None
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as error:
        raise SchemaError(f"invalid schema: {error.message}") from None
    return [
        "$"
        + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path)
        + f": {e.message}"
        for e in cls(schema).iter_errors(value)
    ]


def validate_schema(value: Any, schema: Any) -> list[str]:
    """Messages for every way ``value`` breaks ``schema`` (empty when it conforms)."""
    if _uses_only_supported(schema):
        return _errors(value, schema, "$")
    return _jsonschema_errors(value, schema)


# --- the verifier ----------------------------------------------------------------------------


def verify_json(
    response: str,
    schema: Any = None,
    *,
    allow_code_fence: bool = True,
    allow_duplicate_keys: bool = False,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> Verdict:
    """Correct when the response is one JSON value (matching ``schema`` when one is given)."""
    try:
        value = parse_json_output(
            response,
            allow_code_fence=allow_code_fence,
            allow_duplicate_keys=allow_duplicate_keys,
            max_chars=max_chars,
        )
    except JSONOutputError as error:
        return Verdict.make(error.status, error.reason)
    if schema is None:
        return Verdict.make(Status.CORRECT, "valid JSON", extracted=value)
    try:
        errors = validate_schema(value, schema)
    except SchemaError as error:
        return Verdict.make(Status.ERROR, f"unusable schema: {error}", extracted=value)
    if errors:
        return Verdict.make(
            Status.WRONG,
            f"JSON does not match the schema: {errors[0]}",
            extracted=value,
            details={"schema_errors": errors[:20]},
        )
    return Verdict.make(Status.CORRECT, "valid JSON matching the schema", extracted=value)


class JSONVerifier:
    """``verifier(completion, task)``: the task's answer is a schema, ``{"schema": ...}`` or None."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def __call__(self, completion: str, task: Task) -> Verdict:
        answer = task.answer
        schema = (
            answer.get("schema") if isinstance(answer, Mapping) and "schema" in answer else answer
        )
        return verify_json(completion, schema, **self.options)

    def __repr__(self) -> str:
        return f"JSONVerifier({self.options!r})"
