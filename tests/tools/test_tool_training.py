"""`rlvr-envs train` on a tool environment: the offline tool preset (tiny tool-capable model,
warm-up on demonstrated episodes through the python tool's sandboxed sessions, then RL)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from rlvr_envs.cli import main  # noqa: E402


@pytest.mark.slow
def test_train_runs_on_a_python_tool_environment(tmp_path, capsys) -> None:
    args = ["train", "--env", "rlvr/Arithmetic-Python-v1", "-o", str(tmp_path)]
    args += ["--steps", "2", "--warmup-steps", "2", "--batch-size", "16", "--group-size", "8"]
    args += ["--eval-tasks", "4", "--no-progress", "--no-plot"]
    args += ["--set", "warmup_examples=8", "--set", "warmup_batch_size=4"]
    assert main([*args, "--env-arg", "sandbox=local"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    config = summary["config"]
    assert config["env"] == "rlvr/Arithmetic-Python-v1" and config["chat"] is True
    assert config["warmup_completion"] == "demonstration"
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "reward_mean" in r]
    assert [r["step"] for r in steps] == [1, 2] and all(r["faults"] == 0 for r in steps)
    # Episodes are multi-turn: a call (up to 40 tokens) and an answer can exceed one turn's cap.
    assert 0 <= summary["accuracy_after"] <= 1
    assert (tmp_path / "model" / "config.json").exists()
