"""A token-level view of a text environment, for Stable-Baselines3 and other classic RL libraries.

Text environments take a whole completion per step. :class:`TokenLevel` turns one into an
environment that takes one token per step: the observation is a fixed-length array of token ids
(prompt, then what was generated so far), the action picks the next token, and when the agent emits
EOS (or spends its token budget) the decoded completion goes to the wrapped environment's ``step``,
whose reward is returned. Intermediate steps earn 0 unless a shaping function says otherwise.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class TokenCodec(Protocol):
    """What :class:`TokenLevel` needs from a tokenizer."""

    vocab_size: int
    eos_token_id: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


class CharTokenizer:
    """A character-level tokenizer over a fixed alphabet, plus EOS and an unknown-character id."""

    def __init__(self, alphabet: str, *, eos_token: str = "<eos>") -> None:
        if len(set(alphabet)) != len(alphabet) or not alphabet:
            raise ValueError("alphabet must be a non-empty string of distinct characters")
        self.alphabet = alphabet
        self.eos_token = eos_token
        self._ids = {ch: i for i, ch in enumerate(alphabet)}
        self.eos_token_id = len(alphabet)
        self.unk_token_id = len(alphabet) + 1
        self.vocab_size = len(alphabet) + 2

    def encode(self, text: str) -> list[int]:
        """One id per character; characters outside the alphabet map to the unknown id."""
        return [self._ids.get(ch, self.unk_token_id) for ch in text]

    def decode(self, ids: Sequence[int]) -> str:
        """Characters for ids; EOS is dropped and unknown ids become U+FFFD."""
        out = []
        for i in ids:
            if i == self.eos_token_id:
                continue
            out.append(self.alphabet[i] if 0 <= i < len(self.alphabet) else "\ufffd")
        return "".join(out)

    def token_id(self, token: str) -> int:
        """The id of one character, or of the EOS token."""
        if token == self.eos_token:
            return self.eos_token_id
        if token not in self._ids:
            raise ValueError(f"{token!r} is not in the alphabet")
        return self._ids[token]


class HFTokenizerCodec:
    """Adapts a Hugging Face tokenizer (without importing transformers here)."""

    def __init__(self, tokenizer: Any) -> None:
        if getattr(tokenizer, "eos_token_id", None) is None:
            raise ValueError("the tokenizer has no eos_token_id; set one before wrapping")
        self.tokenizer = tokenizer
        self.eos_token_id = int(tokenizer.eos_token_id)
        self.vocab_size = len(tokenizer)

    def encode(self, text: str) -> list[int]:
        """Token ids without special tokens added."""
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int]) -> str:
        """Text for ids, special tokens dropped."""
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """The model's chat template applied to messages, ready for generation."""
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        return "\n".join(m["content"] for m in messages) + "\n"


def as_codec(tokenizer: Any) -> TokenCodec:
    """A :class:`TokenCodec` for a built-in or Hugging Face tokenizer."""
    if isinstance(tokenizer, (CharTokenizer, HFTokenizerCodec)):
        return tokenizer
    if (
        hasattr(tokenizer, "encode")
        and hasattr(tokenizer, "decode")
        and hasattr(tokenizer, "__len__")
    ):
        return HFTokenizerCodec(tokenizer)
    raise TypeError(
        "tokenizer must be a CharTokenizer or a Hugging Face tokenizer, "
        f"got {type(tokenizer).__name__}"
    )


Shaping = Callable[[str, int], float]


class TokenLevel(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """One token per step over a text environment; the verifier's reward when the episode ends.

    Observation: ``{"tokens": int64[max_prompt_tokens + max_new_tokens], "length": int64[1]}``,
    token ids left-aligned and padded with ``vocab_size`` (an id no token has). Action:
    ``Discrete(len(allowed))`` indexing ``allowed_tokens`` (default: the whole vocabulary).
    """

    def __init__(
        self,
        env: gym.Env,
        tokenizer: Any,
        *,
        max_prompt_tokens: int = 128,
        max_new_tokens: int = 16,
        allowed_tokens: Sequence[int | str] | None = None,
        shaping: Shaping | None = None,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self,
            tokenizer=tokenizer,
            max_prompt_tokens=max_prompt_tokens,
            max_new_tokens=max_new_tokens,
            allowed_tokens=allowed_tokens,
            shaping=shaping,
        )
        gym.Wrapper.__init__(self, env)
        if max_prompt_tokens < 1 or max_new_tokens < 1:
            raise ValueError("max_prompt_tokens and max_new_tokens must be >= 1")
        self.codec = as_codec(tokenizer)
        self.max_prompt_tokens = max_prompt_tokens
        self.max_new_tokens = max_new_tokens
        self.shaping = shaping
        self.pad_id = self.codec.vocab_size
        self.allowed = self._allowed_ids(allowed_tokens)
        self.max_length = max_prompt_tokens + max_new_tokens
        self.observation_space = spaces.Dict(
            {
                "tokens": spaces.Box(0, self.pad_id, shape=(self.max_length,), dtype=np.int64),
                "length": spaces.Box(0, self.max_length, shape=(1,), dtype=np.int64),
            }
        )
        self.action_space = spaces.Discrete(len(self.allowed))
        self._ids: list[int] = []
        self._generated: list[int] = []
        self._text_observation: Any = None

    def _allowed_ids(self, allowed: Sequence[int | str] | None) -> np.ndarray:
        if allowed is None:
            return np.arange(self.codec.vocab_size, dtype=np.int64)
        ids: list[int] = []
        for token in allowed:
            if isinstance(token, str):
                if isinstance(self.codec, CharTokenizer):
                    encoded = [self.codec.token_id(token)]
                else:
                    encoded = self.codec.encode(token)
                if len(encoded) != 1:
                    raise ValueError(f"allowed token {token!r} is {len(encoded)} tokens, not one")
                token = encoded[0]
            if not 0 <= int(token) < self.codec.vocab_size:
                raise ValueError(f"allowed token id {token} is outside the vocabulary")
            if int(token) not in ids:
                ids.append(int(token))
        if self.codec.eos_token_id not in ids:
            ids.append(self.codec.eos_token_id)  # the agent must be able to stop
        return np.asarray(ids, dtype=np.int64)

    # --- text <-> tokens -----------------------------------------------------------------------

    def _prompt_text(self, observation: Any) -> str:
        if isinstance(observation, str):
            return observation
        if isinstance(self.codec, HFTokenizerCodec):
            return self.codec.render_chat(observation)
        return "\n".join(m["content"] for m in observation) + "\n"

    def _new_text(self, before: Any, completion: str, after: Any) -> str:
        """The part of the next observation that the wrapped environment added."""
        if isinstance(after, str):
            return after[len(before) + len(completion) :]
        return "\n".join(m["content"] for m in after[len(before) + 1 :]) + "\n"

    def _observation(self) -> dict[str, np.ndarray]:
        ids = self._ids + self._generated
        tokens = np.full(self.max_length, self.pad_id, dtype=np.int64)
        tokens[: len(ids)] = ids
        return {"tokens": tokens, "length": np.array([len(ids)], dtype=np.int64)}

    # --- Gymnasium API ---------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset the text environment and tokenise its prompt."""
        observation, info = self.env.reset(seed=seed, options=options)
        ids = self.codec.encode(self._prompt_text(observation))
        if len(ids) > self.max_prompt_tokens:
            raise ValueError(
                f"the prompt is {len(ids)} tokens, over max_prompt_tokens={self.max_prompt_tokens}"
            )
        self._ids, self._generated = ids, []
        self._text_observation = observation
        return self._observation(), info

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Append one token; at EOS or the budget, send the completion to the text environment."""
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        token = int(self.allowed[int(action)])
        finished = token == self.codec.eos_token_id
        if not finished:
            self._generated.append(token)
        ending = finished or len(self._generated) >= self.max_new_tokens
        # Decoding the whole prefix costs O(length) per token: only when something reads it.
        prefix = self.codec.decode(self._generated) if self.shaping or ending else ""
        reward = float(self.shaping(prefix, token)) if self.shaping else 0.0
        if not ending:
            return self._observation(), reward, False, False, {}

        completion = prefix
        observation, env_reward, terminated, truncated, info = self.env.step(completion)
        info = {**info, "completion": completion}
        reward += float(env_reward)
        if not (terminated or truncated):
            # Multi-turn: keep the token stream and append only what the environment added.
            new_ids = self.codec.encode(
                self._new_text(self._text_observation, completion, observation)
            )
            stream = self._ids + self._generated + [self.codec.eos_token_id] + new_ids
            if len(stream) > self.max_prompt_tokens:
                truncated = True  # no room left for another turn
            else:
                self._ids = stream
        self._generated = []
        self._text_observation = copy.deepcopy(observation)
        return self._observation(), reward, bool(terminated), bool(truncated), info
