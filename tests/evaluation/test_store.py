import json

import pytest

from rlvr_envs.evaluation import RunLockedError, read_records
from rlvr_envs.evaluation.store import SampleStore


def _record(i):
    return {"key": f"k{i}", "value": i, "text": "é" * i}


def test_append_and_reload(tmp_path):
    with SampleStore(tmp_path) as store:
        assert store.add(_record(1)) and store.add(_record(2))
        assert not store.add(_record(1))  # already done
    lines = (tmp_path / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["k1", "k2"]
    with SampleStore(tmp_path) as store:
        assert "k1" in store and "k2" in store and "k3" not in store


def test_partial_last_line_is_cut_and_redone(tmp_path):
    with SampleStore(tmp_path) as store:
        store.add(_record(1))
        store.add(_record(2))
    path = tmp_path / "samples.jsonl"
    data = path.read_bytes()
    # A writer killed in the middle of its third line.
    path.write_bytes(data + json.dumps(_record(3)).encode()[:9])
    assert [r["key"] for r in read_records(path)] == ["k1", "k2"]
    with SampleStore(tmp_path) as store:
        assert "k3" not in store
        store.add(_record(3))
    assert path.read_bytes() == data + (json.dumps(_record(3), ensure_ascii=False) + "\n").encode()
    assert [r["key"] for r in read_records(path)] == ["k1", "k2", "k3"]


def test_partial_line_without_any_newline(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_bytes(b'{"key": "k1", "va')
    with SampleStore(tmp_path) as store:
        assert not store.records
    assert path.read_bytes() == b""


def test_complete_json_without_newline_is_still_redone(tmp_path):
    # The newline is the commit marker: a line without it may be cut short anywhere.
    path = tmp_path / "samples.jsonl"
    path.write_text(json.dumps(_record(1)))
    with SampleStore(tmp_path) as store:
        assert "k1" not in store


def test_garbage_and_duplicate_lines_are_skipped(tmp_path, caplog):
    path = tmp_path / "samples.jsonl"
    path.write_text(
        json.dumps(_record(1))
        + "\nnot json\n"
        + json.dumps({"no": "key"})
        + "\n"
        + json.dumps({"key": "k1", "value": 99})
        + "\n"
        + json.dumps(_record(2))
        + "\n"
    )
    records = read_records(path)
    assert [(r["key"], r["value"]) for r in records] == [("k1", 1), ("k2", 2)]
    assert "not valid JSON" in caplog.text and "without a sample key" in caplog.text


def test_truncate_starts_over(tmp_path):
    with SampleStore(tmp_path) as store:
        store.add(_record(1))
    store = SampleStore(tmp_path).open(truncate=True)
    try:
        assert not store.records
    finally:
        store.close()


def test_a_second_writer_is_refused(tmp_path):
    with SampleStore(tmp_path):
        with pytest.raises(RunLockedError, match="another evaluation"):
            SampleStore(tmp_path).open()
    with SampleStore(tmp_path):  # released on close
        pass


def test_add_before_open():
    with pytest.raises(RuntimeError, match="open"):
        SampleStore("/nonexistent").add(_record(1))
