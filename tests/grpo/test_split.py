"""Held-out means unseen: the split keeps prompts apart, not seeds or ids, and a run writes both
sets of prompts out (heldout.jsonl, train_prompts.jsonl), disjoint."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

from agents.grpo import ConfigError, TaskSplit, train
from rlvr_envs import register_dataset_env

from .conftest import quick_config


def _jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_run_never_trains_on_a_heldout_prompt(tmp_path, tiny_path, monkeypatch):
    """One-digit sums have 100 distinct questions and each has many seeds: 20 held out by prompt
    leave 80 to train on, and everything the warm-up and RL saw is among those 80."""
    import agents.grpo.rollouts as rollouts
    import agents.grpo.warmup as warmup

    seen_ids: list[str] = []
    examples, collect = warmup.warmup_examples, rollouts.collect_groups

    def recording_examples(env, resets, **kwargs):
        resets = list(resets)
        seen_ids.extend(r["options"].get("task_id") or r["options"]["task"].id for r in resets)
        return examples(env, resets, **kwargs)

    def recording_collect(*args, **kwargs):
        collected = collect(*args, **kwargs)
        seen_ids.extend(e.task_id for e in collected.sampled)
        return collected

    monkeypatch.setattr(warmup, "warmup_examples", recording_examples)
    monkeypatch.setattr(rollouts, "collect_groups", recording_collect)
    import agents.grpo.loop as loop

    monkeypatch.setattr(loop, "collect_groups", recording_collect)
    config = quick_config(tmp_path, tiny_path, steps=3, eval_tasks=20)
    config.warmup_steps, config.warmup_batch_size = 5, 64
    config.warmup_lr, config.warmup_completion = 3e-3, "{answer}"
    summary = train(config, log=lambda message: None)

    heldout, trained = _jsonl(tmp_path / "heldout.jsonl"), _jsonl(tmp_path / "train_prompts.jsonl")
    held_prompts = {r["prompt"] for r in heldout}
    train_prompts = {r["prompt"] for r in trained}
    assert len(heldout) == len(held_prompts) == 20
    assert len(trained) == len(train_prompts) == 80  # the warm-up alone draws 320 tasks
    assert not held_prompts & train_prompts
    source = gym.make("rlvr/Arithmetic-v1", level=1).unwrapped.source
    seen = {source.get(task_id).prompt for task_id in seen_ids}
    assert seen == train_prompts  # the file lists exactly what training saw
    assert summary["prompts"] == {"heldout_prompts": 20, "train_prompts": 80, "overlap": 0}


def test_a_task_space_too_small_to_hold_out_is_refused(tmp_path, tiny_path):
    with pytest.raises(ConfigError, match="only 100 distinct prompts"):
        train(quick_config(tmp_path, tiny_path, eval_tasks=300))
    env = gym.make("rlvr/Arithmetic-v1", level=1)
    split = TaskSplit(env, eval_tasks=100, eval_seed=0)  # every question held out
    with pytest.raises(ConfigError, match="whose prompt is not held out"):
        split.training(4, np.random.default_rng(0))


def test_dataset_duplicates_of_a_heldout_prompt_are_not_trained_on():
    rows = [{"q": f"What is {i % 10} + 1?", "a": str(i % 10 + 1)} for i in range(40)]
    if "grpotest/Repeats-v0" not in gym.registry:
        register_dataset_env("grpotest/Repeats-v0", data=rows, prompt_field="q", answer_field="a")
    split = TaskSplit(gym.make("grpotest/Repeats-v0"), eval_tasks=3, eval_seed=0)
    assert split.mode == "dataset" and len(split.eval_ids) == 3
    source = gym.make("grpotest/Repeats-v0").unwrapped.source
    held = {source.get(i).prompt for i in split.eval_ids}
    assert len(split.train_ids) == 28  # 4 copies of each of the 7 other questions
    ids, _ = split.training(200, np.random.default_rng(0))
    assert not held & {source.get(i).prompt for i in ids}
    assert not held & set(split.seen) and len(split.seen) == 7
    with pytest.raises(ConfigError, match="leaves none to train on"):
        TaskSplit(gym.make("grpotest/Repeats-v0"), eval_tasks=10, eval_seed=0)


class NoSourceEnv(gym.Env):
    """A text environment without a task source: prompts only show up at reset."""

    def __init__(self, chat: bool = False) -> None:
        from rlvr_envs.spaces import UnicodeText

        self.observation_space = self.action_space = UnicodeText(max_length=64)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.n = int(self.np_random.integers(6))
        return f"Say {self.n}.", {}

    def step(self, action):
        return "", float(action.strip() == str(self.n)), True, False, {}


def test_without_a_task_source_heldout_prompts_met_in_training_are_dropped(tmp_path, tiny_path):
    if "grpotest/NoSource-v0" not in gym.registry:
        gym.register("grpotest/NoSource-v0", NoSourceEnv)
    config = quick_config(tmp_path, tiny_path, env="grpotest/NoSource-v0", env_kwargs={})
    config.eval_tasks, config.steps, config.dynamic_sampling = 4, 3, False
    config.no_signal_patience = 5
    train(config, log=lambda message: None)
    held = {r["prompt"] for r in _jsonl(tmp_path / "heldout.jsonl")}
    trained = {r["prompt"] for r in _jsonl(tmp_path / "train_prompts.jsonl")}
    assert held and trained and not held & trained
    steps = _jsonl(tmp_path / "metrics.jsonl")
    assert sum(r.get("groups_heldout_dropped", 0) for r in steps) > 0  # 6 prompts: they meet
