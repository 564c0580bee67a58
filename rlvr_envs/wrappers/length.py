"""DAPO's soft overlong punishment, as a wrapper for any environment.

With a maximum length ``L`` and a soft band of ``cache`` units before it, a completion of length
``n`` gets a penalty of 0 up to ``L - cache``, falling linearly to -1 at ``L``, and -1 beyond
(Yu et al., 2025, "DAPO", section 3.4). The penalty is added to the wrapped environment's reward
and reported as ``info["reward_components"]["length_penalty"]``, with the measured length in
``info["completion_length"]``. Length is counted in tokens when a tokenizer (anything with
``encode``) or a ``length_fn`` is given, and in characters otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, SupportsFloat

import gymnasium as gym


def overlong_penalty(length: int, max_length: int, cache: int) -> float:
    """DAPO's soft penalty: 0 up to ``max_length - cache``, then linear down to -1, then -1."""
    if length <= max_length - cache:
        return 0.0
    if length <= max_length:
        return (max_length - cache - length) / cache
    return -1.0


class OverlongPenalty(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Adds :func:`overlong_penalty` of each completion's length to the reward."""

    def __init__(
        self,
        env: gym.Env,
        *,
        max_length: int,
        cache: int,
        tokenizer: Any = None,
        length_fn: Callable[[str], int] | None = None,
        scale: float = 1.0,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self,
            max_length=max_length,
            cache=cache,
            tokenizer=tokenizer,
            length_fn=length_fn,
            scale=scale,
        )
        gym.Wrapper.__init__(self, env)
        if not isinstance(max_length, int) or not isinstance(cache, int):
            raise TypeError("max_length and cache must be integers")
        if not 0 < cache <= max_length:
            raise ValueError(f"need 0 < cache <= max_length, got cache={cache}, {max_length=}")
        if tokenizer is not None and length_fn is not None:
            raise ValueError("give a tokenizer or a length_fn, not both")
        if tokenizer is not None:
            if not callable(getattr(tokenizer, "encode", None)):
                raise TypeError("tokenizer must have an encode(text) method")
            length_fn = _token_counter(tokenizer)
        self.length_fn: Callable[[str], int] = length_fn or len
        self.unit = "characters" if length_fn is None else "tokens"
        self.max_length = max_length
        self.cache = cache
        self.scale = float(scale)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the wrapped environment and add the length penalty of ``action``."""
        observation, reward, terminated, truncated, info = self.env.step(action)
        if not isinstance(action, str):
            return observation, reward, terminated, truncated, info
        length = int(self.length_fn(action))
        penalty = self.scale * overlong_penalty(length, self.max_length, self.cache)
        components = dict(info.get("reward_components") or {"task": float(reward)})
        components["length_penalty"] = penalty
        info = {**info, "reward_components": components, "completion_length": length}
        return observation, float(reward) + penalty, terminated, truncated, info


def _token_counter(tokenizer: Any) -> Callable[[str], int]:
    def count(text: str) -> int:
        try:
            ids = tokenizer.encode(text, add_special_tokens=False)
        except TypeError:  # tokenizers without the Hugging Face keyword
            ids = tokenizer.encode(text)
        return len(ids)

    return count
