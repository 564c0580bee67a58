"""The policy and what trains it: device, precision, the model (and LoRA adapter), the optimizer
and its schedule, the agent that generates with it, and the KL reference."""

from __future__ import annotations

import contextlib
import copy
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..hf import HFAgent
from .config import ConfigError, GRPOConfig


def resolve_device(name: str) -> torch.device:
    """The torch device for ``name``; a clear error when CUDA is asked for and missing."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ConfigError(f"unknown device {name!r}: {error}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        build = f"torch {torch.__version__}" + (
            "" if torch.version.cuda else ", a build without CUDA"
        )
        raise ConfigError(
            f"--device {name} was asked for, but no CUDA GPU is usable here ({build}); "
            "use --device cpu, or run on a machine with an NVIDIA GPU and a CUDA build of torch"
        )
    if device.type == "cuda" and device.index is not None:
        if device.index >= torch.cuda.device_count():
            raise ConfigError(
                f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here"
            )
    return device


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` is bf16-mixed on CUDA and fp32 elsewhere."""
    if precision == "auto":
        return "bf16-mixed" if device.type == "cuda" else "fp32"
    return precision


PURE_BF16_WARNING = (
    "precision='bf16' keeps the trained weights in bf16: an AdamW update smaller than half a "
    "bf16 step of the weight (8 significant bits, ~0.4% of its value) rounds away, so at small "
    "learning rates most weights never change (at lr 1e-6 about 98% stay put after 10 steps). "
    "Without stochastic rounding or Kahan-compensated updates, which this trainer does not "
    "implement, use precision='bf16-mixed' (fp32 weights, bf16 compute) unless you know the "
    "updates are large enough"
)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def load_policy(config: GRPOConfig, device: torch.device, precision: str) -> tuple[Any, Any]:
    """The model (with a LoRA adapter when asked) and its tokenizer, on ``device``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = config.model
    if path is None:
        from ..tiny import build_tiny_model

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
    if config.disable_dropout:
        disable_dropout(model)
    model.train()
    return model, tokenizer


def disable_dropout(model: Any) -> int:
    """Set every dropout probability in ``model`` to 0; returns how many were not 0 already.

    Old, reference and training log-probs are then the same function of the weights whatever
    the train/eval mode (and the sampler, which runs in eval mode, agrees with them): PPO's ratio
    starts at exactly 1. Covers ``nn.Dropout`` modules (LoRA's too) and the float attributes
    transformers' attention modules read (``attention_dropout`` ...).
    """
    changed = 0
    for module in model.modules():
        if isinstance(module, torch.nn.modules.dropout._DropoutNd):
            changed += module.p > 0
            module.p = 0.0
        for name in ("attention_dropout", "dropout_rate", "hidden_dropout", "resid_dropout"):
            value = getattr(module, name, None)
            if isinstance(value, float) and not isinstance(value, bool):
                changed += value > 0
                setattr(module, name, 0.0)
    return changed


def lr_factor(update: int, total: int, *, ramp: int, schedule: str) -> float:
    """The learning rate's multiplier at ``update`` of ``total``: a linear ramp over ``ramp``
    updates, then ``constant``, or ``linear`` decay to 0 at the last update."""
    warm = min(1.0, (update + 1) / (ramp + 1))
    if schedule == "linear":
        return warm * max(0.0, 1 - update / total)
    return warm


def autocast_factory(device: torch.device, precision: str) -> Callable[[], Any]:
    """A context-manager factory: bf16 autocast under bf16-mixed, else a no-op."""
    if precision != "bf16-mixed":
        return contextlib.nullcontext
    return lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@dataclass
class Policy:
    """The model being trained, its optimizer and schedule, and the agent that samples from it."""

    model: Any
    tokenizer: Any
    agent: HFAgent
    params: list[torch.nn.Parameter]
    optimizer: torch.optim.Optimizer
    scheduler: Any
    device: torch.device
    precision: str
    autocast: Callable[[], Any]
    frozen_reference: Any = None  # a frozen copy for the KL term, when not the disabled adapter

    @contextlib.contextmanager
    def reference(self) -> Iterator[Any]:
        """The reference policy: the frozen copy when there is one, else the model with its
        LoRA adapter disabled."""
        if self.frozen_reference is not None:
            yield self.frozen_reference
            return
        with self.model.disable_adapter():
            yield self.model


def build_policy(config: GRPOConfig, device: torch.device, precision: str) -> Policy:
    """Load the model, make its optimizer, learning-rate schedule and generating agent."""
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
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda update: lr_factor(
            update, total_updates, ramp=config.lr_warmup_steps, schedule=config.lr_schedule
        ),
    )
    generation_batch = config.generation_batch_size or max(config.batch_size, config.eval_tasks, 1)
    if device.type == "cuda" and config.cuda_graphs:
        from .decode import StaticCacheAgent  # one launch per decoded token, not hundreds

        agent: HFAgent = StaticCacheAgent(model, tokenizer, batch_size=generation_batch)
    else:
        agent = HFAgent(model, tokenizer, batch_size=generation_batch)
    return Policy(
        model,
        tokenizer,
        agent,
        params,
        optimizer,
        scheduler,
        device,
        precision,
        autocast_factory(device, precision),
    )


def frozen_reference(
    policy: Policy, config: GRPOConfig, *, warmed_up: bool, saved: Path | None
) -> Any:
    """A frozen copy of the policy RL starts from, for the KL term; None when no copy is needed
    (``beta == 0``, or the reference is the model with its LoRA adapter disabled, which holds only
    when no warm-up trained the adapter). ``saved`` restores a checkpoint's copy.

    The copy keeps the policy's dtype (a bf16 copy of an fp32 policy would put the KL off zero at
    step 0) and its train/eval mode, so reference and policy log-probs are computed alike.
    """
    adapter_reference = config.reference == "adapter" or (
        config.reference == "auto" and config.lora_r > 0 and not warmed_up
    )
    if config.beta <= 0 or adapter_reference:
        return None
    frozen = copy.deepcopy(policy.model).requires_grad_(False)
    frozen.train(policy.model.training)
    if saved is not None:
        frozen.load_state_dict(torch.load(saved, map_location="cpu"))
    return frozen
