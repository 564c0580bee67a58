"""The ``bwrap`` backend: each worker lives in its own bubblewrap namespaces.

Per worker: a new mount namespace holding only read-only binds of the system directories, a
few files of /etc and the interpreter (nothing else of the host is visible, home directories
included); private /tmp (size-limited tmpfs), /proc and /dev; new PID, IPC, UTS and network
namespaces (only a private loopback unless ``allow_network``); killed with its parent. The worker
is PID 1 of its PID namespace, which makes it immune to its jobs' signals and lets it kill every
job process in one call.

As root, bubblewrap runs privileged and the worker drops to a dedicated unprivileged uid before
serving jobs (host files owned by root stay unreadable even where they are visible). Otherwise
it runs in a user namespace as the calling user, with nested user namespaces disabled.
"""

from __future__ import annotations

import functools
import json
import os
import select
import shutil
import subprocess
import sys
import time
from typing import Any

from .base import BackendUnavailable
from .interpreter import needed_dirs
from .pool import WORKER_ENV, Channel, ProcessChannel, ZygoteSandbox, _Slot, worker_argv

MIB = 1 << 20
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "passwd",
    "group",
    "nsswitch.conf",
    "hosts",
    "ssl",
    "ca-certificates",
    "alternatives",
    "mime.types",
)


@functools.lru_cache(maxsize=4)
def _bwrap_options(bwrap: str) -> frozenset[str]:
    """The options bubblewrap's --help lists (older versions lack some)."""
    out = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10)
    return frozenset(w for w in out.stdout.split() if w.startswith("--"))


def _probe(bwrap: str, args: list[str]) -> str | None:
    """Run ``true`` the way workers will run; None if it works, else bwrap's complaint."""
    try:
        out = subprocess.run(
            [bwrap, *args, "--", "/bin/true"]
            if os.path.exists("/bin/true")
            else [bwrap, *args, "--", "/usr/bin/true"],
            capture_output=True,
            text=True,
            timeout=30,
            env={},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if out.returncode != 0:
        msg = out.stderr.strip().splitlines()
        return msg[-1] if msg else f"exit status {out.returncode}"
    return None


class BwrapChannel(ProcessChannel):
    """bubblewrap started with --info-fd, so the worker's host PID is known."""

    def __init__(self, argv: list[str], **popen: Any) -> None:
        info_r, info_w = os.pipe()
        try:
            argv = [argv[0], "--info-fd", str(info_w), *argv[1:]]
            super().__init__(argv, pass_fds=(info_w,), **popen)
        finally:
            os.close(info_w)
        self._info_r = info_r

    def child_pid(self, timeout: float = 10.0) -> int | None:
        """The host PID of the sandboxed worker (bwrap's own PID is infra_pids[0])."""
        if self._info_r is None:
            return None
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self._info_r], [], [], deadline - time.monotonic())
            if not ready:
                break
            chunk = os.read(self._info_r, 4096)
            if not chunk:
                break
            data += chunk
            try:
                pid = int(json.loads(data)["child-pid"])
            except (ValueError, KeyError):
                continue
            self.infra_pids = (self.proc.pid, pid)
            os.close(self._info_r)
            self._info_r = None
            return pid
        return None

    def kill(self) -> None:
        super().kill()
        if self._info_r is not None:
            os.close(self._info_r)
            self._info_r = None

    def forget(self) -> None:
        super().forget()
        if self._info_r is not None:
            os.close(self._info_r)
            self._info_r = None


class BwrapSandbox(ZygoteSandbox):
    """Runs jobs inside bubblewrap namespaces (see the module docstring)."""

    name = "bwrap"
    worker_is_pid1 = True

    def __init__(
        self,
        *,
        python: str | None = None,
        bwrap: str | None = None,
        ro_binds: list[str] | tuple[str, ...] = (),
        **options: Any,
    ) -> None:
        self.bwrap = bwrap or shutil.which("bwrap") or ""
        self.python = python or sys.executable
        self.ro_binds = [os.path.realpath(p) for p in ro_binds]
        self.as_root = os.geteuid() == 0
        self.uses_slot_uids = self.as_root
        reason = self.unavailable_reason(bwrap=self.bwrap, python=self.python)
        if reason:
            raise BackendUnavailable(f"bwrap sandbox unavailable: {reason}")
        super().__init__(**options)

    @classmethod
    def unavailable_reason(cls, **options: Any) -> str | None:
        """None if bubblewrap can create the namespaces workers need, else why not."""
        bwrap = options.get("bwrap") or shutil.which("bwrap")
        if not bwrap:
            return "bubblewrap (bwrap) is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
        python = options.get("python") or sys.executable
        return _cached_probe(bwrap, python, os.geteuid() == 0)

    def _bwrap_args(self, network: bool, tmp_bytes: int) -> list[str]:
        return _build_args(
            self.bwrap, self.python, self.as_root, network, tmp_bytes, tuple(self.ro_binds)
        )

    def _open_channel(self, slot: _Slot) -> Channel:
        args = self._bwrap_args(self.allow_network, self.disk_mb * MIB)
        channel = BwrapChannel([self.bwrap, *args, "--", *worker_argv(self.python)], env={})
        return channel

    def _worker_config(self, slot: _Slot) -> dict[str, Any]:
        return self._pid1_worker_config(drop_to=slot.lease.uid if slot.lease else None)

    def _on_worker_started(self, worker: Any) -> None:
        if isinstance(worker.channel, BwrapChannel):
            worker.channel.child_pid()


def _build_args(
    bwrap: str,
    python: str,
    as_root: bool,
    network: bool,
    tmp_bytes: int,
    extra_binds: tuple[str, ...],
) -> list[str]:
    opts = _bwrap_options(bwrap)
    args = [
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--as-pid-1",
        "--hostname",
        "sandbox",
    ]
    if not network:
        args.append("--unshare-net")
    if as_root:
        # Privileged mode: no user namespace; the worker keeps only what it needs to drop to
        # its slot's uid, which it does before running anything else.
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args.append("--unshare-user")
        if "--disable-userns" in opts:
            args.append("--disable-userns")
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    args += ["--dir", "/etc"]
    for name in ETC_FILES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--size", str(tmp_bytes), "--perms", "1777", "--tmpfs", "/tmp"]
    args += ["--dir", "/var", "--size", str(64 * MIB), "--perms", "1777", "--tmpfs", "/var/tmp"]
    # The interpreter's directories come after the private /tmp and /var/tmp, which would
    # otherwise hide one that lives there (a virtual environment under /tmp).
    made: set[str] = {"/", "/etc", "/tmp", "/proc", "/dev", "/var", "/var/tmp"}
    for path in [*needed_dirs(python), *extra_binds]:
        parents = []
        parent = os.path.dirname(path)
        while parent not in made and parent != "/":
            parents.append(parent)
            parent = os.path.dirname(parent)
        for p in reversed(parents):  # bwrap would create these 0700 when privileged
            args += ["--perms", "0755", "--dir", p]
            made.add(p)
        args += ["--ro-bind", path, path]
        made.add(path)
    args += ["--chdir", "/tmp", "--clearenv"]
    for key, value in WORKER_ENV.items():
        args += ["--setenv", key, value]
    return args


@functools.lru_cache(maxsize=8)
def _cached_probe(bwrap: str, python: str, as_root: bool) -> str | None:
    if not os.access(bwrap, os.X_OK):
        return f"bubblewrap not found: {bwrap} is not an executable file"
    try:
        args = _build_args(bwrap, python, as_root, False, 16 * MIB, ())
    except Exception as exc:  # e.g. the interpreter cannot be described
        return f"cannot prepare the sandbox: {exc}"
    problem = _probe(bwrap, args)
    if problem:
        return f"bubblewrap cannot create its namespaces here: {problem}"
    return None
