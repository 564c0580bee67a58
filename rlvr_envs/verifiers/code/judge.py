"""Host passes that replay the candidate's values, bounded in time and memory from any thread.

A host pass runs trusted test code, but over values the candidate chose: ``range(f(3))`` with
``f`` returning ``10**12`` never ends, ``[0] * f(1)`` can take all the memory, and no thread can
be stopped from outside while C code runs. So every pass that holds candidate values runs in a
*judge* process: a warm, stdlib-only interpreter (see ``_judge_worker``) kept in a small shared
pool, with an address-space limit per pass and the caller's remaining time as its wall clock.
A judge that overruns is killed and replaced; the verdict is then ``timeout`` (or
``memory_limit``), never an infrastructure fault. Judges start lazily, one per concurrent
verification up to the pool size, and a forked child starts its own. Passes that wait at the
same time (concurrent verifications, ``verify_batch``) share one round trip to a judge.
"""

from __future__ import annotations

import atexit
import marshal
import os
import select
import struct
import subprocess
import sys
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any

WORKER_SOURCE = Path(__file__).with_name("_judge_worker.py").read_text(encoding="utf-8")
PACKAGE_DIR = str(Path(__file__).resolve().parent)
START_TIMEOUT_S = 30.0
MAX_REPLY_BYTES = 64 << 20
MAX_BATCH = 32  # passes per round trip
# Bytes of requests in one write (past the first): beyond a pipe's capacity the write would wait
# for the judge, which may itself be waiting for its answers to be read.
MAX_BATCH_BYTES = 48 << 10
KNOWN_PROGRAMS = 200  # programs a judge is assumed to hold (it keeps the last 256 it used)


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
        # The test programs this judge holds, least recently used first (it holds more).
        self.programs: OrderedDict[str, None] = OrderedDict()
        try:
            ready = self.read(time.monotonic() + START_TIMEOUT_S)
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

    def read(self, deadline: float) -> dict[str, Any]:
        """The next reply, by ``deadline`` (a monotonic time)."""
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

    def frame(self, request: dict[str, Any]) -> bytes:
        """The wire frame of a request; the program goes along unless this judge holds it."""
        key = request["key"]
        if key in self.programs:
            self.programs.move_to_end(key)
            request = {k: v for k, v in request.items() if k != "program"}
        else:
            self.programs[key] = None
            while len(self.programs) > KNOWN_PROGRAMS:
                self.programs.popitem(last=False)
        data = marshal.dumps(request, 4)
        return struct.pack(">I", len(data)) + data

    def send(self, frames: bytes) -> None:
        """Write request frames (the judge answers them in order)."""
        try:
            self.proc.stdin.write(frames)  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
        except OSError as error:
            raise JudgeFailed(f"judge process gone ({error})", during_pass=True) from None

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


class _Ticket:
    """One pass some thread waits for: its request, time bound and, in the end, its answer."""

    __slots__ = ("request", "timeout", "reply", "error", "done", "queued", "attempts")

    def __init__(self, request: dict[str, Any], timeout: float) -> None:
        self.request = request
        self.timeout = timeout
        self.reply: dict[str, Any] | None = None
        self.error: Exception | None = None
        self.done = False
        self.queued = True
        self.attempts = 0


class JudgePool:
    """Up to ``size`` judge processes shared by every thread of this process.

    Passes that wait at the same time travel together: a thread that finds a judge free takes
    its own pass and the others queued behind it (up to ``MAX_BATCH``, ``MAX_BATCH_BYTES``),
    writes them in one go and reads the answers one by one, each within its own time bound, so
    one verification's host replay costs one round trip however many others share it. A pass
    that overruns ends its judge and only itself; the passes behind it go back to the queue.

    The first judge starts in the background as soon as the pool exists, so that the first pass
    (after the first sandbox round) rarely waits for an interpreter to start.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._cond = threading.Condition()
        self._idle: list[_Judge] = []
        self._queue: deque[_Ticket] = deque()
        self._started = 1
        self.requests = 0  # round trips to judges
        self.passes = 0  # passes they ran
        threading.Thread(target=self._warm, name="rlvr-judge-start", daemon=True).start()

    def _warm(self) -> None:
        try:
            judge: _Judge | None = _Judge()
        except JudgeFailed:
            judge = None
        with self._cond:
            self._release(judge)

    def _release(self, judge: _Judge | None) -> None:
        """(Lock held.) A judge back to the idle list, or one fewer started."""
        if judge is not None:
            self._idle.append(judge)
        else:
            self._started -= 1
        self._cond.notify_all()

    def run_pass(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Run one pass; raises JudgeBreach (time) or JudgeFailed (no judge, or it died twice)."""
        ticket = _Ticket(request, timeout)
        with self._cond:
            self._queue.append(ticket)
            while not ticket.done:
                if ticket.queued and (self._idle or self._started < self.size):
                    if self._idle:
                        judge: _Judge | None = self._idle.pop()
                    else:
                        judge = None
                        self._started += 1
                    batch = self._take_batch(ticket)
                    self._cond.release()
                    try:
                        judge = self._run_batch(judge, batch)
                    finally:
                        self._cond.acquire()
                        self._release(judge)
                else:
                    self._cond.wait()
        if ticket.error is not None:
            raise ticket.error
        assert ticket.reply is not None
        return ticket.reply

    def _take_batch(self, own: _Ticket) -> list[_Ticket]:
        """(Lock held.) ``own`` and up to ``MAX_BATCH - 1`` passes queued behind it."""
        self._queue.remove(own)
        batch = [own]
        while self._queue and len(batch) < MAX_BATCH:
            batch.append(self._queue.popleft())
        for ticket in batch:
            ticket.queued = False
        return batch

    def _settle(self, ticket: _Ticket, reply: Any = None, error: Exception | None = None) -> None:
        with self._cond:
            ticket.reply, ticket.error, ticket.done = reply, error, True
            self._cond.notify_all()

    def _requeue(self, tickets: list[_Ticket]) -> None:
        with self._cond:
            for ticket in reversed(tickets):
                ticket.queued = True
                self._queue.appendleft(ticket)
            self._cond.notify_all()

    def _run_batch(self, judge: _Judge | None, batch: list[_Ticket]) -> _Judge | None:
        """Run the passes on ``judge`` (started now if None); the judge if it is still usable.

        Every ticket of the batch leaves settled or back in the queue.
        """
        if judge is None:
            try:
                judge = _Judge()
            except JudgeFailed as error:
                for ticket in batch:
                    self._settle(ticket, error=JudgeFailed(str(error)))
                return None
        sent = 0
        try:
            frames = []
            size = 0
            for ticket in batch:
                if frames and size >= MAX_BATCH_BYTES:
                    break
                frames.append(judge.frame(ticket.request))
                size += len(frames[-1])
            sent = len(frames)
            self._requeue(batch[sent:])
            try:
                judge.send(b"".join(frames))
            except JudgeFailed:
                # Gone before it ran anything: the passes go again on a fresh judge, the first
                # one counting it as a try, so a judge that keeps dying cannot loop forever.
                batch[0].attempts += 1
                if batch[0].attempts >= 2:
                    self._settle(batch[0], error=JudgeFailed("judge processes keep dying"))
                    self._requeue(batch[1:sent])
                else:
                    self._requeue(batch[:sent])
                raise
            with self._cond:
                self.requests += 1
            self._read_replies(judge, batch[:sent])
        except (JudgeBreach, JudgeFailed):
            judge.kill()
            return None
        except BaseException:
            judge.kill()
            for ticket in batch[:sent]:
                if not ticket.done and not ticket.queued:
                    self._settle(ticket, error=JudgeFailed("the host pass was interrupted"))
            raise
        return judge

    def _read_replies(self, judge: _Judge, batch: list[_Ticket]) -> None:
        """Settle (or requeue) each sent pass from its answer, each within its own time bound."""
        start = time.monotonic()
        for index, ticket in enumerate(batch):
            try:
                reply = judge.read(start + ticket.timeout)
            except JudgeBreach as breach:
                self._settle(ticket, error=breach)
                self._requeue(batch[index + 1 :])
                raise
            except JudgeFailed as failure:
                ticket.attempts += 1
                if ticket.attempts >= 2 or not failure.during_pass:
                    self._settle(ticket, error=failure)
                    self._requeue(batch[index + 1 :])
                else:  # not necessarily these values' doing: once more, on a fresh judge
                    self._requeue(batch[index:])
                raise
            start = time.monotonic()
            with self._cond:
                self.passes += 1
            if reply.get("unknown_program"):  # it dropped the program: send it along again
                judge.programs.pop(ticket.request["key"], None)
                self._requeue([ticket])
                continue
            self._settle(ticket, reply)

    def close(self) -> None:
        """Stop every idle judge."""
        with self._cond:
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
