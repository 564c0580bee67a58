"""The ``rlvr-envs train`` subcommand (plugged into the command line by :mod:`agents.plugin`).

Torch and the trainer are imported only when the subcommand runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from rlvr_envs.commands import Command, add_key_value_option

# Flag destinations that map one to one onto GRPOConfig fields.
_FIELDS = {
    "model": "model",
    "env": "env",
    "output_dir": "output_dir",
    "steps": "steps",
    "batch_size": "batch_size",
    "group_size": "group_size",
    "max_new_tokens": "max_new_tokens",
    "temperature": "temperature",
    "lr": "lr",
    "device": "device",
    "precision": "precision",
    "seed": "seed",
    "loss": "loss_aggregation",
    "baseline": "baseline",
    "scale_rewards": "scale_rewards",
    "beta": "beta",
    "num_updates": "num_updates",
    "micro_batch_size": "micro_batch_size",
    "lora_r": "lora_r",
    "warmup_steps": "warmup_steps",
    "eval_tasks": "eval_tasks",
    "eval_every": "eval_every",
    "save_every": "save_every",
    "threads": "num_threads",
    "generation_batch_size": "generation_batch_size",
    "report_to": "report_to",
}


def _train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="hub id or local path of a causal LM (default: tiny, offline)")
    p.add_argument("--env", help="environment id (default: rlvr/Arithmetic-v1, level 1)")
    add_key_value_option(
        p, "--env-arg", "KEY=VALUE", "environment keyword argument (repeatable; JSON values)"
    )
    p.add_argument("--output-dir", "-o", help="where metrics.jsonl, summary.json, model/ go")
    p.add_argument("--steps", type=int, help="RL steps")
    p.add_argument("--batch-size", type=int, help="completions per step (a multiple of G)")
    p.add_argument("--group-size", "-G", type=int, help="completions per task (G >= 2)")
    p.add_argument("--max-new-tokens", type=int)
    p.add_argument("--temperature", type=float)
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--precision", choices=("auto", "bf16-mixed", "bf16", "fp32"))
    p.add_argument(
        "--allow-bf16-weights",
        action="store_true",
        help="accept --precision bf16 (bf16 weights: small updates round away)",
    )
    p.add_argument("--seed", type=int)
    p.add_argument(
        "--loss",
        choices=("token", "sequence", "constant"),
        help="aggregation: token (DAPO), sequence (GRPO), constant (Dr. GRPO)",
    )
    p.add_argument("--baseline", choices=("mean", "rloo", "none"))
    p.add_argument("--scale-rewards", choices=("group", "batch", "none"))
    p.add_argument("--beta", type=float, help="KL (k3) penalty weight (0: no reference)")
    p.add_argument("--num-updates", type=int, help="passes over each batch (PPO epochs)")
    p.add_argument("--micro-batch-size", type=int, help="sequences per forward/backward")
    p.add_argument("--lora-r", type=int, help="LoRA rank (0: full fine-tuning)")
    p.add_argument("--warmup-steps", type=int, help="supervised warm-up steps before RL")
    p.add_argument("--eval-tasks", type=int, help="held-out evaluation tasks (0: none)")
    p.add_argument("--eval-every", type=int, help="evaluate every N steps too")
    p.add_argument("--save-every", type=int, help="checkpoint every N steps")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument(
        "--generation-batch-size",
        type=int,
        help="completions per generation call; later ones generate while earlier are verified",
    )
    p.add_argument(
        "--report-to",
        metavar="LIST",
        help="metrics go to metrics.jsonl and also to: tensorboard, wandb (comma-separated)",
    )
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT_DIR/checkpoint")
    p.add_argument("--mask-truncated", action="store_true", help="no loss on cut completions")
    p.add_argument("--no-dynamic-sampling", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--config", help="a JSON file of GRPOConfig fields (flags override it)")
    add_key_value_option(
        p,
        "--set",
        "FIELD=VALUE",
        "any GRPOConfig field (repeatable; JSON values), e.g. --set clip_high=0.28",
    )


def config_values(args: argparse.Namespace) -> dict[str, Any]:
    """GRPOConfig fields from the parsed flags: ``--config`` file, then flags, then ``--set``."""
    values: dict[str, Any] = {}
    if args.config:
        with open(args.config, encoding="utf-8") as handle:
            values.update(json.load(handle))
    flags = {field: getattr(args, dest) for dest, field in _FIELDS.items()}
    values.update({k: v for k, v in flags.items() if v is not None})
    if args.env_arg:
        values["env_kwargs"] = {**dict(values.get("env_kwargs") or {}), **dict(args.env_arg)}
    if args.resume:
        values["resume"] = True
    if args.mask_truncated:
        values["mask_truncated"] = True
    if args.allow_bf16_weights:
        values["allow_bf16_weights"] = True
    for name, off in (
        ("dynamic_sampling", args.no_dynamic_sampling),
        ("progress", args.no_progress),
        ("plot", args.no_plot),
    ):
        if off:
            values[name] = False
    values.update(dict(args.set or []))
    return values


def _cmd_train(args: argparse.Namespace) -> int:
    try:
        from transformers.utils import logging as transformers_logging

        from .grpo import ConfigError, TrainingError, run_config, train
    except ImportError as error:
        print(
            f"rlvr-envs train needs the training extras (pip install 'rlvr-envs[agents]'): {error}",
            file=sys.stderr,
        )
        return 2
    values = config_values(args)
    transformers_logging.disable_progress_bar()  # no "Loading weights" bars around the run's own
    try:
        config = run_config(values)
        train(config)
    except (ConfigError, TrainingError) as error:
        print(f"rlvr-envs train: {error}", file=sys.stderr)
        return 2
    # train() has printed the held-out accuracy before and after RL.
    print(f"summary: {os.path.join(config.output_dir, 'summary.json')}")
    return 0


TRAIN = Command(
    "train",
    "GRPO training (offline default: a tiny policy learns arithmetic on CPU)",
    _train_arguments,
    _cmd_train,
    description="GRPO-family RL on an environment's verifier. With no --model, a tiny "
    "policy is built offline and trained on one-digit sums on CPU in a few minutes; with "
    "--model (any Hugging Face causal LM) and --env, a real model trains, bf16 on a GPU.",
)
