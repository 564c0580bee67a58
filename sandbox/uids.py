"""Dedicated unprivileged uids, one per worker slot, leased across processes with lock files.

Jobs of different slots must not be able to signal each other, and a slot's "kill every process
of this uid" must never reach a process of another pool, so two live pools never share a uid.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator

UID_BASE = int(os.environ.get("RLVR_SANDBOX_UID_BASE", "1900000000"))
UID_COUNT = int(os.environ.get("RLVR_SANDBOX_UID_COUNT", "4096"))


def lock_dir() -> str:
    """Where the lease lock files live (a root-only directory when root)."""
    if os.geteuid() == 0:
        path = "/run/rlvr-sandbox"
        try:
            os.makedirs(path, mode=0o700, exist_ok=True)
            return path
        except OSError:
            pass
    path = os.path.join(tempfile.gettempdir(), f"rlvr-sandbox-{os.geteuid()}")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


_taken_here: set[int] = set()
_lock = threading.Lock()


class UidLease:
    """Holds one uid until ``release()`` (or process exit, which drops the flock)."""

    def __init__(self, uid: int, fd: int) -> None:
        self.uid = uid
        self._fd: int | None = fd

    @classmethod
    def acquire(cls) -> UidLease:
        """Take the lowest free uid of the range."""
        directory = lock_dir()
        with _lock:
            for uid in range(UID_BASE, UID_BASE + UID_COUNT):
                if uid in _taken_here:  # flock is per open file, so check our own leases
                    continue
                fd = os.open(
                    os.path.join(directory, f"uid-{uid}.lock"),
                    os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                    0o600,
                )
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)
                    continue
                _taken_here.add(uid)
                return cls(uid, fd)
        raise RuntimeError(f"no free sandbox uid in {UID_BASE}..{UID_BASE + UID_COUNT - 1}")

    def release(self) -> None:
        """Give the uid back."""
        with _lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
                _taken_here.discard(self.uid)

    def forget_after_fork(self) -> None:
        """In a forked child: drop our copy of the lock without touching the parent's lease."""
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None


def _reset_after_fork() -> None:
    global _lock
    _lock = threading.Lock()
    _taken_here.clear()


os.register_at_fork(after_in_child=_reset_after_fork)


def kill_uid(uid: int) -> None:
    """SIGKILL every process running as ``uid`` (needs root; no-op otherwise).

    ``kill(-1, SIGKILL)`` sent *as that uid* reaches exactly its processes, in one pass that a
    concurrent fork cannot escape. It runs in a small ``kill`` process rather than a fork of this
    (possibly large, multi-threaded) one.
    """
    if os.geteuid() != 0 or uid == 0:
        return
    kill = shutil.which("kill", path="/usr/bin:/bin")
    for _ in range(2):  # one pass suffices; the second is insurance
        if kill:  # its exit status says nothing useful (procps returns 1 either way)
            subprocess.run(
                [kill, "-KILL", "-1"],
                user=uid,
                group=uid,
                extra_groups=[],
                capture_output=True,
                env={},
                check=False,
            )
        else:
            pid = os.fork()
            if pid == 0:
                try:
                    os.setgroups([])
                    os.setresgid(uid, uid, uid)
                    os.setresuid(uid, uid, uid)
                    os.kill(-1, signal.SIGKILL)
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)


def proc_statuses() -> Iterator[tuple[int, dict[str, str]]]:
    """(pid, fields of /proc/PID/status) of every process that is still there when read."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:  # it exited between the listing and the read
            continue
        yield int(name), fields


def processes_of_uids(uids: set[int]) -> list[tuple[int, int]]:
    """(pid, uid) of live, non-zombie processes whose real uid is in ``uids``."""
    found = []
    for pid, fields in proc_statuses():
        try:
            uid = int(fields["Uid"].split()[0])
            state = fields["State"].split()[0]
        except (KeyError, IndexError, ValueError):
            continue
        if uid in uids and state != "Z":
            found.append((pid, uid))
    return found
