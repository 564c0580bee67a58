"""``RemoteEnv``: a Gymnasium environment whose episodes run on an OpenEnv server.

Point it at ``rlvr-envs serve`` (or any OpenEnv text environment) and use it as a local one::

    env = RemoteEnv("http://trainer-box:8000")
    prompt, info = env.reset(seed=0)
    prompt, reward, terminated, truncated, info = env.step(completion)   # info["verdict"]...

It holds one WebSocket session (one server-side environment) for its lifetime. Spaces come
from the server's ``/metadata``. Every failure is an exception that says what happened: a
refused or lost connection (:class:`RemoteConnectionError`; ``reset()`` reconnects), a server
that stopped answering (:class:`RemoteTimeoutError`, after ``timeout_s``), a request the
server rejected (:class:`RemoteValidationError`), or any other server error
(:class:`RemoteEnvError` with its ``code``). Nothing waits forever.

``gymnasium.make_vec("rlvr_envs.remote:rlvr/Remote-v0", num_envs=N, url=...)`` builds a vector
of them (stepped in threads, so N network round trips overlap).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any, SupportsFloat
from urllib.parse import urlsplit, urlunsplit

import gymnasium as gym

from .env import DEFAULT_MAX_ACTION_LENGTH
from .prompts import Observation
from .server import protocol
from .server.config import TOKEN_VARIABLE
from .spaces import DEFAULT_MAX_LENGTH
from .vector import vector_entry_point

REMOTE_ENV_ID = "rlvr/Remote-v0"


class RemoteEnvError(RuntimeError):
    """The server answered with an error (``code`` is its error code) or could not be used."""

    def __init__(self, message: str, code: str = "REMOTE_ERROR") -> None:
        super().__init__(message)
        self.code = code


class RemoteConnectionError(RemoteEnvError, ConnectionError):
    """The server cannot be reached, or the connection to it was lost."""


class RemoteTimeoutError(RemoteEnvError, TimeoutError):
    """The server did not answer in time (the connection is then closed)."""


class RemoteValidationError(RemoteEnvError, ValueError):
    """The server rejected the request as malformed."""


class RemoteResetNeeded(RemoteEnvError, gym.error.ResetNeeded):
    """A step was sent with no episode running on the server."""


_ERRORS: dict[str, type[RemoteEnvError]] = {
    protocol.VALIDATION_ERROR: RemoteValidationError,
    protocol.INVALID_JSON: RemoteValidationError,
    protocol.UNKNOWN_TYPE: RemoteValidationError,
    protocol.RESET_NEEDED: RemoteResetNeeded,
    protocol.STEP_TIMEOUT: RemoteTimeoutError,
    protocol.SESSION_EXPIRED: RemoteConnectionError,
    protocol.SHUTTING_DOWN: RemoteConnectionError,
}
_SESSION_ENDING = {protocol.STEP_TIMEOUT, protocol.SESSION_EXPIRED, protocol.SHUTTING_DOWN}


def _urls(url: str) -> tuple[str, str]:
    """(HTTP base URL, WebSocket URL of ``/ws``) from an http(s):// or ws(s):// URL."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
        raise ValueError(f"expected an http://, https://, ws:// or wss:// URL, got {url!r}")
    secure = parts.scheme in ("https", "wss")
    path = parts.path.rstrip("/")
    if path.endswith("/ws"):
        path = path[: -len("/ws")]
    http = urlunsplit(("https" if secure else "http", parts.netloc, path, "", ""))
    ws = urlunsplit(("wss" if secure else "ws", parts.netloc, path + "/ws", "", ""))
    return http, ws


class RemoteEnv(gym.Env[Observation, str]):
    """A text environment served over OpenEnv's WebSocket protocol (see the module docstring).

    ``observation_key`` names the observation field holding the prompt (``prompt`` on
    rlvr-envs servers); an observation without it is passed on as its JSON text. ``token``
    defaults to ``$RLVR_ENVS_TOKEN``.
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        connect_timeout_s: float = 10.0,
        timeout_s: float = 330.0,
        observation_key: str = "prompt",
        max_message_bytes: int = 64 << 20,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.http_url, self.ws_url = _urls(url)
        self.token = token if token is not None else os.environ.get(TOKEN_VARIABLE) or None
        self.connect_timeout_s = connect_timeout_s
        self.timeout_s = timeout_s
        self.observation_key = observation_key
        self.max_message_bytes = max_message_bytes
        self.render_mode = render_mode
        self.server_metadata = self._fetch_metadata()
        self.observation_space = protocol.space_from_description(
            self.server_metadata.get("observation_space"), DEFAULT_MAX_LENGTH
        )
        self.action_space = protocol.space_from_description(
            self.server_metadata.get("action_space"), DEFAULT_MAX_ACTION_LENGTH
        )
        self._ws: Any = None
        self._last: tuple[Any, dict[str, Any]] | None = None
        self._connect()

    # --- connection ------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _fetch_metadata(self) -> dict[str, Any]:
        """The server's ``/metadata`` ({} for a server that has none)."""
        request = urllib.request.Request(self.http_url + "/metadata", headers=self._headers())
        try:
            with urllib.request.urlopen(request, timeout=self.connect_timeout_s) as answer:
                data = json.loads(answer.read())
        except urllib.error.HTTPError as error:
            if error.code == 401:
                raise RemoteEnvError(
                    f"{self.http_url} wants a bearer token: pass token= or set ${TOKEN_VARIABLE}",
                    protocol.UNAUTHORIZED,
                ) from None
            return {}
        except (OSError, ValueError) as error:
            raise RemoteConnectionError(f"cannot reach {self.http_url}: {error}") from None
        return data if isinstance(data, dict) else {}

    def _connect(self) -> None:
        from websockets.exceptions import InvalidStatus, WebSocketException
        from websockets.sync.client import connect

        try:
            self._ws = connect(
                self.ws_url,
                open_timeout=self.connect_timeout_s,
                close_timeout=1.0,
                max_size=self.max_message_bytes,
                compression=None,
                additional_headers=self._headers(),
            ).__enter__()  # the context-manager form, which every websockets version accepts
        except InvalidStatus as error:
            status = error.response.status_code
            code = protocol.UNAUTHORIZED if status in (401, 403) else "HANDSHAKE_REJECTED"
            raise RemoteEnvError(
                f"{self.ws_url} refused the session (HTTP {status})", code
            ) from None
        except (OSError, TimeoutError, WebSocketException) as error:
            raise RemoteConnectionError(f"cannot connect to {self.ws_url}: {error}") from None

    def _drop(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            try:
                ws.close()
            except Exception:  # already broken; nothing more to release
                pass

    def _request(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Send a frame and return the reply's ``data``; errors become exceptions."""
        from websockets.exceptions import ConnectionClosed

        if self._ws is None:
            raise RemoteConnectionError(
                f"not connected to {self.ws_url} (the connection was lost); call reset()"
            )
        try:
            try:
                self._ws.send(json.dumps(frame, ensure_ascii=False))
            except ConnectionClosed:
                pass  # the server may have said why before closing (full, expired): read it
            raw = self._ws.recv(timeout=self.timeout_s)
        except TimeoutError:
            self._drop()
            raise RemoteTimeoutError(
                f"{self.ws_url} did not answer within {self.timeout_s:g} s; the session is closed",
                "CLIENT_TIMEOUT",
            ) from None
        except ConnectionClosed as error:
            self._drop()
            why = error.rcvd.reason if error.rcvd is not None and error.rcvd.reason else str(error)
            raise RemoteConnectionError(
                f"the connection to {self.ws_url} was lost ({why}); reset() reconnects",
                "CONNECTION_LOST",
            ) from None
        except OSError as error:
            self._drop()
            raise RemoteConnectionError(
                f"the connection to {self.ws_url} failed: {error}"
            ) from None
        try:
            reply = json.loads(raw)
        except ValueError:
            raise RemoteEnvError(
                f"{self.ws_url} sent a frame that is not JSON: {raw!r:.200}"
            ) from None
        if not isinstance(reply, dict):
            raise RemoteEnvError(f"{self.ws_url} sent an unexpected frame: {raw!r:.200}")
        if reply.get("type") == "error":
            data = reply.get("data") or {}
            code = str(data.get("code", "ERROR"))
            if code in _SESSION_ENDING:
                self._drop()
            raise _ERRORS.get(code, RemoteEnvError)(
                f"server error {code}: {data.get('message', '')}", code
            )
        return reply.get("data") or {}

    # --- episode ---------------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Observation, dict[str, Any]]:
        """Start an episode on the server (reconnecting first if the connection was lost)."""
        super().reset(seed=seed)
        if self._ws is None:
            self._connect()
        data: dict[str, Any] = {}
        if seed is not None:
            data["seed"] = seed
        if options:
            data["options"] = dict(options)
        payload = self._request({"type": "reset", "data": data})
        observation, _, _, _, info = protocol.decode_result(payload, self.observation_key)
        self._last = (observation, info)
        return observation, info

    def step(self, action: str) -> tuple[Observation, SupportsFloat, bool, bool, dict[str, Any]]:
        """Send a completion; the server's verdict comes back in ``info["verdict"]``."""
        if not isinstance(action, str):
            raise TypeError(f"an action is the completion text (str), got {type(action).__name__}")
        payload = self._request({"type": "step", "data": {"message": action}})
        observation, reward, terminated, truncated, info = protocol.decode_result(
            payload, self.observation_key
        )
        self._last = (observation, info)
        return observation, 0.0 if reward is None else reward, terminated, truncated, info

    def state(self) -> dict[str, Any]:
        """The server's state of this session (episode id, step count, task id...)."""
        return self._request({"type": "state"})

    def render(self) -> str | None:
        """The last observation and verdict, as text."""
        if self.render_mode != "ansi":
            return None
        if self._last is None:
            return "(no episode: call reset())"
        observation, info = self._last
        text = observation if isinstance(observation, str) else json.dumps(observation, indent=1)
        verdict = info.get("verdict")
        if verdict:
            text += f"\n--- verdict: {verdict['status']}, reward {verdict['reward']:g}"
        return text

    def close(self) -> None:
        """End the server-side session (idempotent)."""
        if self._ws is not None:
            try:
                self._ws.send(json.dumps({"type": "close"}))
            except Exception:  # the server may already be gone
                pass
            self._drop()

    def __repr__(self) -> str:
        return f"<RemoteEnv {self.server_metadata.get('name', '?')} at {self.http_url}>"


if REMOTE_ENV_ID not in gym.registry:
    gym.register(
        id=REMOTE_ENV_ID,
        entry_point=RemoteEnv,
        vector_entry_point=vector_entry_point(REMOTE_ENV_ID),
        nondeterministic=True,  # the server decides; seeded determinism is the served env's
    )
