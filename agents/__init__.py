"""LLM policy agents for rlvr-envs: Hugging Face models and OpenAI-compatible servers behind the
agent protocol of :mod:`rlvr_envs.agent`, the GRPO trainer (:mod:`agents.grpo`) and SB3 helpers.

The protocol, the callable wrapper, the spec parser and the rollout engine live in ``rlvr_envs``
(they need no torch) and are re-exported here. ``import agents`` is light: torch and transformers
load only when a model-backed piece is used.
"""

from __future__ import annotations

import importlib
from typing import Any

from rlvr_envs.agent import (
    Agent,
    AgentError,
    AuthenticationError,
    BadRequestError,
    CallableAgent,
    ContextLengthError,
    Generation,
    Observation,
    SamplingParams,
    ServerError,
    ServerUnavailableError,
    TokenAgent,
    from_spec,
    supports_tokens,
)

_LAZY = {
    "HFAgent": "agents.hf",
    "OpenAIAgent": "agents.openai_agent",
    "CompletionServer": "agents.serve",
    "build_tiny_model": "agents.tiny",
    "pad_episodes": "agents.tensors",
    "collect_rollouts": "rlvr_envs.rollout",
    "Episode": "rlvr_envs.rollout",
    "RolloutBatch": "rlvr_envs.rollout",
    "RolloutRunner": "rlvr_envs.rollout",
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
