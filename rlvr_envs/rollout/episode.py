"""What a rollout produces: :class:`Episode` records and the :class:`RolloutBatch` of one collection.

Faults are recorded the same way for every caller. An episode is *not valid* when something other
than the answer decided its outcome: an environment that raised, an agent that could not answer
this observation (``agent_error``), or a verifier or sandbox fault (``error`` / ``sandbox_error``
verdicts). Training drops invalid episodes and counts them; evaluation keeps them and reports them
by status. Either way the reason is in :attr:`Episode.fault`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..agent.protocol import Observation
from ..verdict import INFRASTRUCTURE_STATUSES, Status, Verdict

AGENT_ERROR = "agent_error"  # a verdict status: the agent could not answer this observation
FAULT_STATUSES = frozenset(status.value for status in INFRASTRUCTURE_STATUSES) | {AGENT_ERROR}


def fault_verdict(reason: str, *, status: str = Status.ERROR.value) -> dict[str, Any]:
    """The verdict recorded for a turn that a fault ended (``error`` or ``agent_error``)."""
    verdict = Verdict.make(Status.ERROR, reason).to_dict()
    verdict["status"] = status
    return verdict


@dataclass
class Episode:
    """One episode: the token stream and everything a trainer or a report needs.

    ``token_ids``, ``loss_mask`` and ``logprobs`` are aligned; ``loss_mask`` is 1 exactly on tokens
    the agent sampled and ``logprobs`` is 0.0 wherever the mask is 0. They are empty in text mode.
    ``reward`` is the undiscounted return (the sum of ``turn_rewards``). ``seed`` resets the
    environment (None: the task id alone picks the task); ``sample_seed`` seeds the agent's
    sampling when the rollout assigns one seed per sample.
    """

    index: int
    group_id: int = 0
    task_id: str | None = None
    seed: int | None = None
    observation: Observation = ""  # the first observation (the task's prompt)
    sample_seed: int | None = None
    reset_info: dict[str, Any] = field(default_factory=dict)
    token_ids: list[int] = field(default_factory=list)
    loss_mask: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    prompt_length: int = 0
    completions: list[str] = field(default_factory=list)
    turn_rewards: list[float] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    reward_components: list[dict[str, float]] = field(default_factory=list)
    truncated: bool = False  # some turn hit max_new_tokens (or the context) without stopping
    env_truncated: bool = False  # the environment's turn limit ended the episode
    terminated: bool = False
    num_generated_tokens: int = 0
    tokens_source: str = "none"  # how tokens were counted: agent, tokenizer or approximate
    generate_s: float = 0.0  # this episode's share of generation time
    verify_s: float = 0.0  # time in the environment's step (verification)
    error: str | None = None  # an environment or agent failure, recorded with on_error="record"
    tool_use: dict[str, Any] = field(default_factory=dict)  # tool-call counts (ToolUse envs)

    @property
    def reward(self) -> float:
        """The episode's return."""
        return float(sum(self.turn_rewards))

    @property
    def num_turns(self) -> int:
        """How many times the agent answered."""
        return len(self.completions)

    @property
    def valid(self) -> bool:
        """False when an environment, agent or verifier fault (not the answer) decided the outcome."""
        return self.fault is None

    @property
    def fault(self) -> str | None:
        """Why the episode is not valid, or None."""
        if self.error is not None:
            return self.error
        for verdict in self.verdicts:
            if verdict.get("status") in FAULT_STATUSES:
                return str(verdict.get("reason") or verdict.get("status"))
        return None

    @property
    def correct(self) -> bool:
        """The last verdict's ``correct`` (a full reward when the environment gives no verdict)."""
        if not self.verdicts:
            return False
        return bool(self.verdicts[-1].get("correct", self.reward >= 1.0))

    def add_fault(self, reason: str, *, status: str = Status.ERROR.value) -> None:
        """End the current turn on a fault: a zero reward and a fault verdict."""
        self.error = reason
        self.turn_rewards.append(0.0)
        self.verdicts.append(fault_verdict(reason, status=status))
        self.reward_components.append({})


@dataclass
class RolloutBatch:
    """Episodes ordered by group (task), then by sample; ``timings`` in seconds."""

    episodes: list[Episode]
    group_size: int
    num_tasks: int
    mode: str  # "tokens" or "text"
    timings: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.episodes)

    def __iter__(self) -> Iterator[Episode]:
        return iter(self.episodes)

    @property
    def rewards(self) -> list[float]:
        """Episode returns, in episode order."""
        return [e.reward for e in self.episodes]

    @property
    def num_generated_tokens(self) -> int:
        """Tokens sampled over the whole batch."""
        return sum(e.num_generated_tokens for e in self.episodes)

    def groups(self) -> list[list[Episode]]:
        """Episodes grouped by task, in group order."""
        grouped: dict[int, list[Episode]] = {}
        for episode in self.episodes:
            grouped.setdefault(episode.group_id, []).append(episode)
        return [grouped[k] for k in sorted(grouped)]
