"""The GRPO training loop, top to bottom (CleanRL style).

    rlvr-envs train                                          # offline default: a tiny policy, CPU
    rlvr-envs train --model Qwen/Qwen2.5-0.5B-Instruct --env rlvr/GSM8K-v1 --device cuda

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
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlvr_envs.rollout import RolloutRunner

from .checkpoint import load_checkpoint, save_checkpoint
from .config import ConfigError, GRPOConfig, TrainingError
from .logprobs import logit_head, sampler_mismatch_warning
from .logs import Progress, append_jsonl, plain, plot_metrics, read_jsonl, write_jsonl
from .policy import (
    PURE_BF16_WARNING,
    Policy,
    build_policy,
    frozen_reference,
    resolve_device,
    resolve_precision,
    seed_everything,
)
from .reporters import Reporters
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
    reporters: Reporters
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

    def record(self, line: dict[str, Any]) -> None:
        """Append one line to ``metrics.jsonl`` and send it to the other reporters."""
        append_jsonl(self.metrics_path, line)
        self.reporters.log(line)

    def checkpoint(self) -> None:
        """Save the weights, optimizer, schedule, loop state and frozen reference (and the
        prompts seen so far, which a resumed run reads back)."""
        self.split.write(self.out)
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
    if precision == "bf16":
        warnings.warn(PURE_BF16_WARNING, stacklevel=2)
        log(f"warning: {PURE_BF16_WARNING}")
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
    head = logit_head(policy.model)  # refuses a model whose logits it cannot reproduce
    if head.mode != "head":
        log(
            f"note: log-probs through the model's forward ({head.mode}): its logits are not "
            "the output layer's alone"
        )
    probe, split, runner = _tasks(config, policy.tokenizer, cleanup)
    reporters = Reporters(config.report_to, out, plain(asdict(config)), config.wandb_project)
    cleanup.callback(reporters.close)
    run = TrainingRun(
        config, log, out, policy, probe, split, runner, resuming, {}, started, reporters
    )
    run.state = {"step": 0, "accuracy_before": None, "warmup": None}
    if resuming:
        run.state = load_checkpoint(
            run.checkpoint_dir, policy.model, policy.optimizer, policy.scheduler
        )
        kept = [line for line in read_jsonl(run.metrics_path) if line["step"] <= run.state["step"]]
        write_jsonl(run.metrics_path, kept)
        split.restore_seen(out)
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
    runner = cleanup.enter_context(
        RolloutRunner(
            config.env,
            env_kwargs=env_kwargs,
            workers=config.env_workers,
            executor=config.env_executor,
        )
    )
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
    if config.warmup_examples:
        count = min(count, config.warmup_examples)
    task_ids, seed = split.training(count, np.random.default_rng([config.seed, 7]))
    if task_ids is not None:
        resets = [
            {"options": {"task": split.last_tasks[i]} if i in split.last_tasks else {"task_id": i}}
            for i in task_ids
        ]
        examples = warmup_examples(
            run.probe, resets, completion=config.warmup_completion, agent=policy.agent
        )
    else:
        examples = _examples_from_resets(run, count, seed)
    result = supervised_warmup(
        policy.model,
        examples,
        steps=config.warmup_steps,
        batch_size=config.warmup_batch_size,
        lr=config.warmup_lr,
        lr_schedule=config.warmup_lr_schedule,
        seed=config.seed,
        pad_token_id=policy.agent.pad_token_id,
        autocast=policy.autocast,
        progress=config.progress,
        log=run.log,
    )
    run.state["warmup"] = {**result, "accuracy_before_warmup": before and before["accuracy"]}
    run.timings["warmup_s"] = time.perf_counter() - started
    run.log(
        f"warm-up: {config.warmup_steps} supervised steps, loss {result['loss_first']:.3f} -> "
        f"{result['loss_last']:.3f}"
        + (f", accuracy {before['accuracy']:.1%} before it" if before else "")
    )


def _examples_from_resets(run: TrainingRun, count: int, seed: int) -> list[Any]:
    """Warm-up examples for an environment without a task source (a curriculum, a remote
    environment): whatever seeded resets give, minus held-out prompts; a curriculum's examples
    come from each of its difficulty values in turn, not only the one it starts at."""
    from .warmup import warmup_environments, warmup_examples

    envs, described = warmup_environments(run.probe)
    run.log(
        f"warm-up: {run.config.env} has no task source, so its {count} examples come from "
        f"seeded resets of {described} (held-out prompts skipped)"
    )
    examples: list[Any] = []
    try:
        for k, env in enumerate(envs):
            resets = [{"seed": seed + j} for j in range(k, count, len(envs))]
            examples += warmup_examples(
                env,
                resets,
                completion=run.config.warmup_completion,
                agent=run.policy.agent,
                keep=run.split.admit,
            )
    finally:
        for env in envs:
            if env is not run.probe:
                env.close()
    return examples


def evaluate_before_rl(run: TrainingRun) -> dict[str, float] | None:
    """The held-out accuracy RL starts from (logged as step 0); None when resuming."""
    if run.resuming or not run.split.num_eval:
        return None
    before = run.heldout()
    run.state["accuracy_before"] = before["accuracy"]
    run.state["reward_before"] = before["reward"]
    run.log(f"held-out accuracy before RL: {before['accuracy']:.1%} ({run.split.num_eval} tasks)")
    run.record({"step": 0, "eval_accuracy": before["accuracy"]})
    return before


def rl_loop(run: TrainingRun, last_eval: dict[str, float] | None) -> float:
    """Every RL step from where the run stands; returns the seconds it took."""
    config = run.config
    started = time.perf_counter()
    no_signal = 0
    with Progress(
        config.steps, run.state["step"], config.progress, "GRPO step", write=run.log
    ) as progress:
        for step in range(run.state["step"] + 1, config.steps + 1):
            record, signal, sampled = rl_step(run, step)
            no_signal = 0 if signal else no_signal + 1
            if no_signal >= config.no_signal_patience:
                raise TrainingError(no_signal_message(no_signal, sampled, config))
            last_eval = log_step(run, step, record, last_eval)
            progress.update(
                reward=f"{record['reward_mean'] or 0:.3f}",
                acc=f"{last_eval['accuracy']:.3f}" if last_eval else None,
                len=f"{record['length_mean'] or 0:.1f}",
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
        **collected.timings(),
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
    if step == 1:
        warning = sampler_mismatch_warning(record.get("sampler_logprob_diff"), run.policy.precision)
        if warning:
            warnings.warn(warning, stacklevel=2)
            run.log(f"warning: {warning}")
    run.record(record)
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
        run.reporters.log({"step": config.steps, "eval_accuracy": after["accuracy"]})
    if config.save_every:
        run.checkpoint()
    final_dir = run.out / "model"
    if config.save_model:
        to_save = policy.model.merge_and_unload() if config.lora_r else policy.model
        to_save.save_pretrained(final_dir)
        policy.tokenizer.save_pretrained(final_dir)
    plot = plot_metrics(records, run.out / "curves.png") if config.plot else None
    prompts = run.split.write(run.out)
    summary = {
        "accuracy_before": state.get("accuracy_before"),
        "accuracy_after": after and after["accuracy"],
        "reward_before": state.get("reward_before"),
        "reward_after": after and after["reward"],
        "eval_tasks": run.split.num_eval,
        "eval_split": run.split.mode,
        "prompts": prompts,
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
    run.log(
        f"prompts: {prompts['heldout_prompts']} held out, {prompts['train_prompts']} distinct seen "
        f"in training (warm-up and RL), {prompts['overlap']} in both "
        f"(heldout.jsonl, train_prompts.jsonl)"
    )
    if after is not None:
        run.log(
            f"held-out accuracy: {summary['accuracy_before']:.1%} before RL -> "
            f"{after['accuracy']:.1%} after {config.steps} steps "
            f"({summary['total_s']:.0f} s in all, RL {rl_s:.0f} s)"
        )
    return summary
