"""OpenEnv's wire format for text environments, in both directions, with no web framework.

A reset or step result travels as ``{"observation": {...}, "reward": float | null, "done": bool}``.
The observation object carries the prompt (text or chat messages) under ``prompt`` and lifts the
parts of Gymnasium's ``info`` that a trainer reads (``task_id``, ``turn``, ``verdict``,
``reward_components``, ``metadata``) to named fields; the rest of ``info`` rides in ``info``. The
server encodes with :func:`result_payload`; :class:`rlvr_envs.remote.RemoteEnv` decodes with
:func:`decode_result`, so a remote step returns what a local one does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..verdict import Verdict
from ..verdict import _plain as jsonable  # the same plain-data conversion verdicts use

# Error codes of ``{"type": "error", "data": {"message", "code"}}`` frames. The first six are
# openenv-core's own; the rest name failures that its set has no word for.
INVALID_JSON = "INVALID_JSON"
UNKNOWN_TYPE = "UNKNOWN_TYPE"
VALIDATION_ERROR = "VALIDATION_ERROR"
EXECUTION_ERROR = "EXECUTION_ERROR"
CAPACITY_REACHED = "CAPACITY_REACHED"
FACTORY_ERROR = "FACTORY_ERROR"
RESET_NEEDED = "RESET_NEEDED"
STEP_TIMEOUT = "STEP_TIMEOUT"
SESSION_EXPIRED = "SESSION_EXPIRED"
UNKNOWN_SESSION = "UNKNOWN_SESSION"
UNAUTHORIZED = "UNAUTHORIZED"
SHUTTING_DOWN = "SHUTTING_DOWN"

# The HTTP status each code maps to on the HTTP endpoints.
HTTP_STATUS = {
    INVALID_JSON: 400,
    UNKNOWN_TYPE: 400,
    VALIDATION_ERROR: 422,
    EXECUTION_ERROR: 500,
    CAPACITY_REACHED: 503,
    FACTORY_ERROR: 500,
    RESET_NEEDED: 409,
    STEP_TIMEOUT: 504,
    SESSION_EXPIRED: 404,
    UNKNOWN_SESSION: 404,
    UNAUTHORIZED: 401,
    SHUTTING_DOWN: 503,
}

# ``info`` keys lifted to fields of the observation object (null when the step has none).
LIFTED_INFO = ("task_id", "turn", "verdict", "reward_components", "metadata")


class ProtocolError(Exception):
    """A request the server answers with an error frame (or an HTTP error) of ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        """The HTTP status for this error on the HTTP endpoints."""
        return HTTP_STATUS.get(self.code, 500)

    def frame(self) -> dict[str, Any]:
        """The WebSocket error frame."""
        return {"type": "error", "data": {"message": self.message, "code": self.code}}


def observation_fields(observation: Any, info: Mapping[str, Any], truncated: bool) -> dict:
    """The observation object: the prompt, the lifted ``info`` fields and the rest of ``info``."""
    fields: dict[str, Any] = {"prompt": jsonable(observation), "truncated": bool(truncated)}
    for key in LIFTED_INFO:
        fields[key] = jsonable(info.get(key))
    fields["info"] = {str(k): jsonable(v) for k, v in info.items() if k not in LIFTED_INFO}
    return fields


def reset_payload(observation: Any, info: Mapping[str, Any]) -> dict[str, Any]:
    """The wire form of ``reset()``'s result."""
    return {
        "observation": observation_fields(observation, info, False),
        "reward": None,
        "done": False,
    }


def step_payload(
    observation: Any, reward: Any, terminated: bool, truncated: bool, info: Mapping[str, Any]
) -> dict[str, Any]:
    """The wire form of ``step()``'s result; ``done`` is ``terminated or truncated``."""
    return {
        "observation": observation_fields(observation, info, truncated),
        "reward": float(reward),
        "done": bool(terminated or truncated),
    }


def decode_result(
    payload: Mapping[str, Any], observation_key: str = "prompt"
) -> tuple[Any, float | None, bool, bool, dict[str, Any]]:
    """``(observation, reward, terminated, truncated, info)`` from a reset or step payload.

    An observation object without ``observation_key`` (another OpenEnv environment's) becomes
    its JSON text, with the object itself in ``info["observation"]``. Verdicts are rebuilt so
    their timings compare equal, as local ones do.
    """
    fields = payload.get("observation")
    if not isinstance(fields, Mapping):
        raise ValueError(f"the server's payload has no observation object: {payload!r:.200}")
    reward = payload.get("reward")
    done = bool(payload.get("done", False))
    truncated = bool(fields.get("truncated", False)) and done
    if observation_key in fields:
        observation = fields[observation_key]
        info: dict[str, Any] = dict(fields.get("info") or {})
        for key in LIFTED_INFO:
            if fields.get(key) is not None:
                info[key] = fields[key]
    else:
        observation = json.dumps(fields, sort_keys=True, ensure_ascii=False)
        info = {"observation": dict(fields)}
    if isinstance(info.get("verdict"), Mapping):
        info["verdict"] = Verdict.from_dict(info["verdict"]).to_dict()
    return (
        observation,
        None if reward is None else float(reward),
        done and not truncated,
        truncated,
        info,
    )


def describe_space(space: Any) -> dict[str, Any]:
    """A JSON description of a text or chat-messages space (``/metadata``), for clients."""
    from ..spaces import ChatMessages, UnicodeText

    if isinstance(space, ChatMessages):
        return {
            "type": "chat",
            "max_messages": space.max_messages,
            "max_length": space.max_length,
            "roles": list(space.roles),
        }
    if isinstance(space, UnicodeText):
        return {"type": "text", "min_length": space.min_length, "max_length": space.max_length}
    return {"type": "other", "repr": repr(space)}


def space_from_description(description: Any, default_max_length: int) -> Any:
    """The space :func:`describe_space` described; unicode text when there is no description."""
    from ..spaces import ChatMessages, UnicodeText

    if isinstance(description, Mapping) and description.get("type") == "chat":
        return ChatMessages(
            max_messages=int(description["max_messages"]),
            max_length=int(description["max_length"]),
            roles=tuple(description.get("roles") or ChatMessages().roles),
        )
    if isinstance(description, Mapping) and description.get("type") == "text":
        return UnicodeText(
            max_length=int(description["max_length"]),
            min_length=int(description.get("min_length", 0)),
        )
    return UnicodeText(max_length=default_max_length)
