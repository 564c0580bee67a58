"""The GRPO training loop, top to bottom (CleanRL style).

    rlvr-envs train                                          # offline default: a tiny policy, CPU
    rlvr-envs train --model Qwen/Qwen2.5-0.5B-Instruct --env rlvr/GSM8K-v0 --device cuda

Every step samples ``group_size`` completions for each of ``batch_size / group_size`` tasks, scores
them with the environment's verifier, turns the rewards into group-relative advantages and takes
clipped policy-gradient steps toward the completions that scored. :func:`train` reads as the run:

1. start: the policy (:mod:`.policy`: model, optimizer, generating agent) and the tasks
   (:mod:`.split`: held-out evaluation tasks, a training stream without them), or a checkpoint;
2. an optional supervised warm-up (:mod:`.warmup`), then the held-out accuracy before RL;
3. the RL loop, one :func:`rl_step` per step: collect (:mod:`.rollouts`) -> old / reference
   log-probs and updates (:mod:`.update`) -> log, evaluate, checkpoint (:func:`log_step`);
4. finish: the accuracy after RL, ``summary.json``, the final model and a PNG of the curves.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlvr_envs.rollout import RolloutRunner

from .checkpoint import load_checkpoint, save_checkpoint
from .config import ConfigError, GRPOConfig, TrainingError
from .logs import append_jsonl, plain, plot_metrics, progress_bar, read_jsonl, write_jsonl
from .policy import (
    Policy,
    build_policy,
    frozen_reference,
    resolve_device,
    resolve_precision,
    seed_everything,
)
from .rollouts import collect_groups, no_signal_message
from .split import TaskSplit, heldout_accuracy
from .update import update_policy


@dataclass
class TrainingRun:
    """One run: its config, where it writes, the policy, the tasks and the loop state."""

    config: GRPOConfig
    log: Callable[[str], None]
    out: Path
    policy: Policy
    probe: Any  # an environment for task lookups (warm-up examples)
    split: TaskSplit
    runner: RolloutRunner
    resuming: bool
    state: dict[str, Any]
    started: float
    timings: dict[str, float] = field(default_factory=lambda: {"warmup_s": 0.0, "eval_s": 0.0})

    @property
    def checkpoint_dir(self) -> Path:
        """Where checkpoints go (``--resume`` reads them back)."""
        return self.out / "checkpoint"

    @property
    def metrics_path(self) -> Path:
        """One JSON line per step."""
        return self.out / "metrics.jsonl"

    def heldout(self) -> dict[str, float]:
        """The held-out accuracy now (greedy), timed into ``eval_s``."""
        started = time.perf_counter()
        result = heldout_accuracy(
            self.runner,
            self.policy.agent,
            self.split,
            self.config.max_new_tokens,
            self.policy.autocast,
        )
        self.timings["eval_s"] += time.perf_counter() - started
        return result

    def checkpoint(self) -> None:
        """Save the weights, optimizer, schedule, loop state and frozen reference."""
        policy = self.policy
        save_checkpoint(
            self.checkpoint_dir,
            policy.model,
            policy.optimizer,
            policy.scheduler,
            self.state,
            policy.frozen_reference,
        )


def train(config: GRPOConfig, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run GRPO as configured; returns the summary (also written to ``output_dir/summary.json``)."""
    with contextlib.ExitStack() as cleanup:  # environment workers stop however the run ends
        run = start_run(config, log, cleanup)
        if not run.resuming and config.warmup_steps:
            warm_up(run)
        saved = run.checkpoint_dir / "reference.pt" if run.resuming else None
        run.policy.frozen_reference = frozen_reference(
            run.policy, config, warmed_up=bool(config.warmup_steps), saved=saved
        )
        before = evaluate_before_rl(run)
        rl_s = rl_loop(run, before)
        return finish(run, rl_s)


def start_run(
    config: GRPOConfig, log: Callable[[str], None], cleanup: contextlib.ExitStack
) -> TrainingRun:
    """Check the config, seed, load the policy, set up the tasks; or resume from a checkpoint."""
    started = time.perf_counter()
    config.check()
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    if precision != "fp32" and device.type == "cpu":
        log(f"note: {precision} on CPU is slow; fp32 is the CPU default")
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    seed_everything(config.seed)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    resuming = config.resume and (out / "checkpoint" / "state.json").exists()
    if not resuming:
        (out / "metrics.jsonl").unlink(missing_ok=True)
        shutil.rmtree(out / "checkpoint", ignore_errors=True)
    policy = build_policy(config, device, precision)
    probe, split, runner = _tasks(config, policy.tokenizer, cleanup)
    run = TrainingRun(config, log, out, policy, probe, split, runner, resuming, {}, started)
    run.state = {"step": 0, "accuracy_before": None, "warmup": None}
    if resuming:
        run.state = load_checkpoint(
            run.checkpoint_dir, policy.model, policy.optimizer, policy.scheduler
        )
        kept = [line for line in read_jsonl(run.metrics_path) if line["step"] <= run.state["step"]]
        write_jsonl(run.metrics_path, kept)
        log(f"resuming from step {run.state['step']} ({run.checkpoint_dir})")
    return run


def _tasks(
    config: GRPOConfig, tokenizer: Any, cleanup: contextlib.ExitStack
) -> tuple[Any, TaskSplit, RolloutRunner]:
    """The environment probe, the held-out split and the rollout runner (kept for the run)."""
    import gymnasium

    import rlvr_envs  # noqa: F401  (registers the rlvr/ environments)

    env_kwargs = dict(config.env_kwargs)
    if config.chat is not None:
        env_kwargs["chat"] = config.chat
    elif config.model is not None and getattr(tokenizer, "chat_template", None):
        env_kwargs.setdefault("chat", True)  # an instruct model: prompts through its template
    try:
        probe = gymnasium.make(config.env, **env_kwargs)
    except gymnasium.error.Error as error:
        raise ConfigError(f"cannot make environment {config.env!r}: {error}") from None
    cleanup.callback(probe.close)
    split = TaskSplit(probe, eval_tasks=config.eval_tasks, eval_seed=config.eval_seed)
    runner = cleanup.enter_context(RolloutRunner(config.env, env_kwargs=env_kwargs))
    return probe, split, runner


def warm_up(run: TrainingRun) -> None:
    """Supervised steps on reference completions (the icing before the cherry)."""
    from .warmup import supervised_warmup, warmup_examples

    config, policy, split = run.config, run.policy, run.split
    started = time.perf_counter()
    before = (
        heldout_accuracy(run.runner, policy.agent, split, config.max_new_tokens, policy.autocast)
        if split.num_eval
        else None
    )
    count = config.warmup_steps * config.warmup_batch_size
    task_ids, _ = split.training(
        min(count, config.warmup_examples), np.random.default_rng([config.seed, 7])
    )
    if task_ids is None:
        raise ConfigError("a supervised warm-up needs an environment with a task source")
    examples = warmup_examples(
        run.probe, task_ids, completion=config.warmup_completion, agent=policy.agent
    )
    result = supervised_warmup(
        policy.model,
        examples,
        steps=config.warmup_steps,
        batch_size=config.warmup_batch_size,
        lr=config.warmup_lr,
        seed=config.seed,
        pad_token_id=policy.agent.pad_token_id,
        autocast=policy.autocast,
        progress=config.progress,
    )
    run.state["warmup"] = {**result, "accuracy_before_warmup": before and before["accuracy"]}
    run.timings["warmup_s"] = time.perf_counter() - started
    run.log(
        f"warm-up: {config.warmup_steps} supervised steps, loss {result['loss_first']:.3f} -> "
        f"{result['loss_last']:.3f}"
        + (f", accuracy {before['accuracy']:.1%} before it" if before else "")
    )


def evaluate_before_rl(run: TrainingRun) -> dict[str, float] | None:
    """The held-out accuracy RL starts from (logged as step 0); None when resuming."""
    if run.resuming or not run.split.num_eval:
        return None
    before = run.heldout()
    run.state["accuracy_before"] = before["accuracy"]
    run.state["reward_before"] = before["reward"]
    run.log(f"held-out accuracy before RL: {before['accuracy']:.1%} ({run.split.num_eval} tasks)")
    append_jsonl(run.metrics_path, {"step": 0, "eval_accuracy": before["accuracy"]})
    return before


def rl_loop(run: TrainingRun, last_eval: dict[str, float] | None) -> float:
    """Every RL step from where the run stands; returns the seconds it took."""
    config = run.config
    started = time.perf_counter()
    no_signal = 0
    with progress_bar(config.steps, run.state["step"], config.progress) as bar:
        for step in range(run.state["step"] + 1, config.steps + 1):
            record, signal, sampled = rl_step(run, step)
            no_signal = 0 if signal else no_signal + 1
            if no_signal >= config.no_signal_patience:
                raise TrainingError(no_signal_message(no_signal, sampled, config))
            last_eval = log_step(run, step, record, last_eval)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(
                    reward=f"{record['reward_mean'] or 0:.3f}",
                    acc=f"{last_eval['accuracy']:.2f}" if last_eval else "-",
                    len=f"{record['length_mean'] or 0:.0f}",
                )
    return time.perf_counter() - started


def rl_step(run: TrainingRun, step: int) -> tuple[dict[str, Any], bool, list[Any]]:
    """Collect, then update; returns the step's log line, whether it had a learning signal, and
    the episodes it sampled."""
    config, policy = run.config, run.policy
    step_started = time.perf_counter()
    rng = np.random.default_rng([config.seed, step])
    collected = collect_groups(run.runner, policy.agent, run.split, config, rng, policy.autocast)
    record = collected.record(step, config.group_size)
    train_started = time.perf_counter()
    update, signal = update_policy(policy, collected.kept, config, step)
    record.update(update)
    if policy.device.type == "cuda":
        torch.cuda.synchronize(policy.device)
    train_s = time.perf_counter() - train_started
    record.update(
        lr=policy.scheduler.get_last_lr()[0],
        train_tokens_per_s=(
            record["train_tokens"] / train_s if record.get("train_tokens") else None
        ),
        time_generate_s=collected.generate_s,
        # Verification not hidden by generation.
        time_verify_s=max(collected.collect_s - collected.generate_s, 0.0),
        time_verify_busy_s=collected.verify_busy_s,
        time_train_s=train_s,
        time_step_s=time.perf_counter() - step_started,
    )
    return record, signal, collected.sampled


def log_step(
    run: TrainingRun,
    step: int,
    record: dict[str, Any],
    last_eval: dict[str, float] | None,
) -> dict[str, float] | None:
    """Evaluate when due, append the step's line, checkpoint when due; the latest evaluation."""
    config = run.config
    if config.eval_every and step % config.eval_every == 0 and step < config.steps:
        last_eval = run.heldout() if run.split.num_eval else None
        record["eval_accuracy"] = last_eval and last_eval["accuracy"]
    append_jsonl(run.metrics_path, record)
    run.state["step"] = step
    if config.save_every and step % config.save_every == 0:
        run.checkpoint()
    return last_eval


def finish(run: TrainingRun, rl_s: float) -> dict[str, Any]:
    """The held-out accuracy after RL, the final model, the curves and ``summary.json``."""
    config, policy, state = run.config, run.policy, run.state
    after = None
    records = read_jsonl(run.metrics_path)
    if run.split.num_eval:
        after = run.heldout()
        if records and records[-1]["step"] == config.steps:
            records[-1]["eval_accuracy"] = after["accuracy"]
        else:
            records.append({"step": config.steps, "eval_accuracy": after["accuracy"]})
        write_jsonl(run.metrics_path, records)
    if config.save_every:
        run.checkpoint()
    final_dir = run.out / "model"
    if config.save_model:
        to_save = policy.model.merge_and_unload() if config.lora_r else policy.model
        to_save.save_pretrained(final_dir)
        policy.tokenizer.save_pretrained(final_dir)
    plot = plot_metrics(records, run.out / "curves.png") if config.plot else None
    summary = {
        "accuracy_before": state.get("accuracy_before"),
        "accuracy_after": after and after["accuracy"],
        "reward_before": state.get("reward_before"),
        "reward_after": after and after["reward"],
        "eval_tasks": run.split.num_eval,
        "eval_split": run.split.mode,
        "warmup": state.get("warmup"),
        "steps": config.steps,
        "total_s": time.perf_counter() - run.started,
        "rl_s": rl_s,
        **run.timings,
        "device": str(policy.device),
        "precision": policy.precision,
        "decode": getattr(policy.agent, "decode_mode", "dynamic"),
        "decode_fallback": getattr(policy.agent, "fallback_reason", None),
        "num_threads": torch.get_num_threads(),
        "model_dir": str(final_dir) if config.save_model else None,
        "metrics": str(run.metrics_path),
        "plot": str(plot) if plot else None,
        "config": plain(asdict(config)),
    }
    (run.out / "summary.json").write_text(json.dumps(summary, indent=2))
    if after is not None:
        run.log(
            f"held-out accuracy: {summary['accuracy_before']:.1%} before RL -> "
            f"{after['accuracy']:.1%} after {config.steps} steps "
            f"({summary['total_s']:.0f} s in all, RL {rl_s:.0f} s)"
        )
    return summary
