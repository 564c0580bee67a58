"""Stable-Baselines3 helpers for token-level rlvr-envs environments.

``rlvr_envs.wrappers.TokenLevel`` turns a text environment into one SB3 can train on (a token per
step, Dict observation of token ids). This module adds what SB3 needs around it: a features
extractor that embeds token ids (SB3 would otherwise feed raw ids as floats), vectorised
environment builders, and an evaluation loop that reports the verifier's mean reward.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv
from torch import nn

import rlvr_envs  # noqa: F401 - registers the rlvr/ environments
from rlvr_envs.wrappers import TokenLevel


class TokenFeatures(BaseFeaturesExtractor):
    """Embeds each token id of a ``TokenLevel`` observation and concatenates the embeddings."""

    def __init__(self, observation_space: spaces.Dict, embed_dim: int = 16) -> None:
        tokens = observation_space["tokens"]
        length = int(tokens.shape[0])
        super().__init__(observation_space, features_dim=length * embed_dim)
        self.embed = nn.Embedding(int(tokens.high.max()) + 1, embed_dim)

    def forward(self, observations: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Embeddings of every position, flattened (padding has its own embedding)."""
        return self.embed(observations["tokens"].long()).flatten(1)


def token_env_fn(
    env_id: str,
    tokenizer: Any,
    *,
    env_kwargs: Mapping[str, Any] | None = None,
    monitor: bool = True,
    **wrapper_kwargs: Any,
) -> Callable[[], gym.Env]:
    """A picklable factory for ``TokenLevel(gym.make(env_id, **env_kwargs), tokenizer)``."""

    def make() -> gym.Env:
        env = TokenLevel(gym.make(env_id, **dict(env_kwargs or {})), tokenizer, **wrapper_kwargs)
        return Monitor(env) if monitor else env

    return make


def make_token_vec_env(
    env_id: str,
    tokenizer: Any,
    n_envs: int = 4,
    *,
    subprocess: bool = False,
    seed: int | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    **wrapper_kwargs: Any,
) -> VecEnv:
    """An SB3 ``DummyVecEnv`` (or ``SubprocVecEnv``) of token-level environments."""
    fns = [
        token_env_fn(env_id, tokenizer, env_kwargs=env_kwargs, **wrapper_kwargs)
        for _ in range(n_envs)
    ]
    vec = SubprocVecEnv(fns) if subprocess else DummyVecEnv(fns)
    if seed is not None:
        vec.seed(seed)
    return vec


def evaluate_reward(
    env: gym.Env,
    model: Any | None = None,
    *,
    episodes: int = 200,
    seed: int = 0,
    deterministic: bool = True,
) -> float:
    """Mean episode reward of an SB3 model (or of uniformly random actions when ``model`` is None)."""
    rng = np.random.default_rng(seed)
    total = 0.0
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            if model is None:
                action = int(rng.integers(env.action_space.n))
            else:
                action, _ = model.predict(obs, deterministic=deterministic)
                action = int(action)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
    return total / episodes
