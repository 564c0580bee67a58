"""GRPO-family reinforcement learning from verifiable rewards, in one file (CleanRL style).

    rlvr-envs train                                          # offline default: a tiny policy, CPU
    rlvr-envs train --model Qwen/Qwen2.5-0.5B-Instruct --env rlvr/GSM8K-v0 --device cuda

Every step samples ``group_size`` completions for each of ``batch_size / group_size`` tasks, scores
them with the environment's verifier, turns the rewards into group-relative advantages and takes
clipped policy-gradient steps toward the completions that scored. One dataclass holds every
hyper-parameter; :func:`train` runs the loop top to bottom:

1. the policy: a Hugging Face causal LM (a tiny one built offline when ``model`` is None),
   optionally with a LoRA adapter, and an agent over it that generates: on CUDA the
   static-cache, CUDA-graph decoder of :mod:`agents.grpo_decode`, else :class:`~agents.hf.HFAgent`;
2. the tasks: held-out evaluation tasks, disjoint from the stream of training tasks;
3. an optional supervised warm-up (:mod:`agents.grpo_warmup`), then the accuracy before RL;
4. the RL loop: rollouts with dynamic sampling, advantages, old and reference log-probs, updates,
   one JSONL line per step, checkpoints;
5. the accuracy after RL, ``summary.json``, the final model and a PNG of the curves.

Errors, the task split, evaluation, checkpoints and logs live in :mod:`agents.grpo_support`.

The loss options are the small functions right below the config, each tested against a
hand-computed value: advantages (``baseline`` mean / rloo / none, ``scale_rewards`` group / batch /
none), aggregation (``loss_aggregation`` token = DAPO, sequence = original GRPO, constant =
Dr. GRPO, always normalised over the whole optimizer step, so that gradient accumulation does not
change the update), clip-higher, and the k3 KL penalty.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .grpo_support import (
    ConfigError,
    TaskSplit,
    TrainingError,
    append_jsonl,
    evaluate,
    load_checkpoint,
    pearson,
    plain,
    plot_metrics,
    progress_bar,
    read_jsonl,
    resolve_device,
    resolve_precision,
    save_checkpoint,
    seed_everything,
    write_jsonl,
)
from .hf import HFAgent, _base_model, generation_mode
from .rollout import Episode, RolloutRunner, pad_episodes


@dataclass
class GRPOConfig:
    """Every hyper-parameter of a run; the defaults suit a ~0.5B model on one GPU."""

    # --- what to train, on what
    model: str | None = None  # a hub id or a local path; None builds a tiny policy offline
    env: str = "rlvr/Arithmetic-v0"  # any registered environment id
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    chat: bool | None = None  # chat observations; None: when the tokenizer has a chat template
    output_dir: str = "runs/train"
    seed: int = 0
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1" ...
    precision: str = "auto"  # "bf16-mixed" (fp32 weights, bf16 compute), "bf16", "fp32"; auto
    num_threads: int | None = None  # torch CPU threads; None leaves torch's choice

    # --- rollouts
    steps: int = 200  # RL steps (one batch of rollouts each)
    batch_size: int = 64  # completions per step: batch_size / group_size tasks
    group_size: int = 8  # completions per task (G)
    max_new_tokens: int = 512
    temperature: float = 1.0
    top_p: float = 1.0
    generation_batch_size: int | None = None  # sequences per decoding batch; None: all at once
    cuda_graphs: bool = True  # on CUDA, decode with a static cache and a CUDA-graph step
    dynamic_sampling: bool = True  # drop groups whose rewards are all equal, sample more (DAPO)
    max_sampling_rounds: int = 3  # rollout rounds per step that refill dropped groups
    mask_truncated: bool = False  # no loss on completions cut at max_new_tokens (DAPO)

    # --- advantages and loss
    baseline: str = "mean"  # "mean" (GRPO), "rloo" (leave-one-out), "none"
    scale_rewards: str = "group"  # "group" (GRPO), "batch", "none" (Dr. GRPO)
    loss_aggregation: str = "token"  # "token" (DAPO), "sequence" (GRPO), "constant" (Dr. GRPO)
    clip_low: float = 0.2  # ratio clipped below at 1 - clip_low ...
    clip_high: float = 0.28  # ... and above at 1 + clip_high (clip-higher, DAPO)
    num_updates: int = 1  # passes over each batch (PPO epochs); the old log-probs stay fixed
    steps_per_batch: int = 1  # optimizer steps per pass (mini-batches)
    micro_batch_size: int = 8  # sequences per forward/backward (gradient accumulation)
    logprob_chunk_size: int = 1024  # completion tokens per chunk through the output layer
    beta: float = 0.0  # weight of the k3 KL penalty to the reference
    reference: str = "auto"  # "adapter" (the LoRA adapter disabled) or "copy" (frozen); auto

    # --- optimizer
    lr: float = 1e-6
    weight_decay: float = 0.0
    adam_betas: tuple[float, float] = (0.9, 0.99)
    max_grad_norm: float = 1.0
    lr_warmup_steps: int = 0  # optimizer steps of linear learning-rate warm-up ...
    lr_schedule: str = "constant"  # ... then "constant", or "linear" decay to 0 at the last step
    gradient_checkpointing: bool = True  # in training forwards only; generation never uses it
    lora_r: int = 0  # 0: full fine-tuning
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_target_modules: str | list[str] = "all-linear"

    # --- supervised warm-up on reference completions (agents/grpo_warmup.py); 0 steps: none
    warmup_steps: int = 0
    warmup_batch_size: int = 64
    warmup_lr: float = 1e-4
    warmup_completion: str = "{solution}"  # the target text: task fields {answer}, {solution}

    # --- evaluation, logging, checkpoints
    eval_tasks: int = 200  # held-out tasks, greedy decoding; 0: no evaluation
    eval_seed: int = 1_000_003
    eval_every: int = 0  # also evaluate every N steps (0: before and after only)
    save_every: int = 0  # checkpoint every N steps (the final model is always saved)
    resume: bool = False  # continue from output_dir/checkpoint when there is one
    no_signal_patience: int = 20  # consecutive steps without a learning signal before an error
    save_model: bool = True  # the final model to output_dir/model (merged when LoRA)
    progress: bool = True
    plot: bool = True
    tiny_model: dict[str, Any] = field(default_factory=dict)  # build_tiny_model() settings

    def check(self) -> None:
        """Raise :class:`ConfigError` with a clear message for settings that cannot work."""
        choices = {
            "baseline": ("mean", "rloo", "none"),
            "scale_rewards": ("group", "batch", "none"),
            "loss_aggregation": ("token", "sequence", "constant"),
            "reference": ("auto", "adapter", "copy"),
            "precision": ("auto", "bf16-mixed", "bf16", "fp32"),
            "lr_schedule": ("constant", "linear"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not isinstance(self.group_size, int) or self.group_size < 2:
            raise ConfigError(
                f"group_size must be >= 2, got {self.group_size}: GRPO scores each completion "
                "against the other completions of the same task, so it needs at least two"
            )
        if self.batch_size < 1 or self.batch_size % self.group_size:
            raise ConfigError(
                f"batch_size ({self.batch_size}) must be a positive multiple of group_size "
                f"({self.group_size}): each step samples batch_size / group_size whole groups"
            )
        positive = (
            "steps",
            "max_new_tokens",
            "num_updates",
            "steps_per_batch",
            "micro_batch_size",
            "logprob_chunk_size",
            "max_sampling_rounds",
            "no_signal_patience",
            "warmup_batch_size",
        )
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        for name in ("warmup_steps", "eval_tasks", "eval_every", "save_every", "lora_r"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be an integer >= 0, got {value!r}")
        if self.steps_per_batch > self.batch_size:
            raise ConfigError(
                f"steps_per_batch ({self.steps_per_batch}) is over batch_size ({self.batch_size})"
            )
        if not 0 <= self.clip_low < 1 or self.clip_high < 0:
            raise ConfigError(
                f"need 0 <= clip_low < 1 and clip_high >= 0, got {self.clip_low}, {self.clip_high}"
            )
        if self.beta < 0 or self.lr <= 0 or self.temperature <= 0:
            raise ConfigError("need beta >= 0, lr > 0 and temperature > 0 (sampling, not greedy)")
        if self.reference == "adapter" and not self.lora_r:
            raise ConfigError("reference='adapter' needs a LoRA adapter (lora_r > 0)")
        if self.num_threads is not None and self.num_threads < 1:
            raise ConfigError(f"num_threads must be >= 1, got {self.num_threads}")


# The offline default run (`rlvr-envs train` with no --model): a 154k-parameter policy with a
# tokenizer trained on the fly learns one-digit sums on CPU in about a minute. A short supervised
# warm-up on the answers (the icing) leaves it about half right; RL (the cherry) does the rest.
# One-digit sums have only 100 distinct questions, so "held-out" means held-out task seeds.
DEFAULT_RUN: dict[str, Any] = dict(
    model=None,
    env="rlvr/Arithmetic-v0",
    env_kwargs={"level": 1, "template": "{prompt}"},  # "What is 3 + 5?" -> "8"
    device="cpu",
    num_threads=1,  # a tiny model on a shared 2-core machine runs fastest on one thread
    steps=200,
    batch_size=256,  # 32 tasks x G=8 per step
    group_size=8,
    max_new_tokens=4,
    micro_batch_size=256,
    lr=5e-4,
    lr_schedule="linear",
    gradient_checkpointing=False,
    warmup_steps=90,
    warmup_lr=3e-3,
    warmup_completion="{answer}",
    eval_tasks=300,
    eval_every=25,
    tiny_model=dict(
        hidden_size=64,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        intermediate_size=256,
        initializer_range=0.02,
    ),
)


def default_run_config(**overrides: Any) -> GRPOConfig:
    """The offline default run's config, with overrides."""
    return GRPOConfig(**{**copy.deepcopy(DEFAULT_RUN), **overrides})


# --- the loss, piece by piece ---------------------------------------------------------------


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


def _split_model(model: Any) -> tuple[Any, Any]:
    """The transformer body and the output layer of a causal LM, under a PEFT wrapper or not."""
    base = _base_model(model)
    return base.get_decoder(), base.get_output_embeddings()


def _chunk_logprobs(
    hidden: torch.Tensor,
    targets: torch.Tensor,
    head: Any,
    temperature: float,
    softcap: float,
    with_entropy: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    logits = head(hidden).float()
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    logp = torch.log_softmax(logits / temperature, dim=-1)
    picked = logp.gather(-1, targets[:, None]).squeeze(-1)
    if not with_entropy:
        return picked, None
    with torch.no_grad():
        entropy = -(logp.exp() * logp).sum(dim=-1)
    return picked, entropy


def completion_logprobs(
    model: Any,
    batch: Mapping[str, torch.Tensor],
    *,
    temperature: float = 1.0,
    chunk_size: int = 1024,
    checkpoint_chunks: bool = False,
    with_entropy: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probs and entropies of the loss-masked tokens, shaped like ``input_ids`` (0 elsewhere).

    The transformer runs once over the sequences; only positions that predict a completion token
    go through the output layer, ``chunk_size`` tokens at a time (with ``checkpoint_chunks`` each
    chunk's logits are recomputed in the backward pass, so one chunk of vocabulary-wide logits is
    alive at a time). Log-probs are ``log_softmax(logits / temperature)``, what the sampler used.
    Without ``with_entropy`` the entropy (two more vocabulary-wide tensors per chunk) is skipped
    and returned as None.
    """
    body, head = _split_model(model)
    hidden = body(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        position_ids=batch["position_ids"],
        use_cache=False,
    ).last_hidden_state
    targets_mask = batch["loss_mask"][:, 1:] > 0  # position t predicts token t + 1
    states = hidden[:, :-1][targets_mask]
    targets = batch["input_ids"][:, 1:][targets_mask]
    softcap = float(getattr(getattr(model, "config", None), "final_logit_softcapping", 0) or 0)
    logps, entropies = [], []
    for start in range(0, len(targets), chunk_size):
        args = (states[start : start + chunk_size], targets[start : start + chunk_size], head)
        if checkpoint_chunks and torch.is_grad_enabled():
            logp, entropy = torch.utils.checkpoint.checkpoint(
                _chunk_logprobs, *args, temperature, softcap, with_entropy, use_reentrant=False
            )
        else:
            logp, entropy = _chunk_logprobs(*args, temperature, softcap, with_entropy)
        logps.append(logp)
        entropies.append(entropy)
    shape = batch["input_ids"].shape
    flat_logp = torch.cat(logps) if logps else states.new_zeros(0, dtype=torch.float32)
    pad = torch.zeros(shape[0], 1, device=flat_logp.device, dtype=torch.float32)
    zeros = torch.zeros(shape[0], shape[1] - 1, device=flat_logp.device, dtype=torch.float32)
    logprobs = torch.cat([pad, zeros.masked_scatter(targets_mask, flat_logp)], dim=1)
    if not with_entropy:
        return logprobs, None
    flat_entropy = torch.cat(entropies) if entropies else flat_logp.detach()
    entropy = torch.cat([pad, zeros.masked_scatter(targets_mask, flat_entropy)], dim=1)
    return logprobs, entropy


def rows_of(batch: Mapping[str, torch.Tensor], index: torch.Tensor) -> dict[str, torch.Tensor]:
    """Rows ``index`` of a right-padded batch, cut to the longest of them."""
    width = int(batch["lengths"][index].max())
    return {k: (v[index, :width] if v.dim() == 2 else v[index]) for k, v in batch.items()}


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


# --- the pieces around the loop -------------------------------------------------------------


def load_policy(config: GRPOConfig, device: torch.device, precision: str) -> tuple[Any, Any]:
    """The model (with a LoRA adapter when asked) and its tokenizer, on ``device``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = config.model
    if path is None:
        from .tiny import build_tiny_model

        path = Path(config.output_dir) / "policy-init"
        if not (path / "config.json").exists():
            build_tiny_model(path, seed=config.seed, **config.tiny_model)
    # Trainable weights stay fp32 under bf16-mixed; frozen LoRA base weights can be bf16.
    bf16_weights = precision == "bf16" or (precision == "bf16-mixed" and config.lora_r > 0)
    model = AutoModelForCausalLM.from_pretrained(
        str(path), dtype=torch.bfloat16 if bf16_weights else torch.float32
    ).to(device)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if config.lora_r:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(
            model,
            LoraConfig(
                r=config.lora_r,
                lora_alpha=config.lora_alpha,
                lora_dropout=config.lora_dropout,
                target_modules=config.lora_target_modules,
                task_type="CAUSAL_LM",
            ),
        )
    if config.gradient_checkpointing:
        # Only training forwards are checkpointed: HF layers skip it outside train mode, and
        # the agent generates in eval mode.
        enable = getattr(model, "activation_checkpointing_enable", None)
        if enable is not None:
            enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False}
            )
    model.train()
    return model, tokenizer


def _autocast_factory(device: torch.device, precision: str) -> Callable[[], Any]:
    if precision != "bf16-mixed":
        return contextlib.nullcontext
    return lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def _no_grad_logprobs(
    model: Any, batch: Mapping[str, torch.Tensor], config: GRPOConfig, autocast: Any
) -> torch.Tensor:
    """Completion log-probs of every row without autograd, in eval mode, micro-batched."""
    out = torch.zeros_like(batch["loss_mask"])
    with generation_mode(model):
        for index in torch.arange(len(batch["lengths"])).split(config.micro_batch_size):
            index = index.to(out.device)
            micro = rows_of(batch, index)
            with autocast():
                logprobs, _ = completion_logprobs(
                    model,
                    micro,
                    temperature=config.temperature,
                    chunk_size=config.logprob_chunk_size,
                    with_entropy=False,
                )
            out[index, : logprobs.shape[1]] = logprobs
    return out


@contextlib.contextmanager
def _reference(model: Any, frozen: Any) -> Iterator[Any]:
    """The reference policy: a frozen copy when there is one, else the model, adapter disabled."""
    if frozen is not None:
        yield frozen
        return
    with model.disable_adapter():
        yield model


# --- the training loop ----------------------------------------------------------------------


def train(config: GRPOConfig, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run GRPO as configured; returns the summary (also written to ``output_dir/summary.json``)."""
    with contextlib.ExitStack() as cleanup:  # environment workers stop however the run ends
        return _train(config, log, cleanup)


def _train(
    config: GRPOConfig, log: Callable[[str], None], cleanup: contextlib.ExitStack
) -> dict[str, Any]:
    started = time.perf_counter()
    config.check()
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    if precision != "fp32" and device.type == "cpu":
        log(f"note: {precision} on CPU is slow; fp32 is the CPU default")
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    seed_everything(config.seed)
    autocast = _autocast_factory(device, precision)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint_dir = out / "checkpoint"
    metrics_path = out / "metrics.jsonl"
    resuming = config.resume and (checkpoint_dir / "state.json").exists()
    if not resuming:
        metrics_path.unlink(missing_ok=True)
        shutil.rmtree(checkpoint_dir, ignore_errors=True)

    # 1. The policy, its optimizer, the agent that generates with it, the reference.
    model, tokenizer = load_policy(config, device, precision)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params,
        lr=config.lr,
        betas=tuple(config.adam_betas),
        weight_decay=config.weight_decay,
        fused=device.type == "cuda",
    )
    total_updates = config.steps * config.num_updates * config.steps_per_batch

    def lr_factor(update: int) -> float:
        warm = min(1.0, (update + 1) / (config.lr_warmup_steps + 1))
        if config.lr_schedule == "linear":
            return warm * max(0.0, 1 - update / total_updates)
        return warm

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    env_kwargs = dict(config.env_kwargs)
    if config.chat is not None:
        env_kwargs["chat"] = config.chat
    elif config.model is not None and getattr(tokenizer, "chat_template", None):
        env_kwargs.setdefault("chat", True)  # an instruct model: prompts through its template
    generation_batch = config.generation_batch_size or max(config.batch_size, config.eval_tasks, 1)
    if device.type == "cuda" and config.cuda_graphs:
        from .grpo_decode import StaticCacheAgent  # one launch per decoded token, not hundreds

        agent: HFAgent = StaticCacheAgent(model, tokenizer, batch_size=generation_batch)
    else:
        agent = HFAgent(model, tokenizer, batch_size=generation_batch)

    # 2. The tasks: held-out evaluation tasks, and a training stream without them.
    import gymnasium

    import rlvr_envs  # noqa: F401  (registers the rlvr/ environments)

    try:
        probe = gymnasium.make(config.env, **env_kwargs)
    except gymnasium.error.Error as error:
        raise ConfigError(f"cannot make environment {config.env!r}: {error}") from None
    cleanup.callback(probe.close)
    split = TaskSplit(probe, eval_tasks=config.eval_tasks, eval_seed=config.eval_seed)
    runner = cleanup.enter_context(RolloutRunner(config.env, env_kwargs=env_kwargs))
    tasks_per_step = config.batch_size // config.group_size
    sequences_per_update = math.ceil(config.batch_size / config.steps_per_batch)

    state: dict[str, Any] = {"step": 0, "accuracy_before": None, "warmup": None}
    if resuming:
        state = load_checkpoint(checkpoint_dir, model, optimizer, scheduler)
        kept = [line for line in read_jsonl(metrics_path) if line["step"] <= state["step"]]
        write_jsonl(metrics_path, kept)
        log(f"resuming from step {state['step']} ({checkpoint_dir})")

    # 3. Supervised warm-up (the icing), then the held-out accuracy before RL.
    timings = {"warmup_s": 0.0, "eval_s": 0.0}
    if not resuming and config.warmup_steps:
        from .grpo_warmup import supervised_warmup, warmup_examples

        t0 = time.perf_counter()
        before = (
            evaluate(runner, agent, split, config.max_new_tokens, autocast)
            if split.num_eval
            else None
        )
        count = config.warmup_steps * config.warmup_batch_size
        task_ids, _ = split.training(min(count, 4096), np.random.default_rng([config.seed, 7]))
        if task_ids is None:
            raise ConfigError("a supervised warm-up needs an environment with a task source")
        examples = warmup_examples(
            probe, task_ids, completion=config.warmup_completion, agent=agent
        )
        result = supervised_warmup(
            model,
            examples,
            steps=config.warmup_steps,
            batch_size=config.warmup_batch_size,
            lr=config.warmup_lr,
            seed=config.seed,
            pad_token_id=agent.pad_token_id,
            autocast=autocast,
            progress=config.progress,
        )
        state["warmup"] = {**result, "accuracy_before_warmup": before and before["accuracy"]}
        timings["warmup_s"] = time.perf_counter() - t0
        log(
            f"warm-up: {config.warmup_steps} supervised steps, loss {result['loss_first']:.3f} -> "
            f"{result['loss_last']:.3f}"
            + (f", accuracy {before['accuracy']:.1%} before it" if before else "")
        )

    # The KL reference is the policy RL starts from: the model with its LoRA adapter disabled
    # (when no warm-up trained the adapter), or a frozen copy made now.
    frozen_reference = None
    adapter_reference = config.reference == "adapter" or (
        config.reference == "auto" and config.lora_r > 0 and not config.warmup_steps
    )
    if config.beta > 0 and not adapter_reference:
        frozen_reference = copy.deepcopy(model).eval().requires_grad_(False)
        if resuming:
            saved = torch.load(checkpoint_dir / "reference.pt", map_location="cpu")
            frozen_reference.load_state_dict(saved)
        if device.type == "cuda":
            frozen_reference = frozen_reference.to(torch.bfloat16)
    before = None
    if not resuming and split.num_eval:
        t0 = time.perf_counter()
        before = evaluate(runner, agent, split, config.max_new_tokens, autocast)
        timings["eval_s"] += time.perf_counter() - t0
        state["accuracy_before"] = before["accuracy"]
        state["reward_before"] = before["reward"]
        log(f"held-out accuracy before RL: {before['accuracy']:.1%} ({split.num_eval} tasks)")
        append_jsonl(metrics_path, {"step": 0, "eval_accuracy": before["accuracy"]})

    # 4. The RL loop (the cherry).
    sampling = {
        "temperature": config.temperature,
        "top_p": config.top_p,
        "max_new_tokens": config.max_new_tokens,
    }
    rl_started = time.perf_counter()
    no_signal = 0
    last_eval: dict[str, float] | None = before
    with progress_bar(config.steps, state["step"], config.progress) as bar:
        for step in range(state["step"] + 1, config.steps + 1):
            step_started = time.perf_counter()
            rng = np.random.default_rng([config.seed, step])

            # 4a. Rollouts: G completions per task; dynamic sampling drops groups whose rewards
            # are all equal (no advantage, no gradient) and samples new tasks in their place.
            kept: list[list[Episode]] = []
            sampled: list[Episode] = []
            gen_s = collect_s = verify_busy_s = 0.0
            rounds = zero_variance = too_few_valid = 0
            max_rounds = config.max_sampling_rounds if config.dynamic_sampling else 1
            while len(kept) < tasks_per_step and rounds < max_rounds:
                need = tasks_per_step - len(kept)
                task_ids, reset_seed = split.training(need, rng)
                t0 = time.perf_counter()
                with autocast():
                    batch = runner.collect(
                        agent,
                        num_tasks=need,
                        group_size=config.group_size,
                        seed=reset_seed,
                        task_ids=task_ids,
                        sampling={**sampling, "seed": int(rng.integers(2**62))},
                        on_error="record",
                    )
                collect_s += time.perf_counter() - t0
                gen_s += batch.timings["generate_s"]
                verify_busy_s += batch.timings["verify_s"]
                rounds += 1
                for group in batch.groups():
                    sampled.extend(group)
                    # Verifier or sandbox faults are not the answer's fault: never learn from them.
                    valid = [e for e in group if e.valid]
                    if len(valid) < 2:
                        too_few_valid += 1
                        continue
                    if len({e.reward for e in valid}) == 1:
                        zero_variance += 1
                        if config.dynamic_sampling:
                            continue
                    kept.append(valid)
            episodes = [e for group in kept for e in group]
            sampled_rewards = [e.reward for e in sampled if e.valid]
            lengths = [e.num_generated_tokens for e in sampled if e.valid]
            record: dict[str, Any] = {
                "step": step,
                "reward_mean": float(np.mean(sampled_rewards)) if sampled_rewards else None,
                "reward_std": float(np.std(sampled_rewards)) if sampled_rewards else None,
                "zero_variance_fraction": zero_variance / max(len(sampled) // config.group_size, 1),
                "groups_sampled": len(sampled) // config.group_size,
                "groups_kept": len(kept),
                "groups_too_few_valid": too_few_valid,  # under 2 completions left after faults
                "sampling_rounds": rounds,
                "faults": sum(not e.valid for e in sampled),
                "truncated_fraction": sum(e.truncated for e in sampled) / max(len(sampled), 1),
                "length_mean": float(np.mean(lengths)) if lengths else None,
                "length_max": max(lengths, default=None),
                "length_reward_corr": pearson(lengths, sampled_rewards),
                "gen_tokens_per_s": (
                    sum(e.num_generated_tokens for e in sampled) / gen_s if gen_s else None
                ),
            }

            # 4b. Advantages, tensors, and the fixed log-probs (old policy, reference).
            t_train = time.perf_counter()
            rewards = torch.tensor([e.reward for e in episodes], dtype=torch.float32)
            group_ids = torch.tensor([g for g, group in enumerate(kept) for _ in group])
            advantages = (
                group_advantages(
                    rewards,
                    group_ids,
                    baseline=config.baseline,
                    scale_rewards=config.scale_rewards,
                )
                if episodes
                else rewards
            )
            signal = bool(episodes) and bool((advantages != 0).any())
            no_signal = 0 if signal else no_signal + 1
            if signal or (episodes and config.beta > 0):  # the KL term alone still has a gradient
                batch = pad_episodes(episodes, pad_token_id=agent.pad_token_id, device=device)
                batch["advantages"] = advantages.to(device)
                if config.mask_truncated:
                    truncated = torch.tensor([e.truncated for e in episodes], device=device)
                    batch["loss_mask"][truncated] = 0
                # The sampler's log-probs only measure the sampler/trainer mismatch: the ratio's
                # denominator is recomputed by the trainer's own forward pass.
                batch["sampler_logprobs"] = batch.pop("old_logprobs")
                if config.num_updates > 1 or config.steps_per_batch > 1:
                    batch["old_logprobs"] = _no_grad_logprobs(model, batch, config, autocast)
                # else one optimizer step per batch: the old policy is the current one
                if config.beta > 0:
                    with _reference(model, frozen_reference) as reference:
                        batch["ref_logprobs"] = _no_grad_logprobs(
                            reference, batch, config, autocast
                        )

                # 4c. Updates: num_updates passes, each split into steps_per_batch optimizer steps
                # whose gradients accumulate over micro-batches.
                totals: dict[str, float] = {}
                grad_norms = []
                generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
                for _ in range(config.num_updates):
                    order = torch.randperm(len(episodes), generator=generator).to(device)
                    for rows in order.tensor_split(config.steps_per_batch):
                        if len(rows) == 0:
                            continue
                        stats = accumulate_gradients(
                            model,
                            batch,
                            rows,
                            config,
                            autocast=autocast,
                            num_sequences=sequences_per_update,
                        )
                        grad_norms.append(
                            float(torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm))
                        )
                        optimizer.step()
                        scheduler.step()
                        optimizer.zero_grad(set_to_none=True)
                        for key, value in stats.items():
                            totals[key] = totals.get(key, 0.0) + value
                tokens = max(totals["tokens"], 1.0)
                updates = len(grad_norms)
                record.update(
                    loss=totals["loss"] / updates,
                    clip_fraction=(totals["clipped_low"] + totals["clipped_high"]) / tokens,
                    clip_low_fraction=totals["clipped_low"] / tokens,
                    clip_high_fraction=totals["clipped_high"] / tokens,
                    kl=totals["kl_sum"] / tokens if config.beta > 0 else None,
                    entropy=totals["entropy_sum"] / tokens,
                    sampler_logprob_diff=totals["sampler_diff_sum"] / tokens,
                    grad_norm=float(np.mean(grad_norms)),
                    train_tokens=int(batch["lengths"].sum()) * config.num_updates,
                )
            else:
                record.update(loss=None, clip_fraction=None, kl=None, entropy=None)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            train_s = time.perf_counter() - t_train
            record.update(
                lr=scheduler.get_last_lr()[0],
                train_tokens_per_s=(
                    record["train_tokens"] / train_s if record.get("train_tokens") else None
                ),
                time_generate_s=gen_s,
                time_verify_s=max(collect_s - gen_s, 0.0),  # verification not hidden by generation
                time_verify_busy_s=verify_busy_s,  # summed verifier time (runs in parallel)
                time_train_s=train_s,
                time_step_s=time.perf_counter() - step_started,
            )
            if no_signal >= config.no_signal_patience:
                raise TrainingError(_no_signal_message(no_signal, sampled, config))

            # 4d. Held-out evaluation, logs, checkpoints.
            if config.eval_every and step % config.eval_every == 0 and step < config.steps:
                t0 = time.perf_counter()
                last_eval = (
                    evaluate(runner, agent, split, config.max_new_tokens, autocast)
                    if split.num_eval
                    else None
                )
                timings["eval_s"] += time.perf_counter() - t0
                record["eval_accuracy"] = last_eval and last_eval["accuracy"]
            append_jsonl(metrics_path, record)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(
                    reward=f"{record['reward_mean'] or 0:.3f}",
                    acc=f"{last_eval['accuracy']:.2f}" if last_eval else "-",
                    len=f"{record['length_mean'] or 0:.0f}",
                )
            state["step"] = step
            if config.save_every and step % config.save_every == 0:
                save_checkpoint(
                    checkpoint_dir, model, optimizer, scheduler, state, frozen_reference
                )
    rl_s = time.perf_counter() - rl_started

    # 5. The held-out accuracy after RL, the summary, the model, the curves.
    after = None
    records = read_jsonl(metrics_path)
    if split.num_eval:
        t0 = time.perf_counter()
        after = evaluate(runner, agent, split, config.max_new_tokens, autocast)
        timings["eval_s"] += time.perf_counter() - t0
        if records and records[-1]["step"] == config.steps:
            records[-1]["eval_accuracy"] = after["accuracy"]
        else:
            records.append({"step": config.steps, "eval_accuracy": after["accuracy"]})
        write_jsonl(metrics_path, records)
    if config.save_every:
        save_checkpoint(checkpoint_dir, model, optimizer, scheduler, state, frozen_reference)
    final_dir = out / "model"
    if config.save_model:
        to_save = model.merge_and_unload() if config.lora_r else model
        to_save.save_pretrained(final_dir)
        tokenizer.save_pretrained(final_dir)
    plot = plot_metrics(records, out / "curves.png") if config.plot else None
    summary = {
        "accuracy_before": state.get("accuracy_before"),
        "accuracy_after": after and after["accuracy"],
        "reward_before": state.get("reward_before"),
        "reward_after": after and after["reward"],
        "eval_tasks": split.num_eval,
        "eval_split": split.mode,
        "warmup": state.get("warmup"),
        "steps": config.steps,
        "total_s": time.perf_counter() - started,
        "rl_s": rl_s,
        **timings,
        "device": str(device),
        "precision": precision,
        "decode": getattr(agent, "decode_mode", "dynamic"),
        "decode_fallback": getattr(agent, "fallback_reason", None),
        "num_threads": torch.get_num_threads(),
        "model_dir": str(final_dir) if config.save_model else None,
        "metrics": str(metrics_path),
        "plot": str(plot) if plot else None,
        "config": plain(asdict(config)),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    if after is not None:
        log(
            f"held-out accuracy: {summary['accuracy_before']:.1%} before RL -> "
            f"{after['accuracy']:.1%} after {config.steps} steps "
            f"({summary['total_s']:.0f} s in all, RL {rl_s:.0f} s)"
        )
    return summary


def _no_signal_message(steps: int, sampled: Sequence[Episode], config: GRPOConfig) -> str:
    rewards = sorted({e.reward for e in sampled if e.valid})
    faults = sum(not e.valid for e in sampled)
    example = next((e for e in sampled if e.completions), None)
    lines = [
        f"no learning signal for {steps} steps in a row: every group of {config.group_size} "
        f"completions got the same reward (rewards seen in the last step: {rewards or 'none'}).",
    ]
    if faults:
        first = next(e for e in sampled if not e.valid)
        why = first.error or first.verdicts[-1].get("reason")
        lines.append(f"{faults} completions were dropped as verifier/sandbox faults, e.g.: {why}")
    if len(rewards) == 1:
        lines.append(
            f"The environment {config.env!r} gives reward {rewards[0]} to every completion: check "
            "its verifier and answer format, the prompt template, or whether the tasks are far "
            "too hard (or too easy) for this model."
        )
    if example is not None:
        verdict = example.verdicts[-1] if example.verdicts else {}
        lines.append(
            f"A sampled completion: {example.completions[-1][:200]!r} -> "
            f"{verdict.get('status')}: {verdict.get('reason')}"
        )
    return "\n".join(lines)


def config_from_dict(values: Mapping[str, Any], base: GRPOConfig | None = None) -> GRPOConfig:
    """A config from ``base`` (or the defaults) with ``values`` applied; unknown names rejected."""
    known = {f.name for f in fields(GRPOConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown config field(s) {unknown}; known: {sorted(known)}")
    current = asdict(base) if base is not None else {}
    current.update(values)
    if isinstance(current.get("adam_betas"), list):
        current["adam_betas"] = tuple(current["adam_betas"])
    return GRPOConfig(**current)


if __name__ == "__main__":  # python -m agents.grpo: the offline default run
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    train(default_run_config())
