"""LLM policy agents for rlvr-envs: one protocol for Hugging Face models, OpenAI-compatible servers
and Python callables, and token-exact group rollouts for RL training.

``import agents`` is light: torch and transformers load only when a model-backed piece is used.
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import (
    Agent,
    AgentError,
    AuthenticationError,
    BadRequestError,
    ContextLengthError,
    Generation,
    Observation,
    SamplingParams,
    ServerError,
    ServerUnavailableError,
    TokenAgent,
    supports_tokens,
)
from .callable_agent import CallableAgent
from .spec import from_spec

_LAZY = {
    "HFAgent": "agents.hf",
    "OpenAIAgent": "agents.openai_agent",
    "CompletionServer": "agents.serve",
    "build_tiny_model": "agents.tiny",
    "collect_rollouts": "agents.rollout",
    "Episode": "agents.rollout",
    "RolloutBatch": "agents.rollout",
    "pad_episodes": "agents.rollout",
}

__all__ = [
    "Agent",
    "AgentError",
    "AuthenticationError",
    "BadRequestError",
    "CallableAgent",
    "ContextLengthError",
    "Generation",
    "Observation",
    "SamplingParams",
    "ServerError",
    "ServerUnavailableError",
    "TokenAgent",
    "from_spec",
    "supports_tokens",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agents' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
