"""Short end-to-end runs of the trainer on CPU: logs, reproducibility, resume, faults, options."""

from __future__ import annotations

import json

import pytest

from agents.grpo import train

from .conftest import quick_config

TIMING_KEYS = {
    "gen_tokens_per_s",
    "train_tokens_per_s",
    "time_collect_s",
    "time_generate_s",
    "time_env_wait_s",
    "time_verify_busy_s",
    "time_reset_busy_s",
    "time_overlap_s",
    "time_train_s",
    "time_step_s",
}
STEP_KEYS = {
    "step",
    "reward_mean",
    "reward_std",
    "zero_variance_fraction",
    "length_mean",
    "length_max",
    "length_reward_corr",
    "clip_fraction",
    "kl",
    "entropy",
    "sampler_logprob_diff",
    "loss",
    "grad_norm",
    "faults",
    "groups_kept",
    "sampling_rounds",
} | TIMING_KEYS


def _records(directory) -> list[dict]:
    return [json.loads(line) for line in (directory / "metrics.jsonl").read_text().splitlines()]


def _without_timings(records: list[dict]) -> list[dict]:
    """Records without wall-clock figures, and without the sampler log-prob difference: which
    completions share a generation sub-batch depends on thread timing, and the padding of a
    batch moves log-probs by ~1e-8 (the sampled tokens themselves are seeded per sample)."""
    noisy = TIMING_KEYS | {"sampler_logprob_diff"}
    return [{k: v for k, v in r.items() if k not in noisy} for r in records]


def _digits(tmp_path, tiny_path, **overrides):
    values = dict(env="grpotest/Digits-v0", env_kwargs={}, max_new_tokens=5, eval_tasks=6)
    values.update(overrides)
    return quick_config(tmp_path, tiny_path, **values)


def test_a_short_run_logs_every_step_and_writes_the_summary(tmp_path, tiny_path):
    summary = train(_digits(tmp_path, tiny_path, steps=3, plot=True))
    records = _records(tmp_path)
    steps = [r for r in records if "reward_mean" in r]
    assert [r["step"] for r in steps] == [1, 2, 3]
    for record in steps:
        assert STEP_KEYS <= record.keys()
        assert record["length_max"] <= 5 and record["time_step_s"] > 0
        assert record["sampler_logprob_diff"] < 1e-4  # fp32 on CPU: sampler == trainer
    assert records[0] == {"step": 0, "eval_accuracy": summary["accuracy_before"]}
    assert steps[-1]["eval_accuracy"] == summary["accuracy_after"]
    written = json.loads((tmp_path / "summary.json").read_text())
    assert {"accuracy_before", "accuracy_after", "total_s", "config"} <= written.keys()
    assert (tmp_path / "curves.png").stat().st_size > 1000
    assert (tmp_path / "model" / "config.json").exists()


def test_same_seed_same_run(tmp_path, tiny_path):
    first = train(_digits(tmp_path / "a", tiny_path, steps=3))
    second = train(_digits(tmp_path / "b", tiny_path, steps=3))
    assert _without_timings(_records(tmp_path / "a")) == _without_timings(_records(tmp_path / "b"))
    assert first["accuracy_after"] == second["accuracy_after"]
    third = train(_digits(tmp_path / "c", tiny_path, steps=3, seed=1))
    assert _without_timings(_records(tmp_path / "c")) != _without_timings(_records(tmp_path / "a"))
    assert third["steps"] == 3


def test_resume_continues_exactly_where_it_stopped(tmp_path, tiny_path, monkeypatch):
    """Weights, optimizer, learning-rate schedule and the frozen KL reference all come back."""
    import agents.grpo.loop as loop

    common = dict(eval_tasks=0, beta=0.05, lr=1e-2, lr_schedule="linear", steps=4)
    train(_digits(tmp_path / "straight", tiny_path, **common))

    save = loop.save_checkpoint

    def crash_after_step_two(directory, model, optimizer, scheduler, state, reference=None):
        save(directory, model, optimizer, scheduler, state, reference)
        if state["step"] == 2:
            raise KeyboardInterrupt  # the machine goes away

    monkeypatch.setattr(loop, "save_checkpoint", crash_after_step_two)
    with pytest.raises(KeyboardInterrupt):
        train(_digits(tmp_path / "resumed", tiny_path, save_every=1, **common))
    monkeypatch.setattr(loop, "save_checkpoint", save)
    train(_digits(tmp_path / "resumed", tiny_path, save_every=1, resume=True, **common))
    assert _without_timings(_records(tmp_path / "resumed")) == _without_timings(
        _records(tmp_path / "straight")
    )


def test_grading_faults_are_dropped_and_counted(tmp_path, tiny_path):
    config = quick_config(tmp_path, tiny_path, env="grpotest/Flaky-v0", env_kwargs={}, steps=2)
    config.warmup_steps = 20
    config.warmup_lr = 3e-3
    config.warmup_completion = "{answer}"
    config.dynamic_sampling = False
    config.no_signal_patience = 5
    train(config)
    steps = [r for r in _records(tmp_path) if "faults" in r]
    # Warm-up teaches sums, so answers 10-18 start with '1' and hit the simulated fault.
    assert sum(r["faults"] for r in steps) > 0


def test_ppo_epochs_minibatches_and_kl_to_a_frozen_copy(tmp_path, tiny_path):
    config = _digits(
        tmp_path,
        tiny_path,
        steps=2,
        num_updates=2,
        steps_per_batch=2,
        micro_batch_size=3,
        beta=0.1,
        lr=3e-2,
        loss_aggregation="sequence",
    )
    train(config)
    steps = [r for r in _records(tmp_path) if "kl" in r]
    assert all(r["kl"] is not None and r["kl"] >= 0 for r in steps)
    # Four optimizer steps per batch at a high learning rate move the ratio off 1.
    assert any(r["clip_fraction"] > 0 for r in steps)
    assert steps[-1]["kl"] > 0


def test_masking_truncated_completions(tmp_path, tiny_path):
    # max_new_tokens=1: every completion that does not stop at once is truncated.
    config = _digits(tmp_path, tiny_path, steps=2, max_new_tokens=1, mask_truncated=True)
    config.no_signal_patience = 5
    train(config)
    steps = [r for r in _records(tmp_path) if "reward_mean" in r]
    assert all(r["truncated_fraction"] > 0.9 for r in steps)
    assert all(r["loss"] in (None, 0.0) for r in steps)  # nothing left to learn from


def test_lora_with_the_adapter_as_reference(tmp_path, tiny_path):
    config = _digits(tmp_path, tiny_path, steps=2, lora_r=4, lora_alpha=8, beta=0.05, lr=1e-2)
    config.lora_target_modules = ["q_proj", "v_proj"]
    summary = train(config)
    steps = [r for r in _records(tmp_path) if "kl" in r]
    assert steps[0]["kl"] == pytest.approx(0.0, abs=1e-6)  # adapter starts as the identity
    assert steps[-1]["kl"] > 0
    assert (tmp_path / "model" / "config.json").exists()  # merged into a plain model
    assert summary["config"]["lora_r"] == 4


def test_warmup_then_rl_on_arithmetic(tmp_path, tiny_path):
    config = quick_config(tmp_path, tiny_path, steps=2, eval_tasks=20)
    config.warmup_steps = 100
    config.warmup_lr = 3e-3
    config.warmup_completion = "{answer}"
    summary = train(config)
    assert summary["warmup"]["loss_last"] < summary["warmup"]["loss_first"]
    assert summary["warmup"]["accuracy_before_warmup"] == 0.0
    assert summary["accuracy_before"] > 0  # the warm-up taught some sums
