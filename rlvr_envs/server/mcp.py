"""``POST /mcp``: the environment as MCP tools over JSON-RPC 2.0 (``tools/list``, ``tools/call``).

The tools are ``reset``, ``step`` and ``state``. Over HTTP a session is named by ``session_id``
(in ``params`` or in the tool's ``arguments``): ``reset`` without one opens a session and returns
its id, and openenv's ``openenv/session/create`` / ``openenv/session/close`` manage them
explicitly. Over the WebSocket (a ``{"type": "mcp"}`` frame) the tools act on the connection's
own session. An environment's failure is a tool result with ``isError: true``; a malformed call
is a JSON-RPC error.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from .models import Action, ResetData, describe_validation_error
from .protocol import ProtocolError
from .sessions import Session, SessionManager

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
SERVER_ERROR = -32000
PROTOCOL_VERSION = "2025-03-26"

_SESSION_ID = {"type": "string", "description": "the session (HTTP only; reset returns it)"}
TOOLS = [
    {
        "name": "reset",
        "description": "Start an episode; returns the prompt (and, over HTTP, the session_id).",
        "inputSchema": {
            "type": "object",
            "properties": {
                "seed": {"type": "integer", "minimum": 0},
                "episode_id": {"type": "string"},
                "options": {"type": "object", "description": 'e.g. {"task_id": ...}'},
                "session_id": _SESSION_ID,
            },
        },
    },
    {
        "name": "step",
        "description": "Submit a completion; returns the verdict, the reward and the next prompt.",
        "inputSchema": {
            "type": "object",
            "properties": {"message": {"type": "string"}, "session_id": _SESSION_ID},
            "required": ["message"],
        },
    },
    {
        "name": "state",
        "description": "The session's episode id, step count, task id and whether it is done.",
        "inputSchema": {"type": "object", "properties": {"session_id": _SESSION_ID}},
    },
]


def error_response(code: int, message: str, request_id: Any = None, data: Any = None) -> dict:
    """A JSON-RPC error object."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def _result(result: Any, request_id: Any) -> dict:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def _tool_result(payload: dict[str, Any], is_error: bool = False) -> dict[str, Any]:
    text = json.dumps(payload, ensure_ascii=False)
    return {
        "content": [{"type": "text", "text": text}],
        "structuredContent": payload,
        "isError": is_error,
    }


class McpHandler:
    """Answers JSON-RPC requests with the session manager's environments."""

    def __init__(self, manager: SessionManager, server_info: dict[str, str]) -> None:
        self.manager = manager
        self.server_info = server_info

    async def handle(self, body: Any, ws_session: Session | None = None) -> dict | None:
        """The JSON-RPC response to ``body`` (None for a notification)."""
        if isinstance(body, list):
            return error_response(INVALID_REQUEST, "batch requests are not supported")
        if not isinstance(body, dict) or body.get("jsonrpc") != "2.0":
            return error_response(INVALID_REQUEST, "expected a JSON-RPC 2.0 request object")
        request_id = body.get("id")
        method, params = body.get("method"), body.get("params", {})
        if not isinstance(method, str):
            return error_response(INVALID_REQUEST, "'method' must be a string", request_id)
        if method.startswith("notifications/"):
            return None
        if not isinstance(params, dict):
            return error_response(INVALID_PARAMS, "'params' must be an object", request_id)
        try:
            return _result(await self._dispatch(method, params, ws_session), request_id)
        except _RpcError as error:
            return error_response(error.code, error.message, request_id, error.data)
        except ValidationError as error:
            return error_response(
                INVALID_PARAMS, describe_validation_error(error.errors()), request_id
            )

    async def _dispatch(self, method: str, params: dict, ws_session: Session | None) -> Any:
        if method == "initialize":
            return {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": self.server_info,
            }
        if method == "ping":
            return {}
        if method == "tools/list":
            return {"tools": TOOLS}
        if method == "tools/call":
            return await self._call_tool(params, ws_session)
        if method == "openenv/session/create":
            session = await self._protocol(self.manager.open("http"))
            return {"session_id": session.id}
        if method == "openenv/session/close":
            session = self._named_session(params.get("session_id"))
            await self.manager.close(session)
            return {"session_id": session.id, "closed": True}
        raise _RpcError(METHOD_NOT_FOUND, f"method not found: {method}")

    async def _call_tool(self, params: dict, ws_session: Session | None) -> dict:
        name, arguments = params.get("name"), dict(params.get("arguments") or {})
        if name not in ("reset", "step", "state"):
            known = ", ".join(t["name"] for t in TOOLS)
            raise _RpcError(INVALID_PARAMS, f"unknown tool {name!r}; tools: {known}")
        session_id = arguments.pop("session_id", None) or params.get("session_id")
        opened = None  # a session this call opens, closed again if the call fails
        try:
            if ws_session is not None:
                session = ws_session
            elif session_id is not None:
                session = self._named_session(session_id)
            elif name == "reset":
                session = opened = await self.manager.open("http")
            else:
                raise _RpcError(INVALID_PARAMS, f"{name} needs the session_id that reset returned")
            if name == "reset":
                data = ResetData.model_validate(arguments)
                payload = await self.manager.reset(
                    session, data.seed, data.env_options(), data.episode_id
                )
            elif name == "step":
                action = Action.model_validate(arguments)
                payload = await self.manager.step(session, action.message)
            else:
                payload = self.manager.state(session)
        except ProtocolError as error:
            if opened is not None:
                await self.manager.close(opened)
            return _tool_result({"code": error.code, "message": error.message}, is_error=True)
        except ValidationError:
            if opened is not None:
                await self.manager.close(opened)
            raise
        if ws_session is None:
            payload = {**payload, "session_id": session.id}
        return _tool_result(payload)

    def _named_session(self, session_id: Any) -> Session:
        if not isinstance(session_id, str) or not session_id:
            raise _RpcError(INVALID_PARAMS, "'session_id' (a string) is required")
        try:
            return self.manager.get(session_id)
        except ProtocolError as error:
            raise _RpcError(INVALID_PARAMS, error.message, {"code": error.code}) from None

    @staticmethod
    async def _protocol(awaitable: Any) -> Any:
        try:
            return await awaitable
        except ProtocolError as error:
            raise _RpcError(SERVER_ERROR, error.message, {"code": error.code}) from None


class _RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data
