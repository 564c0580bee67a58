"""The ``local`` backend: plain processes with rlimits, seccomp and process-group kills.

The weakest backend: jobs see the host's file system and process list. As root, each worker
slot's jobs run under a dedicated unprivileged uid (they cannot signal the caller, other slots
or anything else), inside a private mount namespace where the host is read-only and /tmp,
/var/tmp and /dev/shm are private, size-limited tmpfs. Not as root, jobs run as the calling
user: they can signal the caller's other processes (including the caller), read and write
everything the user can, and leave files in world-writable directories. Network is blocked by a
seccomp filter in both cases.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import Any

from .base import BackendUnavailable
from .interpreter import closed_ancestors, needed_dirs
from .pool import (
    JOB_ENV,
    WORKER_ENV,
    Channel,
    ProcessChannel,
    Worker,
    ZygoteSandbox,
    _Slot,
    worker_argv,
)

MIB = 1 << 20


class LocalSandbox(ZygoteSandbox):
    """Runs jobs as local processes (see the module docstring for what that protects)."""

    name = "local"

    def __init__(self, *, python: str | None = None, **options: Any) -> None:
        reason = self.unavailable_reason()
        if reason:
            raise BackendUnavailable(f"local sandbox unavailable: {reason}")
        self.python = python or sys.executable
        self.as_root = os.geteuid() == 0
        self.uses_slot_uids = self.as_root
        self.jobs_can_kill_worker = not self.as_root
        super().__init__(**options)
        self._work_roots: list[str] = []

    @classmethod
    def unavailable_reason(cls, **options: Any) -> str | None:
        """The local backend needs Linux (fork, /proc, rlimits, seccomp)."""
        if not sys.platform.startswith("linux"):
            return f"needs Linux, this is {sys.platform}"
        return None

    def _open_channel(self, slot: _Slot) -> Channel:
        return ProcessChannel(worker_argv(self.python), env=dict(WORKER_ENV), cwd="/")

    def _worker_config(self, slot: _Slot) -> dict[str, Any]:
        config: dict[str, Any] = {
            "preload": self.preload,
            "env": JOB_ENV,
            "network": self.allow_network,
        }
        if self.as_root:
            expose = needed_dirs(self.python)
            config.update(
                mode="uid",
                job_uid=slot.lease.uid,
                work_root="/tmp",
                wipe=["/tmp", "/var/tmp", "/dev/shm", "/run/lock"],
                mounts={
                    "expose": expose,
                    "cover": closed_ancestors(expose),
                    "readonly_host": True,
                    "tmpfs": {
                        "/tmp": self.disk_mb * MIB,
                        "/var/tmp": 64 * MIB,
                        "/dev/shm": 64 * MIB,
                        "/run/lock": 1 * MIB,
                    },
                },
            )
        else:
            root = tempfile.mkdtemp(prefix="rlvr-sandbox-")
            self._work_roots.append(root)
            config.update(mode="plain", work_root=root, wipe=[])
        return config

    def _on_worker_started(self, worker: Worker) -> None:
        if not str(worker.info.get("seccomp", "")).startswith("ok") and not self.allow_network:
            raise BackendUnavailable(
                f"local sandbox cannot block the network here (seccomp "
                f"{worker.info.get('seccomp')}); use bwrap or docker, or allow_network=True"
            )

    def close(self) -> None:
        """Stop the workers and remove their work directories."""
        super().close()
        if getattr(self, "_work_roots", None):
            for root in self._work_roots:
                shutil.rmtree(root, ignore_errors=True)
            self._work_roots.clear()
