"""The one rollout engine: agents answer, environments verify; used by training and evaluation.

Nothing here imports torch; tensors for a trainer are built from :class:`Episode` records by the
trainer (``agents.tensors.pad_episodes``).
"""

from __future__ import annotations

from .engine import RolloutRunner, collect_rollouts
from .episode import AGENT_ERROR, FAULT_STATUSES, Episode, RolloutBatch, fault_verdict
from .generation import SEEDINGS, approximate_tokens
from .pools import RolloutError

__all__ = [
    "AGENT_ERROR",
    "FAULT_STATUSES",
    "SEEDINGS",
    "Episode",
    "RolloutBatch",
    "RolloutError",
    "RolloutRunner",
    "approximate_tokens",
    "collect_rollouts",
    "fault_verdict",
]
