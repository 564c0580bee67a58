"""Host passes that replay the candidate's values, bounded in time and memory from any thread.

A host pass runs trusted test code, but over values the candidate chose: ``range(f(3))`` with
``f`` returning ``10**12`` never ends, ``[0] * f(1)`` can take all the memory, and no thread can
be stopped from outside while C code runs. So every pass that holds candidate values runs in a
*judge* process: a warm, stdlib-only interpreter (see ``_judge_worker``) kept in a small shared
pool, with an address-space limit per pass and the caller's remaining time as its wall clock.
A judge that overruns is killed and replaced; the verdict is then ``timeout`` (or
``memory_limit``), never an infrastructure fault. Judges start lazily, one per concurrent
verification up to the pool size, and a forked child starts its own.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import marshal
import os
import select
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

WORKER_SOURCE = Path(__file__).with_name("_judge_worker.py").read_text(encoding="utf-8")
PACKAGE_DIR = str(Path(__file__).resolve().parent)
START_TIMEOUT_S = 30.0
MAX_REPLY_BYTES = 64 << 20


class JudgeBreach(Exception):
    """The pass exceeded its time (``kind="timeout"``) or memory (``"memory"``) bound."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


class JudgeFailed(RuntimeError):
    """The judge process could not start (``during_pass=False``), or died running a pass."""

    def __init__(self, detail: str, during_pass: bool = False) -> None:
        super().__init__(detail)
        self.during_pass = during_pass


class _Judge:
    """One judge process."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", WORKER_SOURCE, PACKAGE_DIR],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONHASHSEED": "0"},
            close_fds=True,
        )
        self.pid = os.getpid()
        self.programs: set[str] = set()  # the test programs this judge has compiled
        try:
            ready = self._read(time.monotonic() + START_TIMEOUT_S)
        except (JudgeBreach, JudgeFailed) as error:
            self.kill()
            raise JudgeFailed(f"judge process did not start: {error}") from None
        if not ready.get("ready"):
            self.kill()
            raise JudgeFailed("judge process did not start")

    def _read_exact(self, n: int, deadline: float) -> bytes:
        out = self.proc.stdout.fileno()  # type: ignore[union-attr]
        chunks = []
        while n:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([out], [], [], remaining)[0]:
                raise JudgeBreach("timeout", "the host pass ran out of time")
            chunk = os.read(out, min(n, 1 << 20))
            if not chunk:
                raise JudgeFailed("judge process exited", during_pass=True)
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def _read(self, deadline: float) -> dict[str, Any]:
        (size,) = struct.unpack(">I", self._read_exact(4, deadline))
        if size > MAX_REPLY_BYTES:
            raise JudgeFailed("judge reply too large")
        try:
            reply = marshal.loads(self._read_exact(size, deadline))
        except (ValueError, EOFError, TypeError):
            raise JudgeFailed("garbled reply from the judge", during_pass=True) from None
        if not isinstance(reply, dict):
            raise JudgeFailed("garbled reply from the judge", during_pass=True)
        return reply

    def ask(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request and wait for its answer, at most ``timeout`` seconds."""
        if request["key"] in self.programs:
            request = {k: v for k, v in request.items() if k != "program"}
        else:
            self.programs.add(request["key"])
        data = marshal.dumps(request, 4)
        try:
            self.proc.stdin.write(struct.pack(">I", len(data)) + data)  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
        except OSError as error:
            raise JudgeFailed(f"judge process gone ({error})", during_pass=True) from None
        return self._read(time.monotonic() + timeout)

    def kill(self) -> None:
        """Stop the judge process now."""
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()  # type: ignore[union-attr]
            except OSError:
                pass


class JudgePool:
    """Up to ``size`` judge processes shared by every thread of this process.

    The first is started in the background as soon as the pool exists, so that the first pass
    (after the first sandbox round) rarely waits for an interpreter to start.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Condition()
        self._idle: list[_Judge] = []
        self._started = 1
        threading.Thread(target=self._warm, name="rlvr-judge-start", daemon=True).start()

    def _warm(self) -> None:
        try:
            judge: _Judge | None = _Judge()
        except JudgeFailed:
            judge = None
        self._release(judge)

    def _acquire(self) -> _Judge | None:
        with self._lock:
            while not self._idle and self._started >= self.size:
                self._lock.wait()
            if self._idle:
                return self._idle.pop()
            self._started += 1
        return None  # the caller starts one

    def _release(self, judge: _Judge | None) -> None:
        with self._lock:
            if judge is not None:
                self._idle.append(judge)
            else:
                self._started -= 1
            self._lock.notify()

    def run_pass(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Run one pass; raises JudgeBreach (time) or JudgeFailed (no judge, or it died twice)."""
        for attempt in range(2):
            judge = self._acquire()
            try:
                if judge is None:
                    judge = _Judge()
                reply = judge.ask(request, timeout)
            except JudgeBreach:
                if judge is not None:
                    judge.kill()
                self._release(None)
                raise
            except JudgeFailed as error:
                if judge is not None:
                    judge.kill()
                self._release(None)
                if attempt == 1 or not error.during_pass:
                    raise
                continue
            self._release(judge)
            return reply
        raise JudgeFailed("unreachable")

    def close(self) -> None:
        """Stop every idle judge."""
        with self._lock:
            judges, self._idle = self._idle, []
            self._started -= len(judges)
        for judge in judges:
            if judge.pid == os.getpid():
                judge.kill()


_pool: JudgePool | None = None
_pool_lock = threading.Lock()


def shared_pool() -> JudgePool:
    """This process's judge pool (started lazily; a forked child gets its own)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = JudgePool(max(2, min(8, os.cpu_count() or 2)))
        return _pool


def _reset_after_fork() -> None:
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)
atexit.register(lambda: _pool.close() if _pool is not None else None)


def program_key(spec: dict[str, Any]) -> str:
    """A digest naming a test program, so a judge compiles it once."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode("utf-8")).hexdigest()
