"""Training tensors from rollout episodes: padded token streams with masks, positions and the
sampling log-probs, ready for a forward pass."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rlvr_envs.rollout import Episode


def pad_episodes(
    episodes: Sequence[Episode],
    *,
    pad_token_id: int = 0,
    padding_side: str = "right",
    max_length: int | None = None,
    device: Any = None,
) -> dict[str, Any]:
    """Pad token streams into tensors; masks and positions come from lengths, never from pad ids.

    Returns ``input_ids``, ``attention_mask``, ``position_ids``, ``loss_mask`` (float),
    ``old_logprobs`` (float, 0 where the loss mask is 0), ``lengths``, ``prompt_lengths``,
    ``rewards`` and ``group_ids``.
    """
    import torch

    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    if not episodes:
        raise ValueError("no episodes to pad")
    for episode in episodes:
        if not episode.token_ids:
            raise ValueError(f"episode {episode.index} has no tokens (a text-mode rollout?)")
    lengths = [len(e.token_ids) for e in episodes]
    width = max(lengths)
    if max_length is not None and width > max_length:
        raise ValueError(
            f"an episode has {width} tokens, over max_length={max_length}; truncating it would change the loss"
        )
    size = (len(episodes), width)
    input_ids = torch.full(size, pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros(size, dtype=torch.long)
    loss_mask = torch.zeros(size, dtype=torch.float32)
    old_logprobs = torch.zeros(size, dtype=torch.float32)
    for row, episode in enumerate(episodes):
        n = len(episode.token_ids)
        span = slice(width - n, width) if padding_side == "left" else slice(0, n)
        input_ids[row, span] = torch.tensor(episode.token_ids, dtype=torch.long)
        attention_mask[row, span] = 1
        loss_mask[row, span] = torch.tensor(episode.loss_mask, dtype=torch.float32)
        old_logprobs[row, span] = torch.tensor(episode.logprobs, dtype=torch.float32)
    position_ids = (attention_mask.cumsum(dim=-1) - 1).clamp(min=0)
    out = {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "position_ids": position_ids,
        "loss_mask": loss_mask,
        "old_logprobs": old_logprobs,
        "lengths": torch.tensor(lengths, dtype=torch.long),
        "prompt_lengths": torch.tensor([e.prompt_length for e in episodes], dtype=torch.long),
        "rewards": torch.tensor([e.reward for e in episodes], dtype=torch.float32),
        "group_ids": torch.tensor([e.group_id for e in episodes], dtype=torch.long),
    }
    if device is not None:
        out = {k: v.to(device) for k, v in out.items()}
    return out
