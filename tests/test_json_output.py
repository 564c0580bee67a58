"""JSON output verification: fences, strict parsing and JSON Schema checks."""

from __future__ import annotations

import json

import pytest

from rlvr_envs.tasks import Task
from rlvr_envs.verdict import Status
from rlvr_envs.verifiers import get_verifier
from rlvr_envs.verifiers.json_output import (
    JSONOutputError,
    JSONVerifier,
    json_equal,
    parse_json_output,
    strip_code_fence,
    validate_schema,
    verify_json,
)

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("text", "body"),
    [
        ('```json\n{"a": 1}\n```', '{"a": 1}'),
        ('```JSON\n{"a": 1}\n```', '{"a": 1}'),
        ("```\n[1]\n```", "[1]"),
        ('```json {"a": 1}```', '{"a": 1}'),
        ('  \n```json\n{"a": 1}\n```  \n', '{"a": 1}'),
        ('```python\n{"a": 1}\n```', '```python\n{"a": 1}\n```'),  # not a JSON fence
        ("Text ```json\n{}\n```", "Text ```json\n{}\n```"),  # fence is not the whole text
    ],
)
def test_strip_code_fence(text, body):
    assert strip_code_fence(text) == body


@pytest.mark.parametrize(
    ("response", "status"),
    [
        ('{"a": 1}', Status.CORRECT),
        ("[1, 2.5, null, true]", Status.CORRECT),
        ('"just a string"', Status.CORRECT),
        ('```json\n{"a": 1}\n```', Status.CORRECT),
        ("", Status.NO_ANSWER),
        ("```json\n```", Status.NO_ANSWER),
        ('{"a": 1,}', Status.FORMAT_ERROR),
        ("{'a': 1}", Status.FORMAT_ERROR),
        ('{"a": NaN}', Status.FORMAT_ERROR),
        ('{"a": Infinity}', Status.FORMAT_ERROR),
        ('{"a": 1, "a": 2}', Status.FORMAT_ERROR),
        ('{"a": 1} trailing', Status.FORMAT_ERROR),
        ('Here it is: {"a": 1}', Status.FORMAT_ERROR),
        ("[" * 100_000 + "]" * 100_000, Status.FORMAT_ERROR),
        ("1" + "0" * 10_000, Status.FORMAT_ERROR),
    ],
)
def test_parse_statuses(response, status):
    verdict = verify_json(response)
    assert verdict.status is status, verdict.reason
    assert verdict.reward == (1.0 if status is Status.CORRECT else 0.0)


def test_options_relax_parsing():
    assert verify_json('{"a": 1, "a": 2}', allow_duplicate_keys=True).correct
    assert not verify_json('```json\n{"a": 1}\n```', allow_code_fence=False).correct
    assert verify_json("x" * 50, max_chars=10).status is Status.INVALID_INPUT


def test_parse_error_says_where():
    with pytest.raises(JSONOutputError, match="line 2 column"):
        parse_json_output('{"a": 1,\n}')


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ({"name": "Ada", "age": 36}, True),
        ({"name": "Ada", "age": 36, "tags": ["x", "y"]}, True),
        ({"name": "Ada", "age": 36.0}, True),  # 36.0 is an integer to JSON Schema
        ({"name": "Ada"}, False),  # missing required
        ({"name": "", "age": 3}, False),  # minLength
        ({"name": "Ada", "age": -1}, False),  # minimum
        ({"name": "Ada", "age": 36.5}, False),  # not an integer
        ({"name": "Ada", "age": True}, False),  # a boolean is not an integer
        ({"name": "Ada", "age": 3, "tags": ["a", "b", "c", "d"]}, False),  # maxItems
        ({"name": "Ada", "age": 3, "tags": [1]}, False),  # item type
        ({"name": "Ada", "age": 3, "extra": 1}, False),  # additionalProperties
        (["Ada", 36], False),  # wrong type
    ],
)
def test_schema_validation(value, ok):
    verdict = verify_json(json.dumps(value), PERSON)
    assert verdict.correct is ok, verdict.reason
    if not ok:
        assert verdict.status is Status.WRONG
        assert verdict.details["schema_errors"]


def test_schema_keywords():
    assert not validate_schema("abc", {"type": "string", "pattern": "^[0-9]+$"}) == []
    assert validate_schema("123", {"type": "string", "pattern": "^[0-9]+$"}) == []
    assert validate_schema(2, {"enum": [1, 2.0, "x"]}) == []
    assert validate_schema(True, {"enum": [1]}) != []
    assert validate_schema(1, {"const": True}) != []
    assert validate_schema([1, 1.0], {"uniqueItems": True}) != []
    assert validate_schema(6, {"multipleOf": 3}) == []
    assert validate_schema(0.3, {"multipleOf": 0.1}) == []
    assert validate_schema(7, {"multipleOf": 3}) != []
    assert validate_schema(5, {"exclusiveMaximum": 5}) != []
    assert validate_schema(None, {"type": ["string", "null"]}) == []
    assert validate_schema(3, {"anyOf": [{"type": "string"}, {"minimum": 2}]}) == []
    assert validate_schema(3, {"oneOf": [{"type": "integer"}, {"minimum": 2}]}) != []
    assert validate_schema(3, {"not": {"type": "integer"}}) != []
    assert validate_schema({"a": 1}, {"additionalProperties": {"type": "string"}}) != []
    assert validate_schema({}, {"minProperties": 1}) != []
    assert validate_schema("x", True) == []
    assert validate_schema("x", False) != []


def test_error_paths_name_the_failing_value():
    errors = validate_schema(
        {"tags": ["a", 2]}, {"properties": {"tags": {"items": {"type": "string"}}}}
    )
    assert errors == ["$.tags[1]: expected string, got integer"]


def test_unusable_schema_is_an_error_verdict():
    verdict = verify_json('{"a": 1}', {"type": "strange"})
    assert verdict.status is Status.ERROR
    assert verify_json('"x"', {"pattern": "("}).status is Status.ERROR
    assert verify_json("1", "not a schema").status is Status.ERROR


def test_keywords_beyond_the_subset_use_jsonschema():
    pytest.importorskip("jsonschema")
    schema = {
        "type": "object",
        "patternProperties": {"^n_": {"type": "integer"}},
        "additionalProperties": False,
    }
    assert verify_json('{"n_a": 1}', schema).correct
    verdict = verify_json('{"n_a": "x"}', schema)
    assert verdict.status is Status.WRONG
    assert "$.n_a" in verdict.reason


def test_builtin_subset_agrees_with_jsonschema():
    jsonschema = pytest.importorskip("jsonschema")
    values = [None, True, 0, 1, 2.5, -3, "", "ab", "123", [], [1, "a"], [1, 1], {}, {"a": 1}]
    schemas = [
        {"type": "integer"},
        {"type": "number", "minimum": 0, "exclusiveMaximum": 2},
        {"type": ["string", "null"], "maxLength": 2},
        {"pattern": "^[0-9]+$"},
        {"enum": [1, "a", None]},
        {"const": 1},
        {"type": "array", "uniqueItems": True, "minItems": 1},
        {"type": "array", "items": {"type": "integer"}},
        {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}},
        {"anyOf": [{"type": "string"}, {"type": "boolean"}]},
        {"oneOf": [{"type": "integer"}, {"minimum": 1}]},
        {"not": {"type": "array"}},
        {"multipleOf": 0.5},
        {"maxProperties": 0},
    ]
    for schema in schemas:
        validator = jsonschema.Draft202012Validator(schema)
        for value in values:
            assert (validate_schema(value, schema) == []) == validator.is_valid(value), (
                schema,
                value,
            )


def test_json_equality_follows_json():
    assert json_equal(1, 1.0)
    assert not json_equal(True, 1)
    assert json_equal({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]})
    assert not json_equal([1], [1, 2])


def test_registered_json_verifier():
    verifier = get_verifier("json")
    assert isinstance(verifier, JSONVerifier)
    with_schema = Task(id="a", prompt="p", answer={"schema": PERSON})
    bare_schema = Task(id="b", prompt="p", answer=PERSON)
    no_schema = Task(id="c", prompt="p")
    good = '{"name": "Ada", "age": 36}'
    assert verifier(good, with_schema).correct
    assert verifier(good, bare_schema).correct
    assert verifier("[1]", no_schema).correct
    assert not verifier("[1]", with_schema).correct
