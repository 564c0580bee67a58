"""Step metrics reach TensorBoard and W&B (read back with their own readers), progress reads well
in a log file, and reset-time figures (a curriculum's difficulty) are logged per step."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from agents.grpo import ConfigError, train
from agents.grpo.logs import Progress
from rlvr_envs.cli import main

from .conftest import quick_config


def _run(tmp_path, tiny_path, **overrides):
    config = quick_config(
        tmp_path, tiny_path, env="grpotest/Digits-v0", env_kwargs={}, eval_tasks=6, **overrides
    )
    config.max_new_tokens, config.no_signal_patience = 5, 5
    lines: list[str] = []
    summary = train(config, log=lines.append)
    return summary, lines


def test_tensorboard_event_files_hold_every_step(tmp_path, tiny_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _run(tmp_path, tiny_path, steps=3, report_to=["jsonl", "tensorboard"])
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/reward_mean", "train/loss", "time/generate_s", "eval/accuracy"} <= tags
    assert [e.step for e in events.Scalars("train/reward_mean")] == [1, 2, 3]
    assert [e.step for e in events.Scalars("eval/accuracy")] == [0, 3]
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    logged = [e.value for e in events.Scalars("train/reward_mean")]
    assert logged == pytest.approx([r["reward_mean"] for r in records if "reward_mean" in r])


def _wandb_records(run_file: Path) -> list:
    """The records of a W&B run file: a 7-byte header, then LevelDB-log framed protobufs
    (32 KiB blocks; each chunk: CRC 4 bytes, length 2, type 1 = full, 2 first, 3 middle, 4 last),
    decoded with W&B's own protobuf schema."""
    from wandb.proto import wandb_internal_pb2

    data = run_file.read_bytes()
    assert data[:4] == b":W&B"
    records, pending, position, block = [], b"", 7, 32768
    while position + 7 <= len(data):
        if block - position % block < 7:  # a block's tail too short for a header is padding
            position += block - position % block
            continue
        length = int.from_bytes(data[position + 4 : position + 6], "little")
        kind = data[position + 6]
        chunk = data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind == 0:
            continue
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            records.append(wandb_internal_pb2.Record.FromString(pending))
    return records


@pytest.mark.slow
def test_wandb_offline_run_holds_every_step(tmp_path, tiny_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    _run(tmp_path, tiny_path, steps=3, report_to=["wandb"], wandb_project="test")
    (run_file,) = (tmp_path / "wandb").glob("offline-run-*/run-*.wandb")
    history = {}
    for record in _wandb_records(run_file):
        if record.WhichOneof("record_type") == "history":
            items = {item.key or "/".join(item.nested_key): item for item in record.history.item}
            history[record.history.step.num] = {
                key: json.loads(item.value_json) for key, item in items.items()
            }
    assert sorted(history) == [0, 1, 2, 3]
    assert "eval/accuracy" in history[0] and "train/reward_mean" in history[2]
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert history[2]["train/reward_mean"] == pytest.approx(records[2]["reward_mean"])


def test_unknown_reporters_are_refused(tmp_path, capsys):
    with pytest.raises(ConfigError, match="unknown reporter"):
        quick_config(tmp_path, report_to=["mlflow"]).check()
    assert main(["train", "-o", str(tmp_path), "--report-to", "tensorboard,mlflow"]) == 2
    assert "unknown reporter(s) ['mlflow']" in capsys.readouterr().err


def test_progress_is_a_few_lines_when_not_on_a_terminal(tmp_path, tiny_path):
    _, lines = _run(tmp_path, tiny_path, steps=20, progress=True, eval_every=10)
    steps = [line for line in lines if line.startswith("GRPO step")]
    assert len(steps) == 10 and steps[-1].startswith("GRPO step 20/20: reward ")
    assert "acc " in steps[-1] and "s/step" in steps[-1]


def test_progress_uses_a_bar_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream, written = Terminal(), []
    with Progress(5, 0, True, "x", write=written.append, stream=stream) as progress:
        for _ in range(5):
            progress.update(loss="0.1")
    assert progress.bar is not None and not written and "5/5" in stream.getvalue()
    with Progress(5, 0, True, "x", write=written.append, stream=io.StringIO()) as progress:
        for _ in range(5):
            progress.update(loss="0.1")
    assert len(written) == 5 and written[-1].startswith("x 5/5: loss 0.1, ")
    assert written[-1].endswith(" s/step")


def test_reset_difficulty_is_logged_per_step(tmp_path, tiny_path):
    config = quick_config(tmp_path, tiny_path, env="grpotest/Curriculum-v0", env_kwargs={})
    config.max_new_tokens, config.eval_tasks, config.steps = 5, 0, 2
    config.dynamic_sampling, config.no_signal_patience = False, 5
    train(config, log=lambda message: None)
    for line in (tmp_path / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        counts = record["difficulty_counts"]
        assert sum(counts.values()) == 16 and all(1 <= int(k) <= 9 for k in counts)
        assert record["difficulty_min"] <= record["difficulty_mean"] <= record["difficulty_max"]
        assert set(record["difficulty_reward"]) == set(counts)  # the digits env never faults
