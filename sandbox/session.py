"""Stateful Python sessions: one sandboxed interpreter per session, for tools that keep state.

A job (``Sandbox.run_python``) starts from nothing every time. A session keeps one interpreter
alive between calls, so variables, imports and files persist, as in a notebook::

    import sandbox

    pool = sandbox.SessionPool("auto", max_sessions=16)
    with pool.open() as session:
        session.run("import math; x = math.factorial(20)")
        session.run("x // 1000").stdout          # '2432902008176640\\n'

Each session runs in its own worker, inside the backend's isolation boundary (``local``: its own
uid and private scratch mounts when root; ``bwrap``: its own namespaces; ``docker``: its own
container), started fresh for the session and stopped when it closes, so nothing of one session
(variables, files, processes) is visible to another, concurrent or later. The interpreter is a
job of that worker (``sandbox/_session_host.py``) under the session's :class:`~sandbox.Limits`:

- ``wall_time_s`` is per call: a call that runs longer is killed, and the session's state with
  it (the next call starts a fresh interpreter; its result says ``fresh``);
- ``cpu_time_s`` is the interpreter's CPU budget for the whole session (default: four calls'
  wall time); ``memory_mb``, ``max_processes``, ``file_size_mb``, ``open_files`` bound it as they
  bound a job; ``output_bytes`` caps each call's stdout and stderr (the rest is counted, dropped);
- every process a call starts is killed when the call returns; threads live on in the
  interpreter (they stop with it) under the CPU budget.

Workers take a fraction of a second to start (an interpreter, a bwrap, a container), so a pool
keeps ``warm`` of them started ahead of demand.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from .base import SandboxError
from .limits import Limits
from .pool import (
    ANSWER_GRACE_S,
    START_TIMEOUT_S,
    ZYGOTE_SOURCE,
    Worker,
    WorkerDied,
    ZygoteSandbox,
    _Slot,
)
from .registry import BACKENDS, resolve_backend

log = logging.getLogger("sandbox")

# The worker program: the zygote's source, then the session host's, with __name__ set so that
# only the session host's entry point runs (see sandbox/_session_host.py).
SESSION_SOURCE = (
    "__name__ = 'rlvr_session_worker'\n"
    + ZYGOTE_SOURCE
    + "\n"
    + Path(__file__).with_name("_session_host.py").read_text(encoding="utf-8")
)

DEFAULT_SESSION_LIMITS = Limits(
    wall_time_s=10.0, memory_mb=512, max_processes=64, output_bytes=1 << 20
)
CPU_BUDGET_CALLS = 4  # the default session CPU budget, in calls' wall time
# What the interpreter's read-eval loop imports: loaded once per worker, before the fork.
SESSION_PRELOAD = ("ast", "json", "linecache", "traceback", "types")


class CallStatus(str, Enum):
    """How one call ended."""

    OK = "ok"  # the code ran to its end
    ERROR = "error"  # it raised (the traceback is on stderr); the session goes on
    MEMORY_LIMIT = "memory_limit"  # MemoryError (state kept) or killed for memory (state lost)
    TIMEOUT = "timeout"  # over the wall time limit or the CPU budget: the state is lost
    CRASHED = "crashed"  # the interpreter died (os._exit, a signal): the state is lost
    SANDBOX_ERROR = "sandbox_error"  # a fault of the machinery, never of the code

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class CallResult:
    """The outcome of one call. ``fresh``: it ran in a new interpreter (first call, or after the
    state was lost); ``state_lost``: the interpreter is gone after this call."""

    status: CallStatus
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    wall_time_s: float = 0.0
    exception: str | None = None  # the exception's class name, when the code raised
    fresh: bool = False
    state_lost: bool = False
    detail: str = ""

    @property
    def ok(self) -> bool:
        """True when the code ran to its end."""
        return self.status is CallStatus.OK


class SessionError(SandboxError):
    """A session could not be opened, or was used after it closed."""


_SESSION_CLASSES: dict[type, type] = {}


def _session_backend(cls: type[ZygoteSandbox]) -> type[ZygoteSandbox]:
    """The backend class whose workers run the session host instead of the zygote."""
    if cls not in _SESSION_CLASSES:
        _SESSION_CLASSES[cls] = type(
            f"{cls.__name__}Sessions",
            (cls,),
            # A session's worker answers its own requests, never a queue of jobs.
            {"worker_source": SESSION_SOURCE, "pipeline_depth": 1},
        )
    return _SESSION_CLASSES[cls]


def session_wire(limits: Limits, extra_processes: int) -> dict[str, Any]:
    """The interpreter's limits on the wire: the CPU limit is the session's budget."""
    wire = limits.wire(extra_processes)
    if limits.cpu_time_s is None:
        wire["cpu_s"] = float(limits.wall_time_s * CPU_BUDGET_CALLS)
    return wire


class SessionPool:
    """Opens sessions on one backend; at most ``max_sessions`` live at once (``open`` waits).

    ``limits`` are the default for sessions (see the module docstring for what each field means
    here); other options go to the backend (``disk_mb``, ``allow_network``, ``python``,
    ``image``...). ``warm`` workers are kept started ahead of demand.
    """

    def __init__(
        self,
        backend: str = "auto",
        *,
        max_sessions: int = 64,
        limits: Limits | None = None,
        warm: int = 2,
        **options: Any,
    ) -> None:
        if not isinstance(max_sessions, int) or max_sessions < 1:
            raise ValueError(f"max_sessions must be a positive int, not {max_sessions!r}")
        self.backend = resolve_backend(backend)
        cls = BACKENDS[self.backend]
        if not issubclass(cls, ZygoteSandbox):
            raise SessionError(f"the {self.backend} backend cannot host sessions")
        self.limits = limits or DEFAULT_SESSION_LIMITS
        options.setdefault("preload", SESSION_PRELOAD)
        self.box = _session_backend(cls)(workers=max_sessions, limits=self.limits, **options)
        self.warm = max(0, min(int(warm), max_sessions))
        # Slots held with a started worker, guarded (like the box's own free list) by its
        # condition, on which ``open`` waits for either kind of slot.
        self._ready: deque[_Slot] = deque()
        self._cond = self.box._cond
        self._waiting = 0  # callers of ``open`` waiting for a slot: the filler leaves them one
        self._wanted = threading.Event()
        self._closed = False
        self._filler: threading.Thread | None = None
        if self.warm:
            self._refill()

    @property
    def name(self) -> str:
        """The backend's name."""
        return self.backend

    def open(self, limits: Limits | None = None) -> PythonSession:
        """A new session (a fresh interpreter in a fresh worker) under ``limits``."""
        limits = limits or self.limits
        if limits.network and not self.box.allow_network:
            raise ValueError("this session asks for network access but the pool was made without")
        slot = self._take()
        try:
            worker = self._start(slot, limits)
        except BaseException:
            self._give_back(slot)
            raise
        return PythonSession(self, slot, worker, limits)

    def _take(self) -> _Slot:
        """A warm slot if there is one, else a free one; waits while every slot is in use."""
        box = self.box
        if os.getpid() != box._pid:  # forked: the parent's workers are not ours
            box._forget_parent_workers()
            self._cond, self._ready, self._filler = box._cond, deque(), None
        with self._cond:
            self._waiting += 1
            try:
                while True:
                    if self._closed or box._closed:
                        raise SessionError("the session pool is closed")
                    if self._ready:
                        slot = self._ready.popleft()
                        break
                    if box._free:
                        slot = box._free.pop()
                        break
                    self._cond.wait()
            finally:
                self._waiting -= 1
        self._refill()
        return slot

    def _start(self, slot: _Slot, limits: Limits) -> Worker:
        """Start the slot's worker if needed and the interpreter in it."""
        try:
            worker = self.box._ensure_worker(slot)
        except Exception as exc:
            raise SessionError(f"{self.backend} session worker could not start: {exc}") from exc
        self.box._apply_cgroup_limits(worker, limits)
        wire = session_wire(limits, self.box._extra_processes())
        try:
            reply, _ = worker.request({"op": "start", "limits": wire}, [], 60.0, 0)
        except (WorkerDied, TimeoutError, OSError) as exc:
            self._stop(slot)
            raise SessionError(f"{self.backend} session worker failed: {exc}") from exc
        if not reply.get("started"):
            self._stop(slot)
            raise SessionError(f"{self.backend} session could not start: {reply.get('error')}")
        return worker

    def _stop(self, slot: _Slot) -> None:
        worker, slot.worker = slot.worker, None
        if worker is not None:
            self.box._stop_worker(worker)

    def _give_back(self, slot: _Slot) -> None:
        """Stop the slot's worker (nothing of a session survives it) and free the slot."""
        self._stop(slot)
        with self._cond:
            if self.box._pid == os.getpid():
                self.box._free.append(slot)
                self._cond.notify_all()
        self._refill()

    def _refill(self) -> None:
        if not self.warm or self._closed:
            return
        self._wanted.set()
        with self._cond:
            if self._filler is None or not self._filler.is_alive():
                self._filler = threading.Thread(
                    target=self._fill, name=f"sandbox-sessions-{self.backend}", daemon=True
                )
                self._filler.start()

    def _fill(self) -> None:
        """Background: keep ``warm`` started workers in held slots."""
        while not self._closed:
            self._wanted.wait(timeout=5.0)
            self._wanted.clear()
            while not self._closed:
                with self._cond:
                    if len(self._ready) >= self.warm or len(self.box._free) <= self._waiting:
                        break
                    slot = self.box._free.pop()
                try:
                    self.box._ensure_worker(slot)
                except Exception as exc:  # opening a session will report it
                    log.warning("%s session worker could not start: %s", self.backend, exc)
                    self._give_back(slot)
                    time.sleep(1.0)
                    break
                with self._cond:
                    self._ready.append(slot)
                    self._cond.notify_all()

    def close(self) -> None:
        """Stop every worker: live sessions end, their interpreters are killed."""
        with self._cond:
            self._closed = True
            filler = self._filler
            self._cond.notify_all()
        self._wanted.set()
        if filler is not None and filler is not threading.current_thread():
            filler.join(timeout=START_TIMEOUT_S)  # it may be starting a worker right now
        with self._cond:
            ready, self._ready = list(self._ready), deque()
        for slot in ready:
            self._stop(slot)
        self.box.close()

    def __enter__(self) -> SessionPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SessionPool {self.backend} max_sessions={self.box.workers}>"


class PythonSession:
    """One interpreter, alive between calls until :meth:`close` (use it as a context manager)."""

    def __init__(self, pool: SessionPool, slot: _Slot, worker: Worker, limits: Limits) -> None:
        self.pool, self.limits = pool, limits
        self._slot: _Slot | None = slot
        self._worker = worker
        self._lock = threading.Lock()
        self.calls = 0
        self.restarts = 0  # times the state was lost and the interpreter started afresh
        self._finalizer = weakref.finalize(self, pool._give_back, slot)

    @property
    def closed(self) -> bool:
        """True once the session has ended."""
        return self._slot is None

    def run(self, code: str, *, wall_time_s: float | None = None) -> CallResult:
        """Run ``code`` in the session; the value of a final expression is printed, as in a REPL."""
        if not isinstance(code, str):
            raise TypeError(f"code must be str, not {type(code).__name__}")
        wall = float(wall_time_s or self.limits.wall_time_s)
        with self._lock:
            if self._slot is None:
                raise SessionError("the session is closed")
            self.calls += 1
            header = {"op": "exec", "wall_s": wall, "output_bytes": int(self.limits.output_bytes)}
            blob = code.encode("utf-8", "surrogatepass")
            started = time.monotonic()
            try:
                reply, out = self._worker.request(
                    header, [blob], wall + ANSWER_GRACE_S, 2 * self.limits.output_bytes + 1024
                )
            except (WorkerDied, TimeoutError, OSError) as exc:
                return self._worker_lost(f"the session worker failed: {exc}", started)
            cgroup = self._worker.cgroup
            if cgroup is not None and cgroup.oom_killed_since_last_check():
                reply["oom_killed"] = True
            result = _result(reply, out, self.limits.output_bytes)
            if result.state_lost:
                self.restarts += 1
            return result

    def _worker_lost(self, why: str, started: float) -> CallResult:
        """The worker is gone: start a new one for the next call (the state is lost)."""
        log.warning("%s session worker replaced: %s", self.pool.backend, why)
        self.restarts += 1
        self.pool._stop(self._slot)
        try:
            self._worker = self.pool._start(self._slot, self.limits)
        except SessionError as exc:
            why = f"{why}; a new worker could not start: {exc}"
        return CallResult(
            CallStatus.SANDBOX_ERROR,
            wall_time_s=time.monotonic() - started,
            state_lost=True,
            detail=why,
        )

    def close(self) -> None:
        """End the session: its interpreter, processes and files are gone (idempotent)."""
        with self._lock:
            if self._slot is None:
                return
            self._slot = None
        self._finalizer()

    def __enter__(self) -> PythonSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{self.calls} calls"
        return f"<PythonSession {self.pool.backend} {state}>"


def _result(reply: dict[str, Any], out: list[bytes], cap: int) -> CallResult:
    """A call's result from the session worker's reply (which the interpreter cannot forge)."""
    stdout, stderr = (out + [b"", b""])[:2]
    facts = {
        "stdout": stdout.decode("utf-8", "replace"),
        "stderr": stderr.decode("utf-8", "replace"),
        "stdout_truncated": int(reply.get("stdout_total") or 0) > cap,
        "stderr_truncated": int(reply.get("stderr_total") or 0) > cap,
        "wall_time_s": float(reply.get("wall_s") or 0.0),
        "fresh": bool(reply.get("fresh")),
        "state_lost": bool(reply.get("lost")),
    }
    if reply.get("error"):
        return CallResult(CallStatus.SANDBOX_ERROR, detail=str(reply["error"]), **facts)
    status = str(reply.get("status"))
    exception = reply.get("exception")
    if status == "ok":
        return CallResult(CallStatus.OK, **facts)
    if status in ("error", "exit"):
        return CallResult(CallStatus.ERROR, exception=exception, **facts)
    if status in ("memory", "memory_limit"):
        return CallResult(CallStatus.MEMORY_LIMIT, exception=exception, **facts)
    if status == "timeout":
        detail = str(
            reply.get("detail") or f"over the wall time limit of {reply.get('wall_s', 0):.3g} s"
        )
        return CallResult(CallStatus.TIMEOUT, detail=detail, **facts)
    if status == "crashed" and reply.get("oom_killed") and reply.get("signal") == 9:
        return CallResult(CallStatus.MEMORY_LIMIT, detail="killed for memory", **facts)
    if status == "crashed":
        detail = str(reply.get("detail") or "")
        if reply.get("signal") is not None:
            detail = detail or f"the interpreter was killed by signal {reply['signal']}"
        elif reply.get("exit_code") is not None:
            detail = detail or f"the interpreter exited with status {reply['exit_code']}"
        return CallResult(CallStatus.CRASHED, detail=detail, **facts)
    return CallResult(
        CallStatus.SANDBOX_ERROR, detail=f"unexpected session reply {reply!r:.200}", **facts
    )


_shared: dict[tuple[str, str], SessionPool] = {}
_shared_lock = threading.Lock()


def get_session_pool(backend: str = "auto", **options: Any) -> SessionPool:
    """The process-wide pool for ``backend`` and ``options`` (made on first use)."""
    key = (resolve_backend(backend), repr(sorted(options.items())))
    with _shared_lock:
        pool = _shared.get(key)
        if pool is None or pool._closed:
            pool = _shared[key] = SessionPool(key[0], **options)
        return pool


def close_shared_pools() -> None:
    """Close every pool :func:`get_session_pool` made in this process."""
    with _shared_lock:
        pools = list(_shared.values())
        _shared.clear()
    for pool in pools:
        pool.close()
