"""GRPO-family reinforcement learning from verifiable rewards.

    from agents.grpo import GRPOConfig, default_run_config, train
    summary = train(default_run_config(steps=20, output_dir="runs/quick"))

The modules name what they hold:

- :mod:`.config`: :class:`GRPOConfig` (every hyper-parameter), the offline default run, errors;
- :mod:`.loop`: :func:`train`, the loop top to bottom over named phases;
- :mod:`.rollouts`: the collect phase (the rollout engine, faults dropped, dynamic sampling);
- :mod:`.update`: advantages, old / reference log-probs, optimizer steps;
- :mod:`.loss`: advantages, token weights, the clipped surrogate + KL, gradient accumulation;
- :mod:`.logprobs`: completion log-probs, the model's own logits (checked), in chunks;
- :mod:`.policy`: device, precision, model (LoRA), optimizer, the generating agent, the reference;
- :mod:`.decode`: the static-cache / CUDA-graph decoder used on GPU;
- :mod:`.split`: held-out prompts, the training stream without them, held-out accuracy;
- :mod:`.warmup`: the supervised warm-up; :mod:`.checkpoint`;
- :mod:`.logs`: ``metrics.jsonl``, curves, progress; :mod:`.reporters`: TensorBoard, W&B.
"""

from __future__ import annotations

from .checkpoint import load_checkpoint, save_checkpoint
from .config import (
    DEFAULT_RUN,
    ConfigError,
    GRPOConfig,
    TrainingError,
    config_from_dict,
    default_run_config,
    run_config,
)
from .logprobs import completion_logprobs, rows_of
from .loop import train
from .loss import accumulate_gradients, group_advantages, policy_loss, token_weights
from .policy import load_policy, resolve_device, resolve_precision
from .split import TaskSplit, heldout_accuracy

__all__ = [
    "DEFAULT_RUN",
    "ConfigError",
    "GRPOConfig",
    "TaskSplit",
    "TrainingError",
    "accumulate_gradients",
    "completion_logprobs",
    "config_from_dict",
    "default_run_config",
    "group_advantages",
    "heldout_accuracy",
    "load_checkpoint",
    "load_policy",
    "policy_loss",
    "resolve_device",
    "resolve_precision",
    "rows_of",
    "run_config",
    "save_checkpoint",
    "token_weights",
    "train",
]
