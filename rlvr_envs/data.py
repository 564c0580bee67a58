"""Loading dataset rows from local files, Python lists or the Hugging Face hub."""

from __future__ import annotations

import csv
import gzip
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

LOCAL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".csv", ".parquet")


class DataError(RuntimeError):
    """A dataset could not be loaded; the message says what to do about it."""


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with _open_text(path) as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(f"{path}:{number}: not valid JSON ({error.msg})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{number}: expected a JSON object per line")
            rows.append(row)
    return rows


def _read_json(path: Path) -> list[dict[str, Any]]:
    with _open_text(path) as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}: not valid JSON ({error.msg})") from None
    if isinstance(data, Mapping):
        # Common layouts: {"data": [...]}, {"rows": [...]} or {"train": [...], "test": [...]}
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise DataError(
                f"{path}: expected a JSON list of objects (or one list inside an object)"
            )
        data = lists[0]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DataError(f"{path}: expected a JSON list of objects")
    return data


def _read_parquet(path: Path) -> list[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            f"{path}: reading Parquet needs pyarrow (pip install 'rlvr-envs[hub]')"
        ) from None
    return pq.read_table(path).to_pylist()


def read_local(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of a local JSONL / JSON / CSV / Parquet file (``.gz`` allowed for JSON forms)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such data file: {path}")
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz")):
        return _read_jsonl(path)
    if name.endswith((".json", ".json.gz")):
        return _read_json(path)
    if name.endswith(".csv"):
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    if name.endswith(".parquet"):
        return _read_parquet(path)
    raise DataError(f"{path}: unknown data format; use one of {', '.join(LOCAL_SUFFIXES)}")


def read_hub(name: str, *, split: str = "test", config: str | None = None) -> list[dict[str, Any]]:
    """Rows of a Hugging Face hub dataset split (needs the ``datasets`` package and network)."""
    try:
        import datasets
    except ImportError:
        raise DataError(
            f"loading {name!r} from the Hugging Face hub needs the 'datasets' package "
            "(pip install 'rlvr-envs[hub]'), or pass a local file with data_path="
        ) from None
    try:
        dataset = datasets.load_dataset(name, config, split=split)
    except Exception as error:  # network, auth and missing-split errors all look different
        raise DataError(
            f"could not load {name!r} (config={config!r}, split={split!r}) from the Hugging Face "
            f"hub: {type(error).__name__}: {error}. Offline? Pass a local file with data_path=, or "
            f"point ${DATA_DIR_VARIABLE} at a folder holding the benchmark files."
        ) from error
    return [dict(row) for row in dataset]


def looks_local(data: str) -> bool:
    """True when a string names a local file rather than a hub dataset."""
    return (
        os.path.exists(data)
        or data.lower().endswith(LOCAL_SUFFIXES)
        or data.startswith((".", "/", "~"))
    )


def load_rows(
    data: str | os.PathLike | Sequence[Mapping[str, Any]],
    *,
    split: str = "test",
    config: str | None = None,
) -> list[dict[str, Any]]:
    """Rows from a local file, a list of dicts, or a hub dataset name."""
    if isinstance(data, os.PathLike):
        return read_local(data)
    if isinstance(data, str):
        if looks_local(data):
            return read_local(os.path.expanduser(data))
        return read_hub(data, split=split, config=config)
    if isinstance(data, Sequence):
        rows = list(data)
        bad = next((i for i, r in enumerate(rows) if not isinstance(r, Mapping)), None)
        if bad is not None:
            raise DataError(f"row {bad} is a {type(rows[bad]).__name__}, not a mapping")
        return [dict(r) for r in rows]
    raise TypeError(
        f"data must be a file path, a hub dataset name or a list of dicts, got {type(data).__name__}"
    )


DATA_DIR_VARIABLE = "RLVR_ENVS_DATA_DIR"


def load_benchmark(
    hub_name: str,
    *,
    local_names: Sequence[str],
    data_path: str | os.PathLike | None = None,
    split: str = "test",
    config: str | None = None,
) -> list[dict[str, Any]]:
    """Rows of a public benchmark from ``data_path``, else ``$RLVR_ENVS_DATA_DIR``, else the hub."""
    if data_path is not None:
        return read_local(os.path.expanduser(os.fspath(data_path)))
    local = find_local(local_names)
    if local is not None:
        return read_local(local)
    return read_hub(hub_name, split=split, config=config)


def find_local(names: Sequence[str]) -> Path | None:
    """The first of ``names`` present in ``$RLVR_ENVS_DATA_DIR``, if that is set."""
    directory = os.environ.get(DATA_DIR_VARIABLE)
    for name in names if directory else ():
        candidate = Path(directory, name)
        if candidate.is_file():
            return candidate
    return None
