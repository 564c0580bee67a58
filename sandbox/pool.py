"""Host side of the warm worker pool shared by every backend.

A backend only says how to start one worker process inside its isolation boundary (a
``Channel``) and how to configure it; this module keeps ``workers`` of them warm, hands each job
to a free one (or queues it behind a busy one's, see ``ZygoteSandbox.pipeline_depth``), replaces
any that dies or stops answering (the job becomes ``sandbox_error``), and starts afresh in a
child process after ``os.fork()``.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import threading
import time
import weakref
from abc import abstractmethod
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import _wire, cgroups
from .base import Job, Sandbox, SandboxError, check_relative_path
from .limits import MIB, Limits
from .result import ExecResult, ExecStatus, classify
from .spawner import in_long_lived_thread
from .uids import UidLease, kill_uid, proc_statuses, processes_of_uids
from .worker_modules import worker_modules

log = logging.getLogger("sandbox")

# The worker's source: its parts in dependency order, each importable by the host too (their
# relative imports fail harmlessly when the whole runs as one ``python -c`` program).
WORKER_PARTS = ("_wire", "_confine", "_cleanup", "_jobproc", "_supervise", "_zygote")
ZYGOTE_SOURCE = "\n\n".join(
    (Path(__file__).with_name(f"{part}.py")).read_text(encoding="utf-8") for part in WORKER_PARTS
)

# Imported once in each worker so jobs find them loaded (thread-free, stdlib only). Each module
# the template holds makes every job's fork and exit dearer, while one it lacks costs only the
# jobs that import it: these are the modules HumanEval's and MBPP's reference programs import
# (and the usual competitive-programming ones), less ``random``, whose reseeding after every
# fork costs each job more than its import costs the few that use it (and ``hashlib``, used by
# one program in 591). ``benchmarks/preload_cost.py`` prints the figures; ``preload=`` chooses.
DEFAULT_PRELOAD = (
    "array bisect cmath collections collections.abc copy functools heapq itertools math "
    "operator re string typing"
).split()

# A worker's program reaches it as the first message on its control channel: a 4-byte length,
# then the source. As an argument it would stay in memory twice more (the interpreter keeps its
# arguments) and, run by ``python -c``, with the parser's tree of it for as long as it runs:
# for a worker, its whole life; some 5 MiB that the template, and so every job's fork and exit,
# would carry. The bootstrap connects first when told to (``--connect PATH``: Docker), so that
# the program finds its control channel on fds 0 and 1 either way.
WORKER_BOOTSTRAP = """import os, sys
def _boot_read(n):
    data = b""
    while len(data) < n:
        chunk = os.read(0, n - len(data))
        if not chunk:
            raise SystemExit(0)
        data += chunk
    return data
if "--connect" in sys.argv:
    import socket
    _boot_at = sys.argv.index("--connect")
    _boot_sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    _boot_sock.connect(sys.argv[_boot_at + 1])
    del sys.argv[_boot_at : _boot_at + 2]
    _boot_fd = _boot_sock.detach()
    os.dup2(_boot_fd, 0)
    os.dup2(_boot_fd, 1)
    os.close(_boot_fd)
exec(compile(_boot_read(int.from_bytes(_boot_read(4), "big")), "<sandbox worker>", "exec"))
"""


def worker_argv(python: str, *args: str) -> list[str]:
    """The command that starts a worker (its program comes on the control channel)."""
    return [python, "-I", "-c", WORKER_BOOTSTRAP, *args]


def program_message(source: str) -> bytes:
    """The first message on a worker's control channel: the program it runs."""
    data = source.encode("utf-8")
    return len(data).to_bytes(4, "big") + data


JOB_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONIOENCODING": "utf-8",
    "PYTHONDONTWRITEBYTECODE": "1",
}
# The worker interpreter's own environment (jobs get JOB_ENV plus their additions).
WORKER_ENV = {
    "PATH": JOB_ENV["PATH"],
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONHASHSEED": "0",
    "MALLOC_ARENA_MAX": "2",  # threads then add little address space under RLIMIT_AS
}

ANSWER_GRACE_S = 15.0  # beyond the job's wall limit, before a silent worker is declared dead
START_TIMEOUT_S = 60.0


class WorkerDied(Exception):
    """The worker process is gone or stopped answering."""


def wait_readable(fd: Any, deadline: float) -> None:
    """Block until ``fd`` is readable; TimeoutError past ``deadline`` (a monotonic time)."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        if select.select([fd], [], [], remaining)[0]:
            return


class Channel:
    """A byte pipe to one worker process, plus how to kill it."""

    infra_pids: tuple[int, ...] = ()

    @abstractmethod
    def write(self, data: bytes) -> None:
        """Send bytes; WorkerDied when the worker is gone."""

    @abstractmethod
    def read(self, n: int, deadline: float) -> bytes:
        """Up to n bytes (at least 1); WorkerDied on EOF, TimeoutError past ``deadline``."""

    @abstractmethod
    def kill(self) -> None:
        """Terminate the worker and everything in it, without waiting long."""

    def diagnostics(self) -> str:
        """What the worker said on its stderr, if anything (for error messages)."""
        return ""

    def forget(self) -> None:
        """After fork, in the child: drop our copies of the parent's descriptors."""

    _pending = b""

    def read_exact(self, n: int, deadline: float) -> bytes:
        """Exactly n bytes, reading ahead in large chunks (a reply is then one or two reads)."""
        while len(self._pending) < n:
            self._pending += self.read(max(n - len(self._pending), 1 << 16), deadline)
        data, self._pending = self._pending[:n], self._pending[n:]
        return data


class ProcessChannel(Channel):
    """A worker started with ``subprocess.Popen``, talked to over its stdin and stdout."""

    def __init__(self, argv: Sequence[str], *, env: dict[str, str], **popen: Any) -> None:
        # From a thread that outlives the worker: bwrap's --die-with-parent is per thread.
        self.proc = in_long_lived_thread(
            subprocess.Popen,
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            close_fds=True,
            start_new_session=True,
            **popen,
        )
        self.infra_pids = (self.proc.pid,)
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        self._err = self.proc.stderr.fileno()
        os.set_blocking(self._err, False)
        self._stderr_tail = b""

    def write(self, data: bytes) -> None:
        try:
            _wire._write_all(self._in, data)
        except OSError as exc:
            raise WorkerDied(f"worker input closed ({exc.strerror})") from None

    def read(self, n: int, deadline: float) -> bytes:
        wait_readable(self._out, deadline)
        try:
            data = os.read(self._out, n)
        except OSError as exc:
            raise WorkerDied(f"worker output error ({exc.strerror})") from None
        if not data:
            raise WorkerDied("worker exited" + self._exit_note())
        return data

    def _exit_note(self) -> str:
        try:
            code = self.proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            return ""
        return f" (status {code})"

    def diagnostics(self) -> str:
        try:
            while True:
                chunk = os.read(self._err, 65536)
                if not chunk:
                    break
                self._stderr_tail = (self._stderr_tail + chunk)[-4000:]
        except (BlockingIOError, OSError):
            pass
        return self._stderr_tail.decode("utf-8", "replace").strip()

    def kill(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=1.0)  # a live worker exits on EOF after killing its jobs
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                self.proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                pass
        for f in (self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass

    def forget(self) -> None:
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass
        self.proc.returncode = 0  # never wait for or signal the parent's worker


class Worker:
    """One warm worker: sends a job frame, reads the answer frame."""

    def __init__(self, channel: Channel, info: dict[str, Any], uid: int | None) -> None:
        self.channel = channel
        self.info = info
        self.uid = uid
        self.jobs = 0
        self.cgroup: cgroups.SlotCgroup | None = None
        self.retiring = False  # being stopped and replaced (once, whoever noticed first)

    def host_pid_of(self, ns_pid: int | None) -> int | None:
        """The host pid of a child of this worker's supervisor, given its pid inside."""
        supervisor = self.channel.infra_pids[-1] if self.channel.infra_pids else None
        if ns_pid is None or supervisor is None:
            return None
        try:
            with open(f"/proc/{supervisor}/task/{supervisor}/children") as f:
                candidates = [int(p) for p in f.read().split()]
        except OSError:
            candidates = [p for p, ppid, _ in _proc_table() if ppid == supervisor]
        for pid in candidates:
            try:
                with open(f"/proc/{pid}/status") as f:
                    fields = dict(line.split(":", 1) for line in f if ":" in line)
                if int(fields["NSpid"].split()[-1]) == ns_pid:
                    return pid
            except (OSError, KeyError, ValueError, IndexError):
                continue
        return None

    @classmethod
    def start(
        cls, channel: Channel, config: dict[str, Any], uid: int | None, program: str
    ) -> Worker:
        """Send the program and its configuration; wait until the worker reports ready."""
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            channel.write(program_message(program) + _wire.encode_frame(config, codec="marshal"))
            header, _ = _wire.decode_frame(lambda n: channel.read_exact(n, deadline))
        except (WorkerDied, TimeoutError, ValueError) as exc:
            note = channel.diagnostics()
            channel.kill()
            what = "did not start in time" if isinstance(exc, TimeoutError) else str(exc)
            raise SandboxError(f"worker {what}" + (f": {note}" if note else "")) from None
        if not header.get("ready"):
            channel.kill()
            raise SandboxError(str(header.get("error") or "worker failed to start"))
        return cls(channel, header["info"], uid)

    def request(
        self, header: dict[str, Any], blobs: list[bytes], timeout: float, max_blob: int
    ) -> tuple[dict[str, Any], list[bytes]]:
        """Send one frame and read its answer."""
        self.send(header, blobs)
        return self.receive(timeout, max_blob)

    def send(self, header: dict[str, Any], blobs: list[bytes]) -> None:
        """Send one frame; the worker answers frames in the order they come."""
        self.channel.write(_wire.encode_frame(header, blobs, codec="marshal"))

    def receive(self, timeout: float, max_blob: int) -> tuple[dict[str, Any], list[bytes]]:
        """The answer to the oldest frame not yet answered."""
        deadline = time.monotonic() + timeout
        try:
            reply = _wire.decode_frame(lambda n: self.channel.read_exact(n, deadline), max_blob)
        except ValueError as exc:
            raise WorkerDied(f"garbled answer from worker: {exc}") from None
        self.jobs += 1
        return reply


def _proc_table() -> list[tuple[int, int, int]]:
    """(pid, parent pid, pid in its own namespace) of every process."""
    out = []
    for pid, fields in proc_statuses():
        try:
            out.append((pid, int(fields["PPid"]), int(fields["NSpid"].split()[-1])))
        except (KeyError, IndexError, ValueError):
            continue
    return out


class _Slot:
    __slots__ = ("index", "worker", "lease", "jobs", "queue", "writing", "stopping", "turns")

    # A worker that dies or hangs is replaced and the job run once more on the fresh one: the job
    # may never have started (the worker was still tidying up after an earlier job, or retired).
    ATTEMPTS = 2

    def __init__(self, index: int, turns: threading.Condition) -> None:
        self.index = index
        self.worker: Worker | None = None
        self.lease: UidLease | None = None
        self.jobs = 0  # jobs of ``submit`` holding the slot (while 0 it is free, or held whole)
        self.queue: deque[_Ticket] = deque()  # jobs sent to the worker, oldest (running) first
        self.writing = False  # a thread is starting the worker or sending it a job
        # Workers of the slot being stopped: none starts meanwhile (both would run as its uid).
        self.stopping = 0
        # The pool's lock, waited on only by this slot's jobs (for their turn, or to be sent).
        self.turns = turns


class _Ticket:
    """One job sent to a worker; its answer is read in its turn, after those sent before it."""

    __slots__ = ("worker", "error", "orphaned", "suspect", "alone")

    def __init__(self, worker: Worker, alone: bool) -> None:
        self.worker = worker
        self.error: Exception | None = None  # sending it failed
        self.orphaned = False  # the worker was replaced before its turn: it never ran there
        # A cgroup OOM kill seen while it waited may have been its own: it runs again, alone.
        self.suspect = False
        self.alone = alone  # nothing is sent behind it before its answer is read


_live_pools: weakref.WeakSet[ZygoteSandbox] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for pool in list(_live_pools):
        pool._forget_parent_workers()


os.register_at_fork(after_in_child=_after_fork_in_child)


class ZygoteSandbox(Sandbox):
    """A sandbox backed by ``workers`` warm zygote workers (see ``sandbox._zygote``).

    Options shared by every backend: ``workers`` (default 2), ``limits`` (the default for jobs
    that give none), ``allow_network`` (False: no job can reach any network), ``disk_mb`` (size
    of the private scratch area where the backend has one), ``preload`` (modules imported once
    per worker).
    """

    uses_slot_uids = False  # a dedicated uid per slot (root only, or always for Docker)
    # The program each worker runs (see ``worker_argv``): the zygote, or a variant built on it
    # (``sandbox.session`` runs one interpreter session per worker).
    worker_source: str = ZYGOTE_SOURCE

    def __init__(
        self,
        *,
        workers: int = 2,
        limits: Limits | None = None,
        allow_network: bool = False,
        disk_mb: int = 512,
        preload: Sequence[str] = DEFAULT_PRELOAD,
    ) -> None:
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a positive int, not {workers!r}")
        if limits is not None and not isinstance(limits, Limits):
            raise TypeError("limits must be a sandbox.Limits")
        if disk_mb <= 0:
            raise ValueError("disk_mb must be positive")
        self.workers = workers
        self.default_limits = limits or Limits()
        self.allow_network = bool(allow_network)
        self.disk_mb = int(disk_mb)
        self.preload = list(preload)
        self._closed = False
        self._init_state()
        _live_pools.add(self)
        self._finalizer = weakref.finalize(self, ZygoteSandbox._finalize, self._slots, self._pid)

    # -- backend hooks

    @abstractmethod
    def _open_channel(self, slot: _Slot) -> Channel:
        """Start one worker process inside the isolation boundary."""

    @abstractmethod
    def _worker_config(self, slot: _Slot) -> dict[str, Any]:
        """The configuration the worker receives (see ``Zygote``)."""

    # bwrap and docker: the worker is PID 1 of its own namespaces and shares the jobs' uid.
    worker_is_pid1 = False

    # local without root: jobs run as the worker's own user and can kill it.
    jobs_can_kill_worker = False

    # Jobs one worker holds at once: the one it runs, and those sent behind it, which it starts
    # as soon as the one before ends instead of idling until this process has read that answer
    # and sent the next. Jobs still run one at a time, each in a fresh process; 1 turns it off.
    pipeline_depth = 2

    def _extra_processes(self) -> int:
        """Processes of the job's uid that are not the job's (the worker and its template)."""
        return 2 if self.worker_is_pid1 else 0

    def _slot_cgroup(self, slot: _Slot, worker: Worker) -> cgroups.SlotCgroup | None:
        """The cgroup the slot's jobs run in, where the machine gives one (root only)."""
        if slot.lease is None:
            return None
        return cgroups.SlotCgroup.create(f"uid-{slot.lease.uid}")

    def _pid1_worker_config(self, drop_to: int | None = None) -> dict[str, Any]:
        """Configuration of a worker that is PID 1 of private namespaces with a private /tmp."""
        return {
            "mode": "pid1",
            "drop_to": drop_to,
            "work_root": "/tmp",
            "wipe": ["/tmp", "/var/tmp", "/dev/shm"],
            "preload": self.preload,
            "env": JOB_ENV,
            "network": self.allow_network,
        }

    def _on_worker_started(self, worker: Worker) -> None:
        """Check the worker can enforce what this backend promises."""

    # -- pool state

    def _init_state(self) -> None:
        self._pid = os.getpid()
        lock = threading.Lock()
        self._cond = threading.Condition(lock)
        self._slots = [_Slot(i, threading.Condition(lock)) for i in range(self.workers)]
        self._free = list(self._slots)

    def _forget_parent_workers(self) -> None:
        """In a forked child: the parent's workers are not ours; start fresh on next use."""
        for slot in self._slots:
            if slot.worker is not None:
                slot.worker.channel.forget()
            if slot.lease is not None:
                slot.lease.forget_after_fork()
        self._init_state()
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, ZygoteSandbox._finalize, self._slots, self._pid)

    def _acquire(self) -> _Slot:
        if os.getpid() != self._pid:
            self._forget_parent_workers()
        with self._cond:
            while not self._free:
                if self._closed:
                    raise SandboxError(f"{self.name} sandbox is closed")
                self._cond.wait()
            if self._closed:
                raise SandboxError(f"{self.name} sandbox is closed")
            return self._free.pop()

    def _release(self, slot: _Slot) -> None:
        with self._cond:
            if self._pid == os.getpid():
                self._free.append(slot)
                self._cond.notify()

    def _acquire_for_job(self) -> _Slot:
        """A slot for one job: a free one, else one whose worker holds fewer than
        ``pipeline_depth`` jobs (the fewest first)."""
        if os.getpid() != self._pid:
            self._forget_parent_workers()
        with self._cond:
            while True:
                if self._closed:
                    raise SandboxError(f"{self.name} sandbox is closed")
                if self._free:
                    slot = self._free.pop()
                    slot.jobs = 1
                    return slot
                busy = [s for s in self._slots if 0 < s.jobs < self.pipeline_depth]
                if busy:
                    slot = min(busy, key=lambda s: s.jobs)
                    slot.jobs += 1
                    return slot
                self._cond.wait()

    def _release_job(self, slot: _Slot) -> None:
        with self._cond:
            if self._pid == os.getpid():
                slot.jobs -= 1
                if slot.jobs == 0:
                    self._free.append(slot)
                self._cond.notify_all()

    def _ensure_worker(self, slot: _Slot) -> Worker:
        if slot.worker is None:
            if self.uses_slot_uids and slot.lease is None:
                slot.lease = UidLease.acquire()
                kill_uid(slot.lease.uid)  # leftovers of a crashed process that held this uid
            uid = slot.lease.uid if slot.lease else None
            config = {**self._worker_config(slot), "modules": worker_modules()}
            worker = Worker.start(self._open_channel(slot), config, uid, self.worker_source)
            try:
                self._on_worker_started(worker)
                self._place_in_cgroup(slot, worker)
                worker.request({"op": "ping"}, [], START_TIMEOUT_S, 0)  # first spare forked now
            except BaseException:
                self._stop_worker(worker)
                raise
            slot.worker = worker
            log.debug("%s worker %d started: %s", self.name, slot.index, worker.info)
        return slot.worker

    def _place_in_cgroup(self, slot: _Slot, worker: Worker) -> None:
        """Move the worker's template (so every job it forks) into the slot's cgroup."""
        template = worker.host_pid_of(worker.info.get("template"))
        worker.info["template_host_pid"] = template
        group = self._slot_cgroup(slot, worker) if template is not None else None
        if group is None:
            return
        try:
            group.attach(template)
        except OSError as exc:
            log.warning(
                "%s: per-job cgroup unavailable (%s); limits stay per process", self.name, exc
            )
            group.remove(timeout=0)
            return
        worker.cgroup = group

    @staticmethod
    def _stop_worker(worker: Worker) -> None:
        worker.channel.kill()
        if worker.uid is not None:
            kill_uid(worker.uid)
        if worker.cgroup is not None:
            worker.cgroup.remove()

    def start(self) -> ZygoteSandbox:
        """Start every worker now, in parallel; raises if none can start."""
        slots = []
        for _ in range(self.workers):
            slots.append(self._acquire())
        errors = []

        def boot(slot: _Slot) -> None:
            try:
                self._ensure_worker(slot)
            except Exception as exc:
                errors.append(exc)

        from concurrent.futures import ThreadPoolExecutor

        try:
            with ThreadPoolExecutor(len(slots)) as ex:
                list(ex.map(boot, slots))
        finally:
            for slot in slots:
                self._release(slot)
        if errors and len(errors) == len(slots):
            raise errors[0]
        return self

    # -- jobs

    def submit(self, job: Job) -> ExecResult:
        """Run one job (blocking; safe from many threads).

        A free worker takes it, else a busy one with room in its pipeline, which starts it once
        the jobs sent before it have ended; answers are read in the order the jobs were sent.
        """
        limits = job.limits or self.default_limits
        if limits.network and not self.allow_network:
            raise ValueError(
                "this job asks for network access but the sandbox was created without it; "
                "pass allow_network=True to get_sandbox()"
            )
        header, blobs = self._encode(job, limits)
        slot = self._acquire_for_job()
        try:
            return self._run_on(slot, header, blobs, limits)
        finally:
            self._release_job(slot)

    def _run_on(
        self, slot: _Slot, header: dict[str, Any], blobs: list[bytes], limits: Limits
    ) -> ExecResult:
        t0 = time.monotonic()
        failure = ""
        attempt = 0
        alone = False
        # Only what happens in the job's own turn counts against it: a worker replaced while
        # the job waited behind another never ran it, and an ambiguous OOM kill is run again.
        while attempt < _Slot.ATTEMPTS:
            sent = self._send(slot, header, blobs, limits, alone)
            if isinstance(sent, ExecResult):
                return sent
            ticket, timeout = sent
            if not self._await_turn(slot, ticket):
                continue
            worker = ticket.worker
            try:
                try:
                    if ticket.error is not None:
                        raise ticket.error
                    reply, out = worker.receive(timeout, 2 * limits.output_bytes + 1024)
                except (WorkerDied, TimeoutError, OSError) as exc:
                    attempt += 1
                    why = "did not answer in time" if isinstance(exc, TimeoutError) else str(exc)
                    note = worker.channel.diagnostics()
                    self._replace(slot, worker, why)
                    failure = f"worker {why}" + (f": {note}" if note else "")
                    continue
                oom = self._oom_killed(slot, worker, ticket)
                if reply.get("fatal"):  # before the next job's turn: it goes to a fresh worker
                    self._replace(slot, worker, str(reply.get("error") or "retired"))
            finally:
                self._end_turn(slot, ticket)
            if oom is None or ticket.suspect:
                alone = True  # the answer cannot say whether the cgroup killed this job's process
                continue
            attempt += 1
            if reply.get("retry") and attempt < _Slot.ATTEMPTS:
                failure = str(reply.get("error"))
                continue
            if oom:
                reply["oom_killed"] = True
            return self._result(reply, out, limits, t0)
        wall = time.monotonic() - t0
        if self.jobs_can_kill_worker:
            # The job runs as the worker's user here, so it can kill it; twice in a row on a
            # fresh worker is the job's doing (its own status, never sandbox_error).
            return ExecResult(
                ExecStatus.SIGNAL,
                signal=signal.SIGKILL,
                wall_time_s=wall,
                backend=self.name,
                detail=f"the job's worker died twice while running it ({failure})",
            )
        return ExecResult.sandbox_error(failure, self.name, wall)

    def _send(
        self, slot: _Slot, header: dict[str, Any], blobs: list[bytes], limits: Limits, alone: bool
    ) -> tuple[_Ticket, float] | ExecResult:
        """Send the job to the slot's worker (started if need be), behind the jobs it holds.

        It waits while the worker holds a job that must run alone, and, for one that must (or
        whose cgroup limits differ from those of the jobs it holds), until the worker is idle.
        """
        with slot.turns:
            while (
                slot.writing
                or slot.stopping
                or (
                    slot.queue
                    and (alone or not self._same_limits(slot, limits) or slot.queue[0].alone)
                )
            ):
                slot.turns.wait()
            if self._closed:
                return ExecResult.sandbox_error(f"{self.name} sandbox is closed", self.name)
            slot.writing = True
        try:
            try:
                worker = self._ensure_worker(slot)
            except Exception as exc:
                log.warning("%s worker could not start: %s", self.name, exc)
                return ExecResult.sandbox_error(f"worker could not start: {exc}", self.name)
            self._apply_cgroup_limits(worker, limits)
            timeout = limits.wall_time_s + ANSWER_GRACE_S + len(blobs[0]) / 50e6
            sent_header, sent_blobs = self._for_worker(worker, header, blobs)
            ticket = _Ticket(worker, alone)
            with slot.turns:
                slot.queue.append(ticket)
            try:
                worker.send(sent_header, sent_blobs)
            except (WorkerDied, OSError) as exc:
                ticket.error = exc  # raised in its turn, as the worker's death
            return ticket, timeout
        finally:
            with slot.turns:
                slot.writing = False
                slot.turns.notify_all()

    def _same_limits(self, slot: _Slot, limits: Limits) -> bool:
        """Whether the job fits the cgroup limits in force for the jobs the worker holds."""
        worker = slot.worker
        if worker is None or worker.cgroup is None:
            return True
        return worker.cgroup.limits_are(*self._cgroup_limits(worker, limits))

    def _await_turn(self, slot: _Slot, ticket: _Ticket) -> bool:
        """Wait until every job sent before this one has been answered; False if its worker was
        replaced first (the job never ran there)."""
        with slot.turns:
            while not ticket.orphaned and slot.queue[0] is not ticket:
                slot.turns.wait()
            return not ticket.orphaned

    def _end_turn(self, slot: _Slot, ticket: _Ticket) -> None:
        with slot.turns:
            if slot.queue and slot.queue[0] is ticket:
                slot.queue.popleft()
            slot.turns.notify_all()

    def _oom_killed(self, slot: _Slot, worker: Worker, ticket: _Ticket) -> bool | None:
        """Whether the slot's cgroup OOM-killed a process since the last job's answer, as this
        job's; None when a job sent after it may have started and been the one (each of those
        is then marked to run again, alone, as this one is)."""
        group = worker.cgroup
        if group is None:
            return False
        with slot.turns:
            if not group.oom_killed_since_last_check():
                return False
            behind = [t for t in slot.queue if t is not ticket]
            for other in behind:
                other.suspect = True
            return None if behind else True

    def _replace(self, slot: _Slot, worker: Worker, why: str) -> None:
        """Stop ``worker`` (once); the jobs sent to it that had not had their turn go to the
        slot's next worker, which starts only once this one is gone."""
        with slot.turns:
            if worker.retiring:
                return
            worker.retiring = True
            if slot.worker is worker:
                slot.worker = None
            for ticket in slot.queue:
                ticket.orphaned = ticket.orphaned or ticket.worker is worker
            slot.queue = deque(t for t in slot.queue if t.worker is not worker)
            slot.stopping += 1
            slot.turns.notify_all()
        try:
            self._stop_worker(worker)
        finally:
            with slot.turns:
                slot.stopping -= 1
                slot.turns.notify_all()
        log.info("%s worker %d replaced: %s", self.name, slot.index, why)

    @staticmethod
    def _cgroup_limits(worker: Worker, limits: Limits) -> tuple[int, int]:
        """The cgroup's memory and process limits for a job: the job's own memory, plus what it
        may copy of the worker's pages when writing them."""
        memory = limits.memory_mb * MIB + int(worker.info.get("rss", 0))
        return memory, limits.max_processes + 2

    @classmethod
    def _apply_cgroup_limits(cls, worker: Worker, limits: Limits) -> None:
        if worker.cgroup is None:
            return
        try:
            worker.cgroup.set_limits(*cls._cgroup_limits(worker, limits))
        except OSError as exc:
            log.warning("cannot set cgroup limits (%s); limits stay per process", exc)
            worker.cgroup = None

    def _result(
        self, reply: dict[str, Any], out: list[bytes], limits: Limits, t0: float
    ) -> ExecResult:
        status, detail = classify(reply, limits.cpu_s, limits.wall_time_s)
        stdout, stderr = (out + [b"", b""])[:2]
        return ExecResult(
            status=status,
            exit_code=reply.get("exit_code"),
            signal=reply.get("signal"),
            stdout=stdout,
            stderr=stderr,
            stdout_truncated=bool(reply.get("stdout_truncated")),
            stderr_truncated=bool(reply.get("stderr_truncated")),
            wall_time_s=float(reply.get("wall_s", time.monotonic() - t0)),
            cpu_time_s=float(reply.get("cpu_s", 0.0)),
            max_rss_kb=int(reply.get("max_rss_kb", 0)),
            backend=self.name,
            detail=detail,
        )

    def _encode(self, job: Job, limits: Limits) -> tuple[dict[str, Any], list[bytes]]:
        """The wire form of a job: header plus blobs [program, stdin?, files...]."""
        files = []
        blobs = [(job.code or "").encode("utf-8", "surrogatepass")]
        if job.stdin is not None:
            stdin = job.stdin
            blobs.append(
                stdin.encode("utf-8", "surrogatepass") if isinstance(stdin, str) else bytes(stdin)
            )
        entry = job.module_main
        fallback = entry.fallback_files if entry is not None else frozenset()
        items = (job.files or {}).items()
        if fallback:  # the files only a worker without the module needs go last, to be cut off
            items = sorted(items, key=lambda item: item[0] in fallback)
        for name, content in items:
            mode = 0o644
            if isinstance(content, tuple):
                content, mode = content
                if not isinstance(mode, int) or not 0 <= mode <= 0o777:
                    raise ValueError(f"file mode for {name!r} must be an int in 0..0o777")
            if isinstance(content, str):
                content = content.encode("utf-8", "surrogatepass")
            elif not isinstance(content, (bytes, bytearray, memoryview)):
                raise TypeError(f"file {name!r} content must be bytes or str")
            files.append([check_relative_path(name, "file"), mode])
            blobs.append(bytes(content))
        header = {
            "op": "run",
            "kind": "python" if job.code is not None else "exec",
            "argv": list(job.argv)
            if job.code is not None and job.argv
            else (list(job.command) if job.command is not None else None),
            "script": job.script,
            "has_stdin": job.stdin is not None,
            "files": files,
            "env": dict(job.env or {}),
            "limits": limits.wire(self._extra_processes()),
        }
        if entry is not None:
            header["module_main"] = [entry.name, entry.digest]
            header["fallback_files"] = len(fallback)
        return header, blobs

    @staticmethod
    def _for_worker(
        worker: Worker, header: dict[str, Any], blobs: list[bytes]
    ) -> tuple[dict[str, Any], list[bytes]]:
        """The job as ``worker`` gets it: without the fallback files of a module it holds."""
        entry, count = header.get("module_main"), header.get("fallback_files", 0)
        if not entry or not count:
            return header, blobs
        held = worker.info.get("modules") or {}
        if held.get(entry[0]) != entry[1]:
            return header, blobs
        return {**header, "files": header["files"][:-count]}, blobs[:-count]

    # -- introspection (tests, doctor)

    def worker_info(self) -> list[dict[str, Any]]:
        """What each started worker reported at startup, plus its uid and host pids."""
        out = []
        for slot in self._slots:
            w = slot.worker
            if w is not None:
                out.append(
                    {
                        **w.info,
                        "slot": slot.index,
                        "job_uid": w.uid,
                        "infra_pids": list(w.channel.infra_pids),
                        "jobs": w.jobs,
                    }
                )
        return out

    def infrastructure_pids(self) -> set[int]:
        """Host PIDs of the workers, their templates and pre-forked spares (leak checks).

        Waits until every worker is idle.
        """
        slots = [self._acquire() for _ in range(self.workers)]
        try:
            pids: set[int] = set()
            for slot in slots:
                worker = slot.worker
                if worker is None:
                    continue
                pids.update(worker.channel.infra_pids)
                reply, _ = worker.request({"op": "ping"}, [], 10.0, 0)
                for key in ("template", "spare"):
                    pid = worker.host_pid_of(reply.get(key))
                    if pid is not None:
                        pids.add(pid)
            return pids
        finally:
            for slot in slots:
                self._release(slot)

    def job_process_pids(self) -> set[int]:
        """Host PIDs of live processes left by jobs (there should be none between jobs).

        Those of the slots' job uids, and every descendant of a worker that is not one of its
        own processes; so it measures whether or not jobs run under uids of their own.
        """
        infra = self.infrastructure_pids()
        uids = self.job_uids()
        found = {pid for pid, _ in processes_of_uids(uids)} if uids else set()
        table = _proc_table()
        children: dict[int, list[int]] = {}
        for pid, ppid, _ in table:
            children.setdefault(ppid, []).append(pid)
        todo = [p for p in infra]
        while todo:
            for pid in children.get(todo.pop(), ()):
                found.add(pid)
                todo.append(pid)
        zombies = {
            pid for pid, fields in proc_statuses() if fields.get("State", "").split()[:1] == ["Z"]
        }
        return found - infra - zombies

    def limits_enforcement(self) -> str:
        """How this sandbox enforces memory and process limits per job (for ``doctor``)."""
        groups = [s.worker.cgroup for s in self._slots if s.worker is not None]
        if groups and all(g is not None for g in groups):
            return f"per job: memory and processes on cgroup v{groups[0].version}"
        if self.uses_slot_uids and cgroups.available():
            return "per process (rlimits): the worker's cgroup could not be set up"
        return cgroups.describe()

    def cgroup_limits(self) -> bool:
        """True when every started worker runs its jobs in a cgroup of its own."""
        groups = [s.worker.cgroup for s in self._slots if s.worker is not None]
        return bool(groups) and all(g is not None for g in groups)

    def job_uids(self) -> set[int]:
        """The uids jobs of this sandbox run as (empty when they share the caller's uid)."""
        return {s.lease.uid for s in self._slots if s.lease is not None}

    # -- shutdown

    def close(self) -> None:
        """Stop every worker (killing whatever runs in them) and release their uids."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._pid != os.getpid():
            return
        self._finalizer()

    @staticmethod
    def _finalize(slots: list[_Slot], pid: int) -> None:
        if os.getpid() != pid:
            return
        for slot in slots:
            worker, slot.worker = slot.worker, None
            if worker is not None:
                ZygoteSandbox._stop_worker(worker)
            if slot.lease is not None:
                slot.lease.release()
                slot.lease = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} workers={self.workers} network={self.allow_network}>"
