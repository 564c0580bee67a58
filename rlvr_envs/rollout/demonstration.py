"""A demonstration played through an environment as one token stream, exactly as a token-mode
rollout would record it: for a supervised warm-up on multi-turn (tool) episodes.

The prompt's tokens, then for each given action its tokens and EOS (loss mask 1) and the tokens
of only what the environment added (loss mask 0), with the same encoding functions the rollout
engine uses (:mod:`~rlvr_envs.rollout.tokens`), so what a warm-up teaches is what RL samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .tokens import continuation_text, encode_observation, encode_text


@dataclass
class DemonstrationStream:
    """A played demonstration: aligned token ids and loss mask, and the reward it earned."""

    token_ids: list[int]
    loss_mask: list[int]
    prompt_length: int
    reward: float
    turns: int


def demonstration_stream(
    env: Any,
    tokenizer: Any,
    actions: Sequence[str],
    *,
    eos_token_id: int,
    seed: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> DemonstrationStream:
    """Reset ``env`` and play ``actions``; the token stream a rollout of them would record."""
    observation, _ = env.reset(seed=seed, options=dict(options) if options else None)
    ids = encode_observation(tokenizer, observation)
    mask = [0] * len(ids)
    prompt_length = len(ids)
    reward = 0.0
    turns = 0
    for action in actions:
        sampled = encode_text(tokenizer, action) + [int(eos_token_id)]
        ids += sampled
        mask += [1] * len(sampled)
        new, step_reward, terminated, truncated, _ = env.step(action)
        reward += float(step_reward)
        turns += 1
        if terminated or truncated:
            break
        added = encode_text(
            tokenizer, continuation_text(tokenizer, observation, action, sampled, new)
        )
        ids += added
        mask += [0] * len(added)
        observation = new
    return DemonstrationStream(ids, mask, prompt_length, reward, turns)
