"""The FastAPI application that serves one registered environment over OpenEnv's protocol.

- ``/ws`` (WebSocket): one environment per connection; frames ``reset``, ``step``, ``state``,
  ``close`` (and ``mcp``), answered by ``observation``, ``state`` (or ``mcp``) and ``error``.
- HTTP: ``POST /reset`` opens a session and returns its ``session_id``; ``POST /step`` and
  ``GET /state`` name it; ``POST /close`` ends it (idle ones expire). ``GET /health``,
  ``/metadata``, ``/schema``, ``/openapi.json`` describe the server; ``POST /mcp`` is JSON-RPC.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import gymnasium as gym
from fastapi import Body, FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from .. import __version__
from ..spaces import UnicodeText
from . import protocol
from .config import ServerConfig
from .mcp import PARSE_ERROR, McpHandler, error_response
from .models import (
    Action,
    HttpResetRequest,
    HttpStepRequest,
    ResetData,
    SessionRequest,
    State,
    StepResponse,
    describe_validation_error,
    schemas,
)
from .protocol import ProtocolError
from .sessions import Session, SessionManager, close_env

log = logging.getLogger("rlvr_envs.server")

API_VERSION = "1.0.0"  # the OpenEnv HTTP profile this server follows (openenv-http/1.x)
OPEN_PATHS = frozenset({"/health"})  # reachable without the token (load-balancer probes)
CLOSE_TOO_BIG = 1009  # WebSocket close code for an oversize message (RFC 6455)


def env_metadata(config: ServerConfig, env: gym.Env) -> dict[str, Any]:
    """``GET /metadata``: name, description and the spaces, from one probe instance."""
    from ..registry import env_info

    try:
        description = env_info(config.env_id).description
    except KeyError:
        description = (type(env.unwrapped).__doc__ or "").strip().split("\n")[0]
    return {
        "name": config.env_id,
        "description": description or config.env_id,
        "version": __version__,
        "author": "rlvr-envs",
        "documentation_url": None,
        "readme_content": None,
        "env_kwargs": protocol.jsonable(dict(config.env_kwargs)),
        "observation_space": protocol.describe_space(env.observation_space),
        "action_space": protocol.describe_space(env.action_space),
        "max_sessions": config.max_sessions,
        "max_message_bytes": config.max_message_bytes,
    }


def probe_env(config: ServerConfig, make_env: Callable[[], gym.Env]) -> dict[str, Any]:
    """Build one instance to check the environment is a text environment; its metadata."""
    env = make_env()
    try:
        if not isinstance(env.action_space, (UnicodeText, gym.spaces.Text)):
            raise ValueError(
                f"{config.env_id} is not a text environment (its action space is "
                f"{env.action_space}); the server sends completions as text"
            )
        return env_metadata(config, env)
    finally:
        close_env(env)


class GuardMiddleware:
    """Bearer-token check and the HTTP body size limit, before any route runs."""

    def __init__(self, app: Any, token: str | None, max_body_bytes: int) -> None:
        self.app = app
        self.token = token
        self.max_body_bytes = max_body_bytes

    def _authorized(self, scope: dict) -> bool:
        if self.token is None or scope.get("path") in OPEN_PATHS:
            return True
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, value = given.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), self.token)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "websocket" and not self._authorized(scope):
            await receive()  # the websocket.connect event
            if "websocket.http.response" in scope.get("extensions", {}):
                await _send_json(send, 401, _unauthorized(), prefix="websocket.http.response")
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self._authorized(scope):
            await _send_json(send, 401, _unauthorized(), {b"www-authenticate": b"Bearer"})
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is None:
            await self._limited(scope, receive, send)
        elif length.isdigit() and int(length) > self.max_body_bytes:
            await _send_json(send, 413, self._too_large())
        else:
            await self.app(scope, receive, send)  # h11 stops a body at its stated length

    async def _limited(self, scope: dict, receive: Callable, send: Callable) -> None:
        """Read a body sent without a length (chunked) up to the limit, then run the app."""
        body, more = [], True
        seen = 0
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body.append(message.get("body", b""))
            seen += len(body[-1])
            if seen > self.max_body_bytes:
                await _send_json(send, 413, self._too_large())
                return
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(body), "more_body": False}

        await self.app(scope, replay, send)

    def _too_large(self) -> dict:
        return {"detail": f"request body over {self.max_body_bytes} bytes", "code": "TOO_LARGE"}


def _unauthorized() -> dict:
    return {"detail": "missing or wrong bearer token", "code": protocol.UNAUTHORIZED}


async def _send_json(
    send: Callable,
    status: int,
    body: dict,
    headers: dict | None = None,
    prefix: str = "http.response",
) -> None:
    data = json.dumps(body).encode()
    extra = list((headers or {}).items())
    await send(
        {
            "type": f"{prefix}.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *extra],
        }
    )
    await send({"type": f"{prefix}.body", "body": data})


def create_app(config: ServerConfig, make_env: Callable[[], gym.Env] | None = None) -> FastAPI:
    """The application serving ``config.env_id`` (or what ``make_env`` builds)."""
    if make_env is None:

        def make_env() -> gym.Env:
            return gym.make(config.env_id, **dict(config.env_kwargs))

    metadata = probe_env(config, make_env)
    manager = SessionManager(
        make_env,
        env_id=config.env_id,
        max_sessions=config.max_sessions,
        step_timeout_s=config.step_timeout_s,
        idle_timeout_s=config.idle_timeout_s,
        threads=config.threads,
    )
    mcp = McpHandler(manager, {"name": f"rlvr-envs {config.env_id}", "version": __version__})

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        reaper = asyncio.create_task(manager.reap_idle())
        try:
            yield
        finally:
            reaper.cancel()
            await manager.close_all()  # graceful shutdown: every environment is closed

    app = FastAPI(
        title=f"rlvr-envs: {config.env_id}",
        version=API_VERSION,
        description=f"{metadata['description']} (rlvr-envs {__version__}, OpenEnv protocol)",
        lifespan=lifespan,
    )
    app.state.manager = manager
    app.state.config = config
    app.add_middleware(GuardMiddleware, token=config.token, max_body_bytes=config.max_message_bytes)
    _add_error_handlers(app)
    _add_http_routes(app, manager, metadata)
    _add_mcp_route(app, mcp)
    _add_websocket_route(app, manager, mcp, config)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProtocolError)
    async def protocol_error(request: Request, error: ProtocolError) -> JSONResponse:
        return JSONResponse({"detail": error.message, "code": error.code}, error.http_status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = error.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            body = {"detail": "the body is not valid JSON", "code": protocol.INVALID_JSON}
            return JSONResponse(body, 400)
        detail = describe_validation_error(errors)
        return JSONResponse({"detail": detail, "code": protocol.VALIDATION_ERROR}, 422)


def _add_http_routes(app: FastAPI, manager: SessionManager, metadata: dict) -> None:
    @app.get("/health", tags=["Health"])
    async def health() -> dict[str, Any]:
        """Liveness, and how many sessions are open."""
        return {
            "status": "healthy",
            "env_id": manager.env_id,
            "sessions": manager.active,
            "max_sessions": manager.max_sessions,
            "steps": manager.steps,
        }

    @app.get("/metadata", tags=["Environment Info"])
    async def get_metadata() -> dict[str, Any]:
        """Name, description and the observation and action spaces."""
        return metadata

    @app.get("/schema", tags=["Schema"])
    async def get_schema() -> dict[str, Any]:
        """JSON Schemas of the action, the observation and the state."""
        return schemas()

    @app.post("/reset", response_model=StepResponse, tags=["Environment Control"])
    async def reset(request: Annotated[HttpResetRequest | None, Body()] = None) -> dict[str, Any]:
        """Start an episode in a new session (or in ``session_id``'s); returns its id."""
        request = request or HttpResetRequest()
        if request.session_id is not None:
            session = manager.get(request.session_id)
        else:
            session = await manager.open("http")
        try:
            payload = await manager.reset(
                session, request.seed, request.env_options(), request.episode_id
            )
        except ProtocolError:
            if request.session_id is None:
                await manager.close(session)  # a session nobody learnt the id of
            raise
        return {**payload, "session_id": session.id}

    @app.post("/step", response_model=StepResponse, tags=["Environment Control"])
    async def step(request: HttpStepRequest) -> dict[str, Any]:
        """Submit a completion in the session ``POST /reset`` opened."""
        session = manager.get(request.session_id)
        payload = await manager.step(session, request.action.message, request.timeout_s)
        return {**payload, "session_id": session.id}

    @app.get("/state", response_model=State, tags=["State Management"])
    async def state(session_id: str) -> dict[str, Any]:
        """The state of the session ``session_id``."""
        return manager.state(manager.get(session_id))

    @app.post("/close", tags=["Environment Control"])
    async def close(request: SessionRequest) -> dict[str, Any]:
        """End an HTTP session and close its environment."""
        session = manager.get(request.session_id)
        await manager.close(session)
        return {"session_id": session.id, "closed": True}


def _add_mcp_route(app: FastAPI, mcp: McpHandler) -> None:
    @app.post("/mcp", tags=["MCP"])
    async def mcp_endpoint(request: Request) -> Response:
        """JSON-RPC 2.0: ``initialize``, ``tools/list``, ``tools/call`` and sessions."""
        try:
            body = json.loads(await request.body())
        except ValueError as error:
            return JSONResponse(error_response(PARSE_ERROR, f"parse error: {error}"))
        answer = await mcp.handle(body)
        if answer is None:
            return Response(status_code=202)  # a notification gets no answer
        return JSONResponse(answer)


def _add_websocket_route(
    app: FastAPI, manager: SessionManager, mcp: McpHandler, config: ServerConfig
) -> None:
    @app.websocket("/ws")
    async def websocket_session(websocket: WebSocket) -> None:
        """One environment for the lifetime of the connection."""
        await websocket.accept()
        try:
            session = await manager.open("ws")
        except ProtocolError as error:
            await _send_quietly(websocket, error.frame())
            await _close_quietly(
                websocket, 1013 if error.code == protocol.CAPACITY_REACHED else 1011
            )
            return
        try:
            await _serve_session(websocket, session, manager, mcp, config)
        finally:
            await manager.close(session)


async def _serve_session(
    websocket: WebSocket,
    session: Session,
    manager: SessionManager,
    mcp: McpHandler,
    config: ServerConfig,
) -> None:
    while True:
        try:
            message = await asyncio.wait_for(websocket.receive(), config.idle_timeout_s)
        except asyncio.TimeoutError:
            reason = f"session expired after {config.idle_timeout_s:g} s idle"
            await _send_quietly(websocket, ProtocolError(protocol.SESSION_EXPIRED, reason).frame())
            await _close_quietly(websocket, 1000, reason)
            return
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            text = (message.get("bytes") or b"").decode("utf-8", "replace")
        reply, keep_open = await _answer_frame(text, session, manager, mcp)
        if reply is not None and not await _send_quietly(websocket, reply):
            return
        if not keep_open:
            await _close_quietly(websocket, 1000)
            return


async def _answer_frame(
    text: str, session: Session, manager: SessionManager, mcp: McpHandler
) -> tuple[dict | None, bool]:
    """The reply to one frame, and whether the connection stays open."""
    try:
        frame = json.loads(text)
    except ValueError as error:
        return ProtocolError(protocol.INVALID_JSON, f"invalid JSON: {error}").frame(), True
    try:
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            raise ProtocolError(protocol.VALIDATION_ERROR, 'a frame is an object {"type": ...}')
        extra = set(frame) - {"type", "data"}
        if extra:
            raise ProtocolError(protocol.VALIDATION_ERROR, f"unknown frame keys {sorted(extra)}")
        kind, data = frame["type"], frame.get("data")
        if kind == "step":
            if not isinstance(data, dict):
                raise ProtocolError(protocol.VALIDATION_ERROR, 'a step needs "data": {"message"}')
            action = Action.model_validate(data)
            return {
                "type": "observation",
                "data": await manager.step(session, action.message),
            }, True
        if kind == "reset":
            reset = ResetData.model_validate(data or {})
            payload = await manager.reset(
                session, reset.seed, reset.env_options(), reset.episode_id
            )
            return {"type": "observation", "data": payload}, True
        if kind == "state":
            return {"type": "state", "data": manager.state(session)}, True
        if kind == "close":
            return None, False
        if kind == "mcp":
            return {"type": "mcp", "data": await mcp.handle(data, ws_session=session)}, True
        raise ProtocolError(
            protocol.UNKNOWN_TYPE, f"unknown frame type {kind!r}; use reset, step, state or close"
        )
    except ValidationError as error:
        message = describe_validation_error(error.errors())
        return ProtocolError(protocol.VALIDATION_ERROR, message).frame(), True
    except ProtocolError as error:
        keep_open = error.code not in (protocol.STEP_TIMEOUT, protocol.SESSION_EXPIRED)
        return error.frame(), keep_open


async def _send_quietly(websocket: WebSocket, frame: dict) -> bool:
    """Send a frame; False when the peer is gone."""
    try:
        await websocket.send_text(json.dumps(frame, ensure_ascii=False))
        return True
    except Exception:  # the client went away; nothing to tell it
        return False


async def _close_quietly(websocket: WebSocket, code: int, reason: str = "") -> None:
    with contextlib.suppress(Exception):
        await websocket.close(code, reason)
