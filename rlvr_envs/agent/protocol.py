"""The agent protocol, sampling parameters, the training-side generation record and agent errors.

This is the bottom of the agent side: the rollout engine and evaluation (in ``rlvr_envs``) drive
any object that follows it, and the ``agents`` package implements it (Hugging Face models,
OpenAI-compatible servers). Nothing here imports torch.

An agent maps a batch of observations (prompt strings, or chat message lists) to completion texts:
that is all evaluation needs. Training also needs what was sampled, token by token, so an agent
that owns a tokenizer offers ``generate`` / ``generate_tokens`` returning :class:`Generation`
records (prompt ids, sampled ids, their sampling log-probs, truncation).

With ``n`` samples per observation every batch call returns a flat list, observation-major:
``[obs0 sample0, obs0 sample1, ..., obs1 sample0, ...]``. An agent whose ``act`` (or
``generate``) names a ``seeds`` parameter is given one seed per sample in that order, so that a
sample does not depend on the other samples of its batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol, runtime_checkable

Message = dict[str, Any]
Observation = str | list[Message]

# A chat observation's first message may carry the tools the model can call (their OpenAI
# function schemas) under this key; agents give them to the chat template
# (``apply_chat_template(..., tools=...)``) or send them as the API's ``tools``. Assistant
# messages may carry ``tool_calls`` and ``{"role": "tool"}`` messages the results, as in the
# OpenAI and Hugging Face chat formats.
TOOLS_KEY = "tools"

_ALIASES = {"max_tokens": "max_new_tokens", "num_samples": "n", "stop_strings": "stop"}


@dataclass(frozen=True)
class SamplingParams:
    """How to sample: ``temperature=0`` is greedy decoding; ``seed`` seeds the call's sampler."""

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0 keeps every token
    max_new_tokens: int = 256
    stop: tuple[str, ...] = ()
    n: int = 1
    seed: int | None = None

    def __post_init__(self) -> None:
        stop = self.stop
        if isinstance(stop, str):
            stop = (stop,)
        stop = tuple(stop or ())
        if not all(isinstance(s, str) and s for s in stop):
            raise ValueError(f"stop strings must be non-empty strings, got {self.stop!r}")
        object.__setattr__(self, "stop", stop)
        if not (isinstance(self.temperature, (int, float)) and self.temperature >= 0):
            raise ValueError(f"temperature must be >= 0, got {self.temperature!r}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if not (isinstance(self.top_k, int) and self.top_k >= 0):
            raise ValueError(f"top_k must be an int >= 0, got {self.top_k!r}")
        if not (isinstance(self.max_new_tokens, int) and self.max_new_tokens >= 1):
            raise ValueError(f"max_new_tokens must be an int >= 1, got {self.max_new_tokens!r}")
        if not (isinstance(self.n, int) and self.n >= 1):
            raise ValueError(f"n (samples per observation) must be an int >= 1, got {self.n!r}")
        if self.seed is not None and not isinstance(self.seed, int):
            raise ValueError(f"seed must be an int or None, got {self.seed!r}")

    @property
    def greedy(self) -> bool:
        """True when decoding takes the most likely token."""
        return self.temperature == 0

    @staticmethod
    def alias(name: str) -> str:
        """The field an OpenAI-style alias stands for (``max_tokens`` -> ``max_new_tokens``)."""
        return _ALIASES.get(name, name)

    @classmethod
    def build(
        cls, params: SamplingParams | Mapping[str, Any] | None = None, **overrides: Any
    ) -> SamplingParams:
        """Merge a base (params or a dict) with keyword overrides; accepts OpenAI-style aliases."""
        values: dict[str, Any] = {}
        if isinstance(params, SamplingParams):
            values = {f.name: getattr(params, f.name) for f in fields(cls)}
        elif params is not None:
            values = dict(params)
        values.update(overrides)
        known = {f.name for f in fields(cls)}
        merged: dict[str, Any] = {}
        for key, value in values.items():
            name = cls.alias(key)
            if name not in known:
                raise TypeError(
                    f"unknown sampling parameter {key!r}; known: {sorted(known | set(_ALIASES))}"
                )
            if value is not None or name == "seed":
                merged[name] = value
        return cls(**merged)


@dataclass
class Generation:
    """One sampled completion, token-exact, for training.

    ``token_ids`` are every sampled token, the final EOS or stop-string tokens included;
    ``logprobs[i]`` is the sampling log-probability of ``token_ids[i]``: ``log_softmax(logits / T)``
    with ``T = temperature`` (``T = 1`` when greedy), before top-p / top-k filtering, which is
    what a trainer recomputes. ``text`` has the EOS and anything from a stop string on removed.
    """

    text: str
    prompt_ids: list[int]
    token_ids: list[int]
    logprobs: list[float]
    truncated: bool  # max_new_tokens reached without an EOS token or a stop string
    finish_reason: str = "stop"  # "stop" or "length"
    stop_reason: int | str | None = None  # the EOS id or stop string that ended generation
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_tokens(self) -> int:
        """How many tokens were sampled."""
        return len(self.token_ids)


@runtime_checkable
class Agent(Protocol):
    """Anything that answers observations with completion texts."""

    def act(self, observations: Sequence[Observation], **sampling: Any) -> list[str]:
        """One completion per observation and sample (observation-major)."""
        ...


@runtime_checkable
class TokenAgent(Agent, Protocol):
    """An agent that also reports what it sampled, token by token, for training."""

    tokenizer: Any

    def generate(self, observations: Sequence[Observation], **sampling: Any) -> list[Generation]:
        """Token-exact generations for observations (observation-major with ``n`` samples)."""
        ...

    def generate_tokens(
        self, prompts: Sequence[Sequence[int]], **sampling: Any
    ) -> list[Generation]:
        """Token-exact generations continuing already tokenised prompts."""
        ...


def split_tools(messages: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list | None]:
    """The messages without tool declarations, and the declared tools (None when there are none)."""
    tools = None
    plain = []
    for message in messages:
        message = dict(message)
        declared = message.pop(TOOLS_KEY, None)
        if declared is not None and tools is None:
            tools = list(declared)
        plain.append(message)
    return plain, tools


def supports_tokens(agent: Any) -> bool:
    """True when ``agent`` can return token ids and log-probs (``generate_tokens`` + a tokenizer)."""
    return (
        callable(getattr(agent, "generate_tokens", None))
        and getattr(agent, "tokenizer", None) is not None
    )


def check_observations(observations: Any) -> list[Observation]:
    """Validate a batch of observations; a clear ``TypeError`` for the usual mistakes."""
    if isinstance(observations, str):
        raise TypeError("act() takes a list of observations; wrap a single prompt as [prompt]")
    if not isinstance(observations, Sequence):
        raise TypeError(f"observations must be a list, got {type(observations).__name__}")
    batch = list(observations)
    for i, obs in enumerate(batch):
        if isinstance(obs, str):
            continue
        if isinstance(obs, Mapping):
            raise TypeError(
                f"observation {i} is a single message; a chat observation is a list of messages, "
                "and act() takes a list of observations: act([[{'role': 'user', 'content': ...}]])"
            )
        if (
            isinstance(obs, Sequence)
            and obs
            and all(
                isinstance(m, Mapping)
                and isinstance(m.get("role"), str)
                and isinstance(m.get("content"), str)
                for m in obs
            )
        ):
            continue
        raise TypeError(
            f"observation {i} must be a string or a non-empty list of {{'role', 'content'}} messages "
            f"with string values, got {obs!r:.200}"
        )
    return batch


class AgentError(RuntimeError):
    """An agent could not produce completions."""


class ContextLengthError(AgentError, ValueError):
    """The prompt (plus the requested new tokens) does not fit the model's context."""


class BadRequestError(AgentError, ValueError):
    """The request was rejected as invalid."""


class AuthenticationError(AgentError):
    """The server rejected the API key."""


class ServerUnavailableError(AgentError, ConnectionError):
    """The server could not be reached, or kept failing after retries."""


class ServerError(AgentError):
    """The server answered with an error that retries did not cure."""
