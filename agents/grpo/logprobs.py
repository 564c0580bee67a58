"""Log-probabilities of the sampled completion tokens under the policy being trained.

The transformer runs once over each padded sequence; only positions that predict a completion
token go through the output layer, in chunks, so one chunk of vocabulary-wide logits is alive at
a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ..hf import _base_model, generation_mode


def split_model(model: Any) -> tuple[Any, Any]:
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
    body, head = split_model(model)
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


def no_grad_logprobs(
    model: Any,
    batch: Mapping[str, torch.Tensor],
    *,
    temperature: float,
    chunk_size: int,
    micro_batch_size: int,
    autocast: Any,
) -> torch.Tensor:
    """Completion log-probs of every row without autograd, in eval mode, micro-batched."""
    out = torch.zeros_like(batch["loss_mask"])
    with generation_mode(model):
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
