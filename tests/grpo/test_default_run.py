"""The main job: `rlvr-envs train` with no arguments raises held-out accuracy by a clear margin."""

from __future__ import annotations

import json

import pytest

from rlvr_envs.cli import main


@pytest.mark.slow
def test_default_run_raises_heldout_accuracy(tmp_path, capsys):
    assert main(["train", "--output-dir", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "held-out accuracy before RL" in out and "after 200 steps" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    before, after = summary["accuracy_before"], summary["accuracy_after"]
    assert 0.3 <= before <= 0.7, before  # the warm-up leaves headroom
    assert after >= before + 0.25, (before, after)
    assert summary["eval_tasks"] == 300 and summary["eval_split"] == "procedural"
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len([line for line in lines if '"reward_mean"' in line]) == 200
    assert (tmp_path / "curves.png").exists() and (tmp_path / "model" / "config.json").exists()
