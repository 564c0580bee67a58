"""The agent side of the bottom layer: the protocol, the callable wrapper and the spec parser.

Evaluation and the rollout engine drive any object that follows :class:`Agent`; the ``agents``
package implements it with models and servers and registers the ``hf:`` and ``openai:`` spec
kinds. Nothing here imports torch or the ``agents`` package.
"""

from __future__ import annotations

from .callable import AgentOutputError, CallableAgent, Completion, batched
from .protocol import (
    TOOLS_KEY,
    Agent,
    AgentError,
    AuthenticationError,
    BadRequestError,
    ContextLengthError,
    Generation,
    Message,
    Observation,
    SamplingParams,
    ServerError,
    ServerUnavailableError,
    TokenAgent,
    check_observations,
    split_tools,
    supports_tokens,
)
from .spec import (
    AgentSpecError,
    agent_kinds,
    describe_agent,
    from_spec,
    has_act,
    import_target,
    register_agent_kind,
    resolve_agent,
)

__all__ = [
    "Agent",
    "AgentError",
    "AgentOutputError",
    "AgentSpecError",
    "AuthenticationError",
    "BadRequestError",
    "CallableAgent",
    "Completion",
    "ContextLengthError",
    "Generation",
    "Message",
    "Observation",
    "SamplingParams",
    "ServerError",
    "ServerUnavailableError",
    "TOOLS_KEY",
    "TokenAgent",
    "agent_kinds",
    "batched",
    "check_observations",
    "describe_agent",
    "from_spec",
    "has_act",
    "import_target",
    "register_agent_kind",
    "resolve_agent",
    "split_tools",
    "supports_tokens",
]
