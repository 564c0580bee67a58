"""The update phase of a GRPO step: advantages, padded tensors, the fixed (old and reference)
log-probs, then ``num_updates`` passes of ``steps_per_batch`` optimizer steps each."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from rlvr_envs.rollout import Episode

from ..tensors import pad_episodes
from .config import GRPOConfig
from .logprobs import no_grad_logprobs
from .loss import accumulate_gradients, group_advantages
from .policy import Policy


def update_policy(
    policy: Policy,
    kept: Sequence[Sequence[Episode]],
    config: GRPOConfig,
    step: int,
) -> tuple[dict[str, Any], bool]:
    """Train on the kept groups; returns the update half of the step's log line and whether any
    advantage was non-zero (the learning signal)."""
    episodes = [e for group in kept for e in group]
    rewards = torch.tensor([e.reward for e in episodes], dtype=torch.float32)
    group_ids = torch.tensor([g for g, group in enumerate(kept) for _ in group])
    advantages = (
        group_advantages(
            rewards, group_ids, baseline=config.baseline, scale_rewards=config.scale_rewards
        )
        if episodes
        else rewards
    )
    signal = bool(episodes) and bool((advantages != 0).any())
    if not (signal or (episodes and config.beta > 0)):  # the KL term alone still has a gradient
        return {"loss": None, "clip_fraction": None, "kl": None, "entropy": None}, signal
    batch = training_batch(policy, episodes, advantages, config)
    return optimizer_steps(policy, batch, config, step), signal


def training_batch(
    policy: Policy, episodes: Sequence[Episode], advantages: torch.Tensor, config: GRPOConfig
) -> dict[str, torch.Tensor]:
    """Padded episodes with their advantages and the log-probs that stay fixed during updates."""
    device = policy.device
    batch = pad_episodes(episodes, pad_token_id=policy.agent.pad_token_id, device=device)
    batch["advantages"] = advantages.to(device)
    if config.mask_truncated:
        truncated = torch.tensor([e.truncated for e in episodes], device=device)
        batch["loss_mask"][truncated] = 0
    # The sampler's log-probs only measure the sampler/trainer mismatch: the ratio's denominator
    # is recomputed by the trainer's own forward pass.
    batch["sampler_logprobs"] = batch.pop("old_logprobs")
    fixed = dict(
        temperature=config.temperature,
        chunk_size=config.logprob_chunk_size,
        micro_batch_size=config.micro_batch_size,
        autocast=policy.autocast,
    )
    if config.num_updates > 1 or config.steps_per_batch > 1:
        batch["old_logprobs"] = no_grad_logprobs(policy.model, batch, **fixed)
    # else one optimizer step per batch: the old policy is the current one
    if config.beta > 0:
        with policy.reference() as reference:
            batch["ref_logprobs"] = no_grad_logprobs(reference, batch, **fixed)
    return batch


def optimizer_steps(
    policy: Policy, batch: dict[str, torch.Tensor], config: GRPOConfig, step: int
) -> dict[str, Any]:
    """``num_updates`` passes over the batch, each split into ``steps_per_batch`` optimizer steps
    whose gradients accumulate over micro-batches; returns the update's figures."""
    count = len(batch["lengths"])
    sequences_per_update = math.ceil(config.batch_size / config.steps_per_batch)
    totals: dict[str, float] = {}
    grad_norms = []
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
    for _ in range(config.num_updates):
        order = torch.randperm(count, generator=generator).to(policy.device)
        for rows in order.tensor_split(config.steps_per_batch):
            if len(rows) == 0:
                continue
            stats = accumulate_gradients(
                policy.model,
                batch,
                rows,
                config,
                autocast=policy.autocast,
                num_sequences=sequences_per_update,
            )
            grad_norms.append(
                float(torch.nn.utils.clip_grad_norm_(policy.params, config.max_grad_norm))
            )
            policy.optimizer.step()
            policy.scheduler.step()
            policy.optimizer.zero_grad(set_to_none=True)
            for key, value in stats.items():
                totals[key] = totals.get(key, 0.0) + value
    tokens = max(totals["tokens"], 1.0)
    return {
        "loss": totals["loss"] / len(grad_norms),
        "clip_fraction": (totals["clipped_low"] + totals["clipped_high"]) / tokens,
        "clip_low_fraction": totals["clipped_low"] / tokens,
        "clip_high_fraction": totals["clipped_high"] / tokens,
        "kl": totals["kl_sum"] / tokens if config.beta > 0 else None,
        "entropy": totals["entropy_sum"] / tokens,
        "sampler_logprob_diff": totals["sampler_diff_sum"] / tokens,
        "grad_norm": float(np.mean(grad_norms)),
        "train_tokens": int(batch["lengths"].sum()) * config.num_updates,
    }
