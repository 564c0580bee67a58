"""The GRPO loss, piece by piece, each tested against a hand-computed value.

Advantages (``baseline`` mean / rloo / none, ``scale_rewards`` group / batch / none), aggregation
(``loss_aggregation`` token = DAPO, sequence = original GRPO, constant = Dr. GRPO, always
normalised over the whole optimizer step, so that gradient accumulation does not change the
update), clip-higher, the k3 KL penalty, and one optimizer step's gradients accumulated over
micro-batches.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import torch

from .config import GRPOConfig
from .logprobs import completion_logprobs, rows_of


def group_advantages(
    rewards: torch.Tensor,
    group_ids: torch.Tensor,
    *,
    baseline: str = "mean",
    scale_rewards: str = "group",
    eps: float = 1e-4,
) -> torch.Tensor:
    """Advantages of episodes from their rewards and groups (episodes of one task).

    ``mean``: r - mean(group) (GRPO); ``rloo``: r - mean(the group's other rewards); ``none``: r.
    Scaled by the group's standard deviation (``group``), the batch's (``batch``) or not at all
    (``none``, Dr. GRPO); standard deviations are unbiased (n - 1), as ``torch.std``.
    """
    rewards = rewards.float()
    advantages = torch.empty_like(rewards)
    for group in torch.unique(group_ids):
        members = group_ids == group
        r = rewards[members]
        if baseline == "mean":
            centred = r - r.mean()
        elif baseline == "rloo":
            centred = r - (r.sum() - r) / max(len(r) - 1, 1)
        else:
            centred = r.clone()
        if scale_rewards == "group":
            centred = centred / (r.std() + eps) if len(r) > 1 else centred
        advantages[members] = centred
    if scale_rewards == "batch" and len(rewards) > 1:
        advantages = advantages / (rewards.std() + eps)
    return advantages


def token_weights(
    loss_mask: torch.Tensor, aggregation: str, *, max_new_tokens: int, num_sequences: int
) -> torch.Tensor:
    """Per-token weights of one optimizer step's loss, 0 off the loss mask.

    The step's loss is ``sum(weights * per_token_loss)`` over all its sequences, so the normaliser
    belongs to the whole optimizer step and splitting it into micro-batches changes nothing:
    ``token`` divides by the step's completion tokens (DAPO), ``sequence`` averages each sequence
    over its own tokens and then over the step's sequences (GRPO), ``constant`` divides by
    ``num_sequences * max_new_tokens``, a number that does not depend on the samples (Dr. GRPO).
    """
    mask = loss_mask.float()
    if aggregation == "token":
        return mask / mask.sum().clamp(min=1)
    if aggregation == "sequence":
        lengths = mask.sum(dim=-1, keepdim=True)
        sequences = (lengths > 0).sum().clamp(min=1)
        return mask / lengths.clamp(min=1) / sequences
    if aggregation == "constant":
        return mask / float(num_sequences * max_new_tokens)
    raise ValueError(f"unknown loss aggregation {aggregation!r}")


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    weights: torch.Tensor,
    *,
    clip_low: float,
    clip_high: float,
    beta: float = 0.0,
    ref_logprobs: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The clipped surrogate plus ``beta`` times the k3 KL estimate, summed with ``weights``.

    Per token: ``-min(ratio * A, clip(ratio, 1 - clip_low, 1 + clip_high) * A)`` with
    ``ratio = exp(logprobs - old_logprobs)``, plus ``beta * (exp(ref - logp) - (ref - logp) - 1)``.
    Returns the loss and token counts for the logs (clipped tokens, KL sum, tokens).
    """
    mask = weights != 0
    ratio = torch.exp(logprobs - old_logprobs)
    adv = advantages[:, None].to(ratio.dtype)
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1 - clip_low, 1 + clip_high) * adv
    per_token = -torch.minimum(unclipped, clipped)
    kl = None
    if beta > 0:
        if ref_logprobs is None:
            raise ValueError("beta > 0 needs reference log-probs")
        delta = ref_logprobs - logprobs
        kl = torch.exp(delta) - delta - 1
        per_token = per_token + beta * kl
    loss = (per_token * weights).sum()
    with torch.no_grad():
        low = (ratio < 1 - clip_low) & (adv < 0) & mask
        high = (ratio > 1 + clip_high) & (adv > 0) & mask
        stats = {
            "tokens": float(mask.sum()),
            "clipped_low": float(low.sum()),
            "clipped_high": float(high.sum()),
            "kl_sum": float((kl * mask).sum()) if kl is not None else 0.0,
        }
    return loss, stats


def accumulate_gradients(
    model: Any,
    batch: Mapping[str, torch.Tensor],
    rows: torch.Tensor,
    config: GRPOConfig,
    *,
    autocast: Any = contextlib.nullcontext,
    num_sequences: int | None = None,
) -> dict[str, float]:
    """One optimizer step's gradients: its ``rows`` in micro-batches, each backward adding up.

    ``batch`` holds ``advantages`` and ``old_logprobs`` (and ``ref_logprobs`` when ``beta > 0``)
    beside the padded tokens. The token weights are computed once over all the step's rows, so
    the summed gradient is the same whatever ``micro_batch_size``.
    """
    rows = rows[batch["lengths"][rows].argsort(descending=True)]  # little padding per micro-batch
    width = int(batch["lengths"][rows].max())
    weights = token_weights(
        batch["loss_mask"][rows, :width],
        config.loss_aggregation,
        max_new_tokens=config.max_new_tokens,
        num_sequences=num_sequences or len(rows),
    )
    totals = {"loss": 0.0, "tokens": 0.0, "clipped_low": 0.0, "clipped_high": 0.0}
    totals.update({"kl_sum": 0.0, "entropy_sum": 0.0, "sampler_diff_sum": 0.0})
    for start in range(0, len(rows), config.micro_batch_size):
        index = rows[start : start + config.micro_batch_size]
        micro = rows_of(batch, index)
        with autocast():
            logprobs, entropy = completion_logprobs(
                model,
                micro,
                temperature=config.temperature,
                chunk_size=config.logprob_chunk_size,
                checkpoint_chunks=config.gradient_checkpointing,
            )
        old = micro["old_logprobs"] if "old_logprobs" in micro else logprobs.detach()
        loss, stats = policy_loss(
            logprobs,
            old,
            micro["advantages"],
            weights[start : start + len(index), : logprobs.shape[1]],
            clip_low=config.clip_low,
            clip_high=config.clip_high,
            beta=config.beta,
            ref_logprobs=micro.get("ref_logprobs"),
        )
        if loss.requires_grad:  # False when every token of the micro-batch is masked out
            loss.backward()
        totals["loss"] += float(loss.detach())
        mask = micro["loss_mask"] > 0
        totals["entropy_sum"] += float((entropy * mask).sum())
        if "sampler_logprobs" in micro:  # both at the weights the batch was sampled with
            diff = (old - micro["sampler_logprobs"]).abs()
            totals["sampler_diff_sum"] += float((diff * mask).sum())
        for key, value in stats.items():
            totals[key] += value
    return totals
