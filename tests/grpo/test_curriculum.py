"""The trainer on a curriculum (rlvr/Curriculum-v0): no task source, so the warm-up draws from
seeded resets, and each step logs the difficulty of the tasks it sampled."""

from __future__ import annotations

import json

from agents.grpo import train

from .conftest import quick_config


def test_a_curriculum_warms_up_trains_and_logs_its_difficulty(tmp_path, tiny_path):
    # Statistics named for this test alone, so no other curriculum in the process moves them.
    env_kwargs = {"template": "{prompt}", "window": 8, "stats": f"grpo-test-{tmp_path.name}"}
    config = quick_config(
        tmp_path, tiny_path, env="rlvr/Curriculum-v0", env_kwargs=env_kwargs, steps=2
    )
    config.warmup_steps, config.warmup_batch_size = 3, 16
    config.warmup_lr, config.warmup_completion = 3e-3, "{answer}"
    config.dynamic_sampling, config.no_signal_patience = False, 5
    messages: list[str] = []
    summary = train(config, log=messages.append)

    said = [m for m in messages if "has no task source" in m]
    assert said and "seeded resets of rlvr/Arithmetic-v1 at level=[1, 2, 3, 4, 5]" in said[0]
    assert summary["warmup"]["loss_last"] < summary["warmup"]["loss_first"]
    steps = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in steps if "reward_mean" in r]
    assert len(steps) == 2
    for record in steps:
        counts = record["difficulty_counts"]
        assert sum(counts.values()) == record["groups_sampled"] * config.group_size
        assert set(counts) <= {"1", "2", "3", "4", "5"}
        assert set(record["difficulty_reward"]) <= set(counts)
        assert all(0.0 <= r <= 1.0 for r in record["difficulty_reward"].values())
        assert record["difficulty_min"] <= record["difficulty_mean"] <= record["difficulty_max"]
    held = {json.loads(x)["prompt"] for x in (tmp_path / "heldout.jsonl").read_text().splitlines()}
    seen = (tmp_path / "train_prompts.jsonl").read_text().splitlines()
    trained = {json.loads(x)["prompt"] for x in seen}
    assert 0 < len(held) <= 8 and trained and not held & trained  # 8 seeds, maybe repeats
    assert summary["prompts"]["overlap"] == 0
