"""The environment server's settings (no web framework needed to build or check them)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TOKEN_VARIABLE = "RLVR_ENVS_TOKEN"
MIB = 1 << 20


@dataclass(frozen=True)
class ServerConfig:
    """What ``rlvr-envs serve`` serves and the limits it enforces.

    ``max_message_bytes`` caps a WebSocket message and an HTTP body (an oversize one is refused:
    WebSocket close code 1009, HTTP 413). ``idle_timeout_s`` closes a session nobody used for
    that long; ``step_timeout_s`` gives up a session whose reset or step runs longer. ``token``
    (default ``$RLVR_ENVS_TOKEN``) makes every endpoint but ``/health`` require
    ``Authorization: Bearer <token>``.
    """

    env_id: str
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    max_sessions: int = 1024
    idle_timeout_s: float = 600.0
    step_timeout_s: float = 300.0
    max_message_bytes: int = 4 * MIB
    threads: int = 32
    token: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.env_id, str) or not self.env_id:
            raise ValueError("env_id must name a registered environment")
        for name in ("max_sessions", "max_message_bytes", "threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        for name in ("idle_timeout_s", "step_timeout_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
        if self.token is not None and not self.token.strip():
            raise ValueError("an empty token would let everyone in; omit it instead")

    @classmethod
    def with_env_token(cls, **settings: Any) -> ServerConfig:
        """A config whose token defaults to ``$RLVR_ENVS_TOKEN`` when none is given."""
        if settings.get("token") is None:
            settings["token"] = os.environ.get(TOKEN_VARIABLE) or None
        return cls(**settings)
