"""Sessions of the environment server: one environment each, stepped in worker threads.

Every WebSocket connection and every HTTP session owns one environment instance. Calls into an
environment run in a thread pool so a slow verifier (code in a sandbox) never stalls the event
loop; a session runs one call at a time. The manager enforces the session cap, the per-step
timeout and the idle expiry of HTTP sessions, and closes every environment at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from . import protocol
from .protocol import ProtocolError

log = logging.getLogger("rlvr_envs.server")


@dataclass(eq=False)
class Session:
    """One environment instance and what the server knows of its episode."""

    id: str
    kind: str  # "ws" or "http"
    env: gym.Env
    last_active: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    episode_id: str | None = None
    step_count: int = 0
    task_id: str | None = None
    turn: int = 0
    done: bool = True
    closed: bool = False
    abandoned: bool = False  # a call overran the step timeout; its thread closes the env


def close_env(env: gym.Env) -> None:
    """Close an environment, logging rather than raising (it is being thrown away)."""
    try:
        env.close()
    except Exception as error:
        log.warning("closing an environment failed: %r", error)


class SessionManager:
    """Creates, runs and retires sessions (one per event loop: the server's)."""

    def __init__(
        self,
        make_env: Callable[[], gym.Env],
        *,
        env_id: str,
        max_sessions: int,
        step_timeout_s: float,
        idle_timeout_s: float,
        threads: int,
    ) -> None:
        self.make_env = make_env
        self.env_id = env_id
        self.max_sessions = max_sessions
        self.step_timeout_s = step_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="rlvr-serve")
        self._sessions: dict[str, Session] = {}
        self._opening = 0
        self._shutting_down = False
        self.steps = 0

    # --- lifecycle ------------------------------------------------------------------------------

    @property
    def active(self) -> int:
        """Sessions open now (including those being created)."""
        return len(self._sessions) + self._opening

    async def open(self, kind: str) -> Session:
        """A new session with a fresh environment; CAPACITY_REACHED at the cap."""
        if self._shutting_down:
            raise ProtocolError(protocol.SHUTTING_DOWN, "the server is shutting down")
        if self.active >= self.max_sessions:
            raise ProtocolError(
                protocol.CAPACITY_REACHED,
                f"the server holds {self.active} sessions, its limit (--max-sessions "
                f"{self.max_sessions}); close one or retry later",
            )
        self._opening += 1  # holds the slot while the environment is built outside any lock
        try:
            env = await asyncio.wrap_future(self._executor.submit(self.make_env))
        except Exception as error:
            raise ProtocolError(
                protocol.FACTORY_ERROR,
                f"could not create {self.env_id}: {type(error).__name__}: {error}",
            ) from None
        finally:
            self._opening -= 1
        session = Session(id=uuid.uuid4().hex, kind=kind, env=env)
        if self._shutting_down:
            close_env(env)
            raise ProtocolError(protocol.SHUTTING_DOWN, "the server is shutting down")
        self._sessions[session.id] = session
        return session

    async def close(self, session: Session) -> None:
        """Retire a session and close its environment (idempotent)."""
        if session.closed:
            return
        session.closed = True
        self._sessions.pop(session.id, None)
        async with session.lock:  # never close an environment under a running call
            if not session.abandoned:
                await asyncio.wrap_future(self._executor.submit(close_env, session.env))

    def get(self, session_id: str, kind: str = "http") -> Session:
        """The open session ``session_id`` of ``kind``; UNKNOWN_SESSION otherwise."""
        session = self._sessions.get(session_id)
        if session is None or session.kind != kind:
            raise ProtocolError(
                protocol.UNKNOWN_SESSION,
                f"no open session {session_id!r}: it was closed, expired after "
                f"{self.idle_timeout_s:g} s idle, or never existed; POST /reset opens one",
            )
        return session

    async def close_all(self) -> None:
        """Refuse new sessions and close every open one (graceful shutdown)."""
        self._shutting_down = True
        sessions = list(self._sessions.values())
        await asyncio.gather(*(self.close(s) for s in sessions), return_exceptions=True)
        self._executor.shutdown(wait=False, cancel_futures=True)
        log.info("closed %d session(s) at shutdown", len(sessions))

    async def reap_idle(self) -> None:
        """Close HTTP sessions idle for longer than the idle timeout, until cancelled."""
        interval = min(max(self.idle_timeout_s / 4, 0.05), 5.0)
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for session in list(self._sessions.values()):
                idle = now - session.last_active
                if (
                    session.kind == "http"
                    and idle > self.idle_timeout_s
                    and not session.lock.locked()
                ):
                    log.info("session %s expired after %.1f s idle", session.id, idle)
                    await self.close(session)

    # --- environment calls ------------------------------------------------------------------------

    async def _call(self, session: Session, timeout_s: float, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` in a worker thread; past ``timeout_s`` the session is given up."""
        if session.closed:
            raise ProtocolError(protocol.SESSION_EXPIRED, "this session is closed")
        async with session.lock:
            if session.closed:
                raise ProtocolError(protocol.SESSION_EXPIRED, "this session is closed")
            future = self._executor.submit(fn)
            try:
                return await asyncio.wait_for(asyncio.wrap_future(future), timeout_s)
            except asyncio.TimeoutError:
                # A thread cannot be stopped: the environment is closed once the call returns.
                session.closed = session.abandoned = True
                self._sessions.pop(session.id, None)
                future.add_done_callback(lambda _: close_env(session.env))
                raise ProtocolError(
                    protocol.STEP_TIMEOUT,
                    f"the environment did not answer within {timeout_s:g} s (the server's step "
                    "timeout); this session is closed",
                ) from None
            finally:
                session.last_active = time.monotonic()

    async def reset(
        self, session: Session, seed: int | None, options: dict | None, episode_id: str | None
    ) -> dict[str, Any]:
        """Reset the session's environment; the reset payload."""

        def run() -> dict[str, Any]:
            observation, info = session.env.reset(seed=seed, options=options)
            return protocol.reset_payload(observation, info)

        payload = await self._guarded(session, self.step_timeout_s, run, during="reset")
        session.episode_id = episode_id or uuid.uuid4().hex
        session.step_count = 0
        session.task_id = payload["observation"]["task_id"]
        session.turn = 0
        session.done = False
        return payload

    async def step(self, session: Session, message: str, timeout_s: float | None = None) -> dict:
        """Step the session's environment with a completion; the step payload."""
        limit = min(timeout_s, self.step_timeout_s) if timeout_s else self.step_timeout_s

        def run() -> dict[str, Any]:
            return protocol.step_payload(*session.env.step(message))

        payload = await self._guarded(session, limit, run, during="step")
        session.step_count += 1
        session.turn = payload["observation"]["turn"] or session.step_count
        session.done = payload["done"]
        self.steps += 1
        return payload

    async def _guarded(self, session: Session, timeout_s: float, run: Callable, during: str) -> Any:
        """``_call`` with the environment's exceptions turned into protocol errors."""
        try:
            return await self._call(session, timeout_s, run)
        except ProtocolError:
            raise
        except gym.error.ResetNeeded as error:
            raise ProtocolError(protocol.RESET_NEEDED, str(error)) from None
        except (ValueError, TypeError, KeyError) as error:
            if during != "reset":
                raise self._execution_error(error, during) from None
            message = error.args[0] if isinstance(error, KeyError) and error.args else error
            raise ProtocolError(protocol.VALIDATION_ERROR, f"bad reset: {message}") from None
        except Exception as error:
            raise self._execution_error(error, during) from None

    @staticmethod
    def _execution_error(error: Exception, during: str) -> ProtocolError:
        log.warning("%s failed: %r", during, error)
        return ProtocolError(
            protocol.EXECUTION_ERROR, f"{during} failed: {type(error).__name__}: {error}"
        )

    def state(self, session: Session) -> dict[str, Any]:
        """The session's state (openenv's ``episode_id`` and ``step_count``, and ours)."""
        return {
            "episode_id": session.episode_id,
            "step_count": session.step_count,
            "env_id": self.env_id,
            "task_id": session.task_id,
            "turn": session.turn,
            "done": session.done,
            "session_id": session.id,
        }
