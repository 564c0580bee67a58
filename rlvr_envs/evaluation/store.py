"""The per-sample JSONL file of a run: the source of truth that a resumed run continues from.

Each line is one finished sample, written and flushed as soon as it is verified. A run killed
mid-write leaves at most one partial last line; opening the store cuts it off, so the sample is
redone instead of being lost or read as garbage.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SAMPLES_FILE = "samples.jsonl"
LOCK_FILE = ".lock"


class RunLockedError(RuntimeError):
    """Another process is writing to the same output directory."""


def read_records(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Every complete record of a samples file, first occurrence of each key, in file order."""
    path = Path(path)
    if not path.is_file():
        return []
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.endswith(b"\n"):
                break  # a partial last line: the sample was not finished
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                logger.warning("%s:%d: skipping a line that is not valid JSON", path, number)
                continue
            key = record.get("key") if isinstance(record, dict) else None
            if not isinstance(key, str):
                logger.warning("%s:%d: skipping a line without a sample key", path, number)
                continue
            if key not in seen:
                seen.add(key)
                records.append(record)
    return records


def _cut_partial_line(path: Path) -> None:
    """Truncate a file after its last newline (drop a line a killed writer left unfinished)."""
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("rb+") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return
        # Scan back in blocks for the last newline.
        position = size
        while position > 0:
            step = min(1 << 16, position)
            position -= step
            handle.seek(position)
            block = handle.read(step)
            index = block.rfind(b"\n")
            if index >= 0:
                handle.truncate(position + index + 1)
                return
        handle.truncate(0)


class SampleStore:
    """Appends sample records to ``DIR/samples.jsonl`` and knows which keys are done."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self.path = self.directory / SAMPLES_FILE
        self._handle = None
        self._lock = None
        self.records: dict[str, dict[str, Any]] = {}

    def open(self, *, truncate: bool = False) -> SampleStore:
        """Lock the directory, cut a partial last line, load finished samples, open for append.

        ``truncate`` starts over: samples already in the file are deleted (under the lock).
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        if truncate:
            self.path.unlink(missing_ok=True)
        if self.path.exists():
            _cut_partial_line(self.path)
        self.records = {r["key"]: r for r in read_records(self.path)}
        self._handle = self.path.open("a", encoding="utf-8")
        return self

    def _acquire_lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # not POSIX: no protection against two writers
            return
        handle = (self.directory / LOCK_FILE).open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise RunLockedError(
                f"another evaluation is writing to {self.directory}; wait for it or use another "
                "--output-dir"
            ) from None
        self._lock = handle

    def __contains__(self, key: str) -> bool:
        return key in self.records

    def add(self, record: dict[str, Any]) -> bool:
        """Write one finished sample (unless its key is already done); True when written."""
        if self._handle is None:
            raise RuntimeError("open() the store first")
        key = record["key"]
        if key in self.records:
            return False
        line = json.dumps(record, ensure_ascii=False, default=str)
        # One write of the whole line, then a flush: a kill leaves at most a partial last line.
        self._handle.write(line + "\n")
        self._handle.flush()
        self.records[key] = record
        return True

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records.values())

    def close(self) -> None:
        """Close the file and release the directory lock."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> SampleStore:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()
