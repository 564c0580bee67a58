import gzip
import json

import pytest

from rlvr_envs.data import DataError, load_benchmark, load_rows, read_local

ROWS = [{"q": "1+1", "a": "2"}, {"q": "2+2", "a": "4"}]


@pytest.fixture
def files(tmp_path):
    paths = {}
    paths["jsonl"] = tmp_path / "d.jsonl"
    paths["jsonl"].write_text("\n".join(json.dumps(r) for r in ROWS) + "\n\n")
    paths["jsonl.gz"] = tmp_path / "d.jsonl.gz"
    with gzip.open(paths["jsonl.gz"], "wt") as handle:
        handle.write("\n".join(json.dumps(r) for r in ROWS))
    paths["json"] = tmp_path / "d.json"
    paths["json"].write_text(json.dumps(ROWS))
    paths["json-wrapped"] = tmp_path / "wrapped.json"
    paths["json-wrapped"].write_text(json.dumps({"data": ROWS}))
    paths["csv"] = tmp_path / "d.csv"
    paths["csv"].write_text("q,a\n1+1,2\n2+2,4\n")
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    paths["parquet"] = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), paths["parquet"])
    return paths


@pytest.mark.parametrize("kind", ["jsonl", "jsonl.gz", "json", "json-wrapped", "csv", "parquet"])
def test_local_formats(files, kind):
    assert read_local(files[kind]) == ROWS
    assert load_rows(str(files[kind])) == ROWS
    assert load_rows(files[kind]) == ROWS


def test_list_of_dicts():
    assert load_rows(ROWS) == ROWS
    with pytest.raises(DataError, match="row 1"):
        load_rows([{"q": 1}, "oops"])
    with pytest.raises(TypeError):
        load_rows(42)


def test_bad_files(tmp_path):
    with pytest.raises(DataError, match="no such data file"):
        read_local(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"q": 1}\n{not json\n')
    with pytest.raises(DataError, match="bad.jsonl:2"):
        read_local(bad)
    scalar = tmp_path / "scalar.jsonl"
    scalar.write_text("[1, 2]\n")
    with pytest.raises(DataError, match="JSON object"):
        read_local(scalar)
    odd = tmp_path / "data.txt"
    odd.write_text("x")
    with pytest.raises(DataError, match="unknown data format"):
        read_local(odd)


def test_hub_names_fail_clearly_offline(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match="data_path") as caught:
        load_rows("someone/not-a-cached-dataset")
    # Offline users are told both ways to point at local files.
    assert "$RLVR_ENVS_DATA_DIR" in str(caught.value)


def test_load_benchmark_prefers_data_path_then_data_dir(tmp_path, monkeypatch, files):
    monkeypatch.setenv("RLVR_ENVS_DATA_DIR", str(tmp_path))
    assert load_benchmark("x/y", local_names=("d.jsonl",)) == ROWS
    assert load_benchmark("x/y", local_names=("d.csv",), data_path=files["json"]) == ROWS
    monkeypatch.setenv("RLVR_ENVS_DATA_DIR", str(tmp_path / "empty"))
    with pytest.raises(DataError, match="Hugging Face hub"):
        load_benchmark("someone/not-a-cached-dataset", local_names=("d.jsonl",))
