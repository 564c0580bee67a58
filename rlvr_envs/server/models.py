"""Request and response models of the environment server (pydantic; imported only when serving).

They validate every incoming reset, step and session request, whether it came over the WebSocket,
HTTP or MCP, and they are the JSON Schemas ``GET /schema`` and ``/openapi.json`` publish.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Action(BaseModel):
    """An action: the completion text, openenv's ``{"message": ...}`` convention."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(description="the model's completion text (tool calls included)")
    metadata: dict[str, Any] = Field(default_factory=dict, description="ignored by the server")


class ResetData(BaseModel):
    """Reset parameters; any other key (``task_id``, ``task``) is passed in ``options``."""

    model_config = ConfigDict(extra="allow")

    seed: int | None = Field(default=None, ge=0, description="the same seed gives the same task")
    episode_id: str | None = Field(default=None, max_length=255)
    options: dict[str, Any] | None = Field(default=None, description="reset(options=...)")

    def env_options(self) -> dict[str, Any] | None:
        """``options`` merged with the extra top-level keys (None when there are none)."""
        merged = {**(self.options or {}), **(self.model_extra or {})}
        return merged or None


class HttpResetRequest(ResetData):
    """``POST /reset``: opens a session unless ``session_id`` names one to reset again."""

    session_id: str | None = Field(default=None, max_length=64)


class HttpStepRequest(BaseModel):
    """``POST /step``: one action in the session a ``POST /reset`` opened."""

    model_config = ConfigDict(extra="forbid")

    action: Action
    session_id: str = Field(max_length=64, description="the session_id POST /reset returned")
    timeout_s: float | None = Field(default=None, gt=0, description="at most the server's limit")
    request_id: str | None = Field(default=None, max_length=255)


class SessionRequest(BaseModel):
    """A request that names an HTTP session."""

    model_config = ConfigDict(extra="forbid")

    session_id: str = Field(max_length=64)


class Message(BaseModel):
    """One chat message of a chat-format prompt."""

    role: str
    content: str


class Observation(BaseModel):
    """The observation object: the prompt, and after a step the verdict."""

    prompt: str | list[Message] = Field(description="the prompt or transcript so far")
    task_id: str | None = None
    turn: int | None = None
    verdict: dict[str, Any] | None = Field(
        default=None, description="status, reason, reward, components, ... (after a step)"
    )
    reward_components: dict[str, float] | None = None
    metadata: dict[str, Any] | None = Field(default=None, description="the task's (at reset)")
    truncated: bool = Field(default=False, description="the episode hit its turn limit")
    info: dict[str, Any] = Field(default_factory=dict, description="the rest of Gymnasium's info")


class State(BaseModel):
    """A session's state."""

    episode_id: str | None = None
    step_count: int = Field(default=0, ge=0)
    env_id: str
    task_id: str | None = None
    turn: int = 0
    done: bool = True
    session_id: str | None = None


class StepResponse(BaseModel):
    """The answer to a reset or a step."""

    observation: Observation
    reward: float | None = None
    done: bool = False
    session_id: str | None = Field(default=None, description="HTTP only: pass it to /step")


def schemas() -> dict[str, Any]:
    """JSON Schemas of the action, observation and state (``GET /schema``)."""
    return {
        "action": Action.model_json_schema(),
        "observation": Observation.model_json_schema(),
        "state": State.model_json_schema(),
    }


def describe_validation_error(errors: list[dict[str, Any]]) -> str:
    """A one-line summary of pydantic's errors: where, and what is wrong."""
    parts = []
    for item in errors[:5]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "(body)"
        parts.append(f"{where}: {item.get('msg')}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "invalid request: " + "; ".join(parts) + more
