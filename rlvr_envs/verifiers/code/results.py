"""Reading what the runner wrote, as untrusted input.

The candidate shares a process with the runner, so it can write anything to the runner's results
descriptor: thousands of nested brackets, integers of a million digits, unknown tags, records
out of order. Such a stream is the candidate's doing and is graded as a runtime error; nothing
here raises past :func:`parse_results`, and every record that passes holds a value the host can
rebuild.
"""

from __future__ import annotations

import json
from typing import Any

from ._runner import MAX_DEPTH, REFERENCE_TAGS

# Plain data nests at most MAX_DEPTH levels; each level is at most two JSON levels
# (``{"__tuple": [...]}``); records add a few more.
MAX_JSON_DEPTH = 2 * MAX_DEPTH + 8
MAX_INT_DIGITS = 4000  # below Python's default limit for int <-> str conversion
_TYPE_NAMES = frozenset(
    "int float complex str bytes bool list tuple dict set frozenset NoneType".split()
)


class MalformedResults(ValueError):
    """The results stream is not what the runner writes: the candidate tampered with it."""


class RunnerOutput:
    """The header, the per-call records and whether the runner finished, from one run."""

    def __init__(self) -> None:
        self.imported = False
        self.import_error: tuple[str, str] | None = None
        self.globals: dict[str, Any] = {}
        self.records: dict[int, dict[str, Any]] = {}
        self.done = False


def _depth_ok(value: Any) -> bool:
    """Whether nothing in a parsed record lies deeper than ``MAX_JSON_DEPTH`` (one level at a
    time: no recursion)."""
    level = [value]
    for _ in range(MAX_JSON_DEPTH + 1):
        inside: list[Any] = []
        for item in level:
            if isinstance(item, list):
                inside.extend(item)
            elif isinstance(item, dict):
                inside.extend(item.values())
        if not inside:
            return True
        level = inside
    return False


def _plain_ok(value: Any, allow_references: bool = False) -> bool:
    """Whether a plain form only holds tags ``from_plain`` knows, with sane contents."""
    if isinstance(value, list):
        return all(_plain_ok(v, allow_references) for v in value)
    if not isinstance(value, dict):
        return value is None or isinstance(value, (bool, int, float, str))
    if len(value) == 0:
        return False
    if "__opaque" in value:
        return isinstance(value.get("__opaque"), str) and isinstance(value.get("repr"), str)
    if "__int" in value:
        text = value["__int"]
        return isinstance(text, str) and len(text) <= MAX_INT_DIGITS and _is_int(text)
    if "__float" in value:
        return value["__float"] in ("nan", "inf", "-inf")
    if "__dict" in value or any(
        t in value for t in ("__counter", "__ordereddict", "__defaultdict")
    ):
        pairs = next(iter(value.values()))
        return isinstance(pairs, list) and all(
            isinstance(p, list) and len(p) == 2 and _plain_ok(p, allow_references) for p in pairs
        )
    if "__type" in value:
        return value["__type"] in _TYPE_NAMES
    if allow_references and any(tag in value for tag in REFERENCE_TAGS):
        return True
    for tag in ("__tuple", "__set", "__frozenset", "__deque", "__iter", "__complex"):
        if tag in value:
            return isinstance(value[tag], list) and _plain_ok(value[tag], allow_references)
    if "__bytes" in value:
        return isinstance(value["__bytes"], str)
    return False


def _is_int(text: str) -> bool:
    body = text[1:] if text[:1] == "-" else text
    return body.isdigit() and body.isascii()


def _check_record(record: dict[str, Any], calls: int) -> bool:
    index = record.get("i")
    if type(index) is not int or not 0 <= index < calls:
        return False
    kinds = [k for k in ("v", "exc", "bad", "missing") if k in record]
    if len(kinds) != 1:
        return False
    kind = kinds[0]
    if kind == "v" and not _plain_ok(record["v"]):
        return False
    if kind == "exc":
        exc = record["exc"]
        if not (isinstance(exc, list) and len(exc) == 2 and all(isinstance(x, str) for x in exc)):
            return False
    if kind in ("bad", "missing") and not isinstance(record[kind], str):
        return False
    if "after" in record and not (
        isinstance(record["after"], list)
        and len(record["after"]) == 2
        and _plain_ok(record["after"])
    ):
        return False
    if "in" in record and not (isinstance(record["in"], list) and len(record["in"]) == 3):
        return False
    return True


def _check_header(record: dict[str, Any], out: RunnerOutput) -> None:
    if "import_error" in record:
        error = record["import_error"]
        if not (
            isinstance(error, list) and len(error) == 2 and all(isinstance(x, str) for x in error)
        ):
            raise MalformedResults("malformed import error record")
        out.import_error = (error[0], error[1])
        return
    if record.get("imported") is not True or out.imported:
        raise MalformedResults("unexpected header record")
    names = record.get("globals", {})
    if not isinstance(names, dict) or not all(
        isinstance(v, dict)
        and (("v" in v and _plain_ok(v["v"])) or v.get("kind") in ("callable", "object"))
        for v in names.values()
    ):
        raise MalformedResults("malformed globals record")
    out.imported = True
    out.globals = names


def parse_results(stdout: bytes, calls: int) -> RunnerOutput:
    """The runner's records for ``calls`` calls; MalformedResults if anything is off."""
    out = RunnerOutput()
    try:
        text = stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedResults("the results are not UTF-8") from None
    _parse_lines(text.splitlines(), calls, out)
    return out


def parse_prefix(stdout: bytes, calls: int) -> RunnerOutput:
    """The well-formed records before anything off (a cut line, junk, the end of the output) in
    the results of a job that did not finish cleanly; never raises."""
    out = RunnerOutput()
    lines = stdout.split(b"\n")[:-1]  # what follows the last newline is a line cut short
    for line in lines:
        try:
            _parse_lines([line.decode("utf-8")], calls, out)
        except (MalformedResults, UnicodeDecodeError):
            break
    return out


def _parse_lines(lines: list[str], calls: int, out: RunnerOutput) -> None:
    for line in lines:
        if out.done or out.import_error:
            raise MalformedResults("records after the end")
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            raise MalformedResults("a results line is not JSON") from None
        if not isinstance(record, dict) or not _depth_ok(record):
            raise MalformedResults("a results line is not a record")
        if "i" in record:
            if not out.imported or record.get("i") in out.records:
                raise MalformedResults("a call record out of place")
            if not _check_record(record, calls):
                raise MalformedResults(f"malformed record for call {record.get('i')!r}")
            out.records[record["i"]] = record
        elif "done" in record:
            if record["done"] != calls or len(out.records) != calls:
                raise MalformedResults("the end record does not match the calls")
            out.done = True
        else:
            _check_header(record, out)
