"""Bad configurations and environments get clear messages, from the API and the command line."""

from __future__ import annotations

import pytest
import torch

from agents.grpo import ConfigError, GRPOConfig, TrainingError, resolve_device, train
from rlvr_envs.cli import main

from .conftest import quick_config


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"group_size": 1}, "group_size must be >= 2"),
        ({"batch_size": 10, "group_size": 4}, "must be a positive multiple of group_size"),
        ({"loss_aggregation": "mean"}, "loss_aggregation must be one of"),
        ({"baseline": "median"}, "baseline must be one of"),
        ({"scale_rewards": "max"}, "scale_rewards must be one of"),
        ({"micro_batch_size": 0}, "micro_batch_size must be an integer >= 1"),
        ({"clip_low": 1.5}, "clip_low"),
        ({"reference": "adapter"}, "needs a LoRA adapter"),
        ({"temperature": 0.0}, "temperature > 0"),
    ],
)
def test_bad_settings_are_rejected_before_anything_loads(tmp_path, overrides, message):
    config = GRPOConfig(output_dir=str(tmp_path), **overrides)
    with pytest.raises(ConfigError, match=message):
        config.check()
    with pytest.raises(ConfigError, match=message):
        train(config)
    assert not (tmp_path / "metrics.jsonl").exists()


def test_cuda_requested_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="no CUDA GPU is usable here.*--device cpu"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def test_cli_reports_bad_configurations(tmp_path, capsys, monkeypatch):
    assert main(["train", "-o", str(tmp_path), "--group-size", "1"]) == 2
    assert "group_size must be >= 2" in capsys.readouterr().err
    assert main(["train", "-o", str(tmp_path), "--batch-size", "12", "-G", "8"]) == 2
    assert "multiple of group_size" in capsys.readouterr().err
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["train", "-o", str(tmp_path), "--device", "cuda"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err
    assert main(["train", "-o", str(tmp_path), "--set", "no_such_field=1"]) == 2
    assert "unknown config field" in capsys.readouterr().err


def test_unknown_environment(tmp_path, tiny_path):
    with pytest.raises(ConfigError, match="cannot make environment"):
        train(quick_config(tmp_path, tiny_path, env="rlvr/NoSuchEnv-v0"))


def test_constant_reward_environment_stops_with_a_clear_message(tmp_path, tiny_path):
    config = quick_config(
        tmp_path,
        tiny_path,
        env="grpotest/AlwaysOne-v0",
        env_kwargs={},
        steps=10,
        no_signal_patience=2,
        max_sampling_rounds=2,
    )
    with pytest.raises(TrainingError) as caught:
        train(config)
    message = str(caught.value)
    assert "no learning signal for 2 steps" in message
    assert "gives reward 1.0 to every completion" in message
    assert "A sampled completion" in message
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2  # the eval line at step 0 and step 1; step 2 raised before logging


def test_constant_reward_from_the_cli(tmp_path, tiny_path, capsys):
    code = main(
        [
            "train",
            "--model",
            str(tiny_path),
            "--env",
            "grpotest/AlwaysOne-v0",
            "-o",
            str(tmp_path),
            "--device",
            "cpu",
            "--steps",
            "5",
            "--batch-size",
            "8",
            "-G",
            "4",
            "--max-new-tokens",
            "3",
            "--eval-tasks",
            "0",
            "--no-progress",
            "--no-plot",
            "--set",
            "no_signal_patience=1",
        ]
    )
    assert code == 2
    assert "no learning signal" in capsys.readouterr().err


def test_cli_trains_a_given_model(tmp_path, tiny_path, capsys):
    code = main(
        [
            "train",
            "--model",
            str(tiny_path),
            "--env",
            "grpotest/Digits-v0",
            "-o",
            str(tmp_path),
            "--device",
            "cpu",
            "--steps",
            "2",
            "--batch-size",
            "8",
            "-G",
            "4",
            "--max-new-tokens",
            "4",
            "--eval-tasks",
            "4",
            "--loss",
            "constant",
            "--baseline",
            "rloo",
            "--scale-rewards",
            "none",
            "--no-progress",
            "--no-plot",
            "--set",
            "clip_high=0.3",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "held-out accuracy before RL" in out and "summary.json" in out
    import json

    config = json.loads((tmp_path / "summary.json").read_text())["config"]
    assert config["loss_aggregation"] == "constant" and config["baseline"] == "rloo"
    assert config["clip_high"] == 0.3 and config["model"] == str(tiny_path)
    assert config["lr"] == 1e-6  # the GPU defaults apply once a model is given
