"""Log-probabilities of the sampled completion tokens under the policy being trained.

They must be the log-probs the model's own forward gives (what the sampler drew from), or the
ratios, the KL and the gradients are wrong without any error. Some architectures change the
logits after the output layer (Gemma's ``final_logit_softcapping``, Granite's ``logits_scaling``,
Cohere's ``logit_scale``, FalconH1's ``lm_head_multiplier``), so :func:`logit_head` decides once
per model how to reproduce them, and checks its choice against the model's own forward:

- ``head``: the transformer runs once over each padded sequence and only positions that predict a
  completion token go through the output layer (and the known post-head step), in chunks, so one
  chunk of vocabulary-wide logits is alive at a time;
- ``forward``: when that does not reproduce the model's logits, the model's own forward runs with
  a boolean ``logits_to_keep`` mask (the logits of the completion positions only, all at once);
- neither: :class:`~agents.grpo.config.ConfigError` naming the config fields that look like the
  cause.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from ..hf import _base_model
from .config import ConfigError

# Elementwise steps some architectures apply after the output layer, by config field.
_POST_HEAD: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "final_logit_softcapping": lambda logits, cap: torch.tanh(logits / cap) * cap,
    "logits_scaling": lambda logits, scale: logits / scale,  # Granite, GraniteMoE
    "logit_scale": lambda logits, scale: logits * scale,  # Cohere
    "lm_head_multiplier": lambda logits, factor: logits * factor,  # FalconH1
}
_SUSPECT_WORDS = ("logit", "scal", "multiplier", "softcap", "temperature")
_PROBE_TOLERANCE = {torch.float32: 1e-4, torch.float64: 1e-8}  # max |log-prob difference|
_LOW_PRECISION_TOLERANCE = 5e-2

# Mean |sampler - trainer| log-prob per completion token above which step 1 warns. In fp32 the
# two differ only by summation order (~1e-6). With bf16 compute the sampler's one-token-at-a-time
# decode and the trainer's whole-sequence forward round differently: BF16_SAMPLER_BOUND (see
# docs/training.md) is a few times what tests/grpo/test_logprobs.py measures on healthy models.
FP32_SAMPLER_BOUND = 1e-3
BF16_SAMPLER_BOUND = 5e-2


def sampler_mismatch_warning(diff: float | None, precision: str) -> str | None:
    """A warning when the sampler's and the trainer's log-probs differ more than ``precision``
    explains (``diff``: the mean absolute difference per completion token), else None."""
    bound = FP32_SAMPLER_BOUND if precision == "fp32" else BF16_SAMPLER_BOUND
    if diff is None or diff <= bound:
        return None
    return (
        f"sampler_logprob_diff is {diff:.2g} at step 1, over {bound:g} ({precision}): the "
        "log-probs the trainer computes are not those the completions were sampled with, so "
        "ratios and KL are off. Causes: dropout left on (disable_dropout), a model whose logits "
        "the trainer does not reproduce, or an agent that samples at another temperature than "
        "the config's"
    )


@dataclass
class LogitHead:
    """How a model's logits are reproduced: ``head`` (decoder + output layer + ``steps``) or
    ``forward`` (the model's own forward with a boolean ``logits_to_keep``)."""

    mode: str
    steps: list[tuple[str, float]] = field(default_factory=list)
    probe_error: float = 0.0  # max |log-prob difference| from the model's forward on the probe

    def logits(self, hidden: torch.Tensor, head: Any) -> torch.Tensor:
        """Float32 logits from last hidden states (``head`` mode)."""
        logits = head(hidden).float()
        for name, value in self.steps:
            logits = _POST_HEAD[name](logits, value)
        return logits


_HEADS: weakref.WeakKeyDictionary[Any, LogitHead] = weakref.WeakKeyDictionary()


def split_model(model: Any) -> tuple[Any, Any]:
    """The transformer body and the output layer of a causal LM, under a PEFT wrapper or not."""
    base = _base_model(model)
    return base.get_decoder(), base.get_output_embeddings()


def _post_head_steps(config: Any) -> list[tuple[str, float]]:
    steps = []
    for name in _POST_HEAD:
        value = getattr(config, name, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value:
            neutral = name != "final_logit_softcapping" and float(value) == 1.0
            if not neutral:
                steps.append((name, float(value)))
    return steps


def _suspects(config: Any) -> list[str]:
    """Config fields whose name suggests they change the logits."""
    found = []
    for name, value in sorted(vars(config).items() if config is not None else []):
        if any(word in name.lower() for word in _SUSPECT_WORDS) and isinstance(value, (int, float)):
            if not isinstance(value, bool):
                found.append(f"{name}={value}")
    return found


def _probe_batch(model: Any) -> dict[str, torch.Tensor]:
    """Two short sequences of ids, the second right-padded, every position a 'completion'."""
    device = next(model.parameters()).device
    vocab = int(_base_model(model).get_input_embeddings().num_embeddings)
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, vocab, (2, 7), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    batch = {
        "input_ids": ids,
        "attention_mask": mask,
        "position_ids": (mask.cumsum(-1) - 1).clamp(min=0),
        "loss_mask": mask.float(),
    }
    return {k: v.to(device) for k, v in batch.items()}


def _reference_logprobs(model: Any, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Log-probs of the probe's next tokens from the model's plain forward (all positions)."""
    logits = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        position_ids=batch["position_ids"],
        use_cache=False,
    ).logits.float()
    targets_mask = batch["loss_mask"][:, 1:] > 0
    logp = torch.log_softmax(logits[:, :-1][targets_mask], dim=-1)
    return logp.gather(-1, batch["input_ids"][:, 1:][targets_mask][:, None]).squeeze(-1)


def logit_head(model: Any) -> LogitHead:
    """How to reproduce ``model``'s logits (decided once per model, checked on a probe batch)."""
    base = _base_model(model)
    known = _HEADS.get(base)
    if known is not None:
        return known
    config = getattr(base, "config", None)
    dtype = next(model.parameters()).dtype
    tolerance = _PROBE_TOLERANCE.get(dtype, _LOW_PRECISION_TOLERANCE)
    batch = _probe_batch(model)
    modes = [m for m in model.modules()]
    states = [m.training for m in modes]
    model.eval()  # dropout off: the probe compares two deterministic forwards
    errors = {}
    device_type = batch["input_ids"].device.type
    try:
        # Not under the caller's autocast: the probe compares at the weights' own precision.
        with torch.no_grad(), torch.autocast(device_type=device_type, enabled=False):
            expected = _reference_logprobs(model, batch)
            for candidate in (LogitHead("head", _post_head_steps(config)), LogitHead("forward")):
                try:
                    got = _completion_logprobs(model, batch, candidate, 1.0, 1024, False, False)[0]
                except (TypeError, ValueError, AttributeError, RuntimeError, IndexError) as error:
                    errors[candidate.mode] = f"{type(error).__name__}: {error}"
                    continue
                got = got[:, 1:][batch["loss_mask"][:, 1:] > 0]
                candidate.probe_error = float((got - expected).abs().max())
                if candidate.probe_error <= tolerance:
                    _HEADS[base] = candidate
                    return candidate
                errors[candidate.mode] = f"log-probs differ by up to {candidate.probe_error:.3g}"
    finally:
        for module, training in zip(modes, states):
            module.training = training
    raise ConfigError(
        f"cannot reproduce the logits of {type(base).__name__}: the decoder + output layer "
        f"({errors.get('head')}) and its forward with a boolean logits_to_keep "
        f"({errors.get('forward')}) both differ from its own forward; the trainer's log-probs "
        f"would be wrong. Config fields that may change the logits: "
        f"{', '.join(_suspects(config)) or 'none found'}"
    )


def _chunk_logprobs(
    logits_fn: Callable[[torch.Tensor], torch.Tensor],
    states: torch.Tensor,
    targets: torch.Tensor,
    temperature: float,
    with_entropy: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    logp = torch.log_softmax(logits_fn(states).float() / temperature, dim=-1)
    picked = logp.gather(-1, targets[:, None]).squeeze(-1)
    if not with_entropy:
        return picked, None
    with torch.no_grad():
        entropy = -(logp.exp() * logp).sum(dim=-1)
    return picked, entropy


def _positions(
    model: Any, batch: Mapping[str, torch.Tensor], head: LogitHead, targets_mask: torch.Tensor
) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
    """What goes through the logits function chunk by chunk: hidden states (``head``) or the
    model's logits already (``forward``), one row per completion position."""
    inputs = {
        "input_ids": batch["input_ids"],
        "attention_mask": batch["attention_mask"],
        "position_ids": batch["position_ids"],
        "use_cache": False,
    }
    if head.mode == "forward":
        keep = torch.zeros_like(batch["input_ids"], dtype=torch.bool)
        keep[:, :-1] = targets_mask  # position t predicts token t + 1
        logits = model(**inputs, logits_to_keep=keep).logits
        logits = logits.reshape(-1, logits.shape[-1])
        if logits.shape[0] != int(targets_mask.sum()):
            raise ValueError("the model ignored the boolean logits_to_keep mask")
        return logits, lambda rows: rows
    body, output_layer = split_model(model)
    hidden = body(**inputs).last_hidden_state
    return hidden[:, :-1][targets_mask], lambda rows: head.logits(rows, output_layer)


def _completion_logprobs(
    model: Any,
    batch: Mapping[str, torch.Tensor],
    head: LogitHead,
    temperature: float,
    chunk_size: int,
    checkpoint_chunks: bool,
    with_entropy: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    targets_mask = batch["loss_mask"][:, 1:] > 0
    states, logits_fn = _positions(model, batch, head, targets_mask)
    targets = batch["input_ids"][:, 1:][targets_mask]
    logps, entropies = [], []
    for start in range(0, len(targets), chunk_size):
        args = (logits_fn, states[start : start + chunk_size], targets[start : start + chunk_size])
        if checkpoint_chunks and torch.is_grad_enabled():
            logp, entropy = torch.utils.checkpoint.checkpoint(
                _chunk_logprobs, *args, temperature, with_entropy, use_reentrant=False
            )
        else:
            logp, entropy = _chunk_logprobs(*args, temperature, with_entropy)
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

    The logits are the model's own (see :func:`logit_head`); only positions that predict a
    completion token are turned into log-probs, ``chunk_size`` tokens at a time (with
    ``checkpoint_chunks`` each chunk's logits are recomputed in the backward pass, so one chunk
    of vocabulary-wide logits is alive at a time). Log-probs are
    ``log_softmax(logits / temperature)``, what the sampler used. Without ``with_entropy`` the
    entropy (two more vocabulary-wide tensors per chunk) is skipped and returned as None.
    """
    head = logit_head(model)
    return _completion_logprobs(
        model, batch, head, temperature, chunk_size, checkpoint_chunks, with_entropy
    )


def rows_of(batch: Mapping[str, torch.Tensor], index: torch.Tensor) -> dict[str, torch.Tensor]:
    """Rows ``index`` of a right-padded batch, cut to the longest of them."""
    width = int(batch["lengths"][index].max())
    return {k: (v[index, :width] if v.dim() == 2 else v[index]) for k, v in batch.items()}


def no_grad_logprobs(
    model: Any,
    batch: Mapping[str, torch.Tensor],
    *,
    temperature: float,
    chunk_size: int,
    micro_batch_size: int,
    autocast: Any,
) -> torch.Tensor:
    """Completion log-probs of every row without autograd, micro-batched.

    The model stays in the mode the training forwards use (train mode, see
    :func:`~agents.grpo.policy.disable_dropout`), so old, reference and training log-probs are
    computed alike.
    """
    out = torch.zeros_like(batch["loss_mask"])
    with torch.no_grad():
        for index in torch.arange(len(batch["lengths"])).split(micro_batch_size):
            index = index.to(out.device)
            micro = rows_of(batch, index)
            with autocast():
                logprobs, _ = completion_logprobs(
                    model,
                    micro,
                    temperature=temperature,
                    chunk_size=chunk_size,
                    with_entropy=False,
                )
            out[index, : logprobs.shape[1]] = logprobs
    return out
