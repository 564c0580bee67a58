"""The ``docker`` backend: each worker is one long-lived container (a warm pool).

Every container: no network (``network_mode=none``), read-only root file system, size-limited
tmpfs /tmp, a dedicated non-root uid, all capabilities dropped, ``no-new-privileges``, Docker's
default seccomp profile, and memory, PID and CPU limits from the sandbox's default limits. The
worker is the container's PID 1, so jobs cannot signal it and it kills every job process with one
call; it talks to the host over a unix socket in a bind-mounted directory (accepted once, before
any job runs, then removed), so the Docker daemon is not on the per-job path. Per-job limits are
enforced inside with rlimits; the container limits are a second line that per-job limits cannot
raise.
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import tempfile
import time
from typing import Any

from . import cgroups
from .base import BackendUnavailable, SandboxError
from .pool import (
    START_TIMEOUT_S,
    WORKER_ENV,
    Channel,
    Worker,
    WorkerDied,
    ZygoteSandbox,
    _Slot,
    wait_readable,
    worker_argv,
)

MIB = 1 << 20
PROJECT_IMAGE = "rlvr-envs-sandbox:latest"
DEFAULT_IMAGE = "python:3.11-slim"
LABEL = "rlvr-envs.sandbox"
OWNER_LABEL = "rlvr-envs.owner"
CTL_DIR = "/run/rlvr-ctl"


def _client(timeout: float = 60.0) -> Any:
    try:
        import docker
    except ImportError:
        raise BackendUnavailable(
            "docker sandbox unavailable: the docker SDK is not installed "
            "(pip install 'rlvr-envs[docker]')"
        ) from None
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:
        raise BackendUnavailable(
            f"docker sandbox unavailable: no Docker daemon answers "
            f"({os.environ.get('DOCKER_HOST', 'unix:///var/run/docker.sock')}): "
            f"{_one_line(exc)}"
        ) from None
    return client


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[-1] if text else type(exc).__name__)[:300]


def _image_present(client: Any, name: str) -> bool:
    import docker.errors

    try:
        client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def resolve_image(client: Any, image: str | None, pull: bool = True) -> str:
    """The image to use: the given one, else the project's if built, else python:3.11-slim."""
    candidates = [image] if image else [PROJECT_IMAGE, DEFAULT_IMAGE]
    for name in candidates:
        if _image_present(client, name):
            return name
    wanted = image or DEFAULT_IMAGE
    if pull:
        try:
            client.images.pull(wanted)
            return wanted
        except Exception as exc:
            raise BackendUnavailable(
                f"docker sandbox unavailable: image {wanted} is not present and cannot be pulled "
                f"({_one_line(exc)}); build the sandbox image with `rlvr-envs sandbox build-image`"
            ) from None
    raise BackendUnavailable(
        f"docker sandbox unavailable: image {wanted} is not present (build it with "
        f"`rlvr-envs sandbox build-image`, or let DockerSandbox() pull {DEFAULT_IMAGE})"
    )


def remove_stale_containers(client: Any) -> int:
    """Remove sandbox containers left by processes of this host that are gone."""
    host = socket.gethostname()
    removed = 0
    # Another process's sandbox may remove its containers while they are listed.
    for c in client.containers.list(all=True, filters={"label": LABEL}, ignore_removed=True):
        owner = c.labels.get(OWNER_LABEL, "")
        owner_host, _, pid = owner.rpartition(":")
        if owner_host != host or not pid.isdigit() or _alive(int(pid)):
            continue
        try:
            c.remove(force=True)
            removed += 1
        except Exception:
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DockerChannel(Channel):
    """A worker container, talked to over a unix socket it connects to at startup."""

    def __init__(self, client: Any, create: dict[str, Any], python: str) -> None:
        self._tmp = tempfile.mkdtemp(prefix="rlvr-docker-")
        ctl = os.path.join(self._tmp, "ctl")
        os.mkdir(ctl)
        os.chmod(ctl, 0o777)  # the container's uid must reach it; the parent dir is 0700
        path = os.path.join(ctl, "sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock: socket.socket | None = None
        self.container = None
        try:
            listener.bind(path)
            os.chmod(path, 0o777)
            listener.listen(1)
            create = dict(create)
            create["command"] = worker_argv(python, "--connect", f"{CTL_DIR}/sock")
            create["volumes"] = {ctl: {"bind": CTL_DIR, "mode": "ro"}}
            self.container = client.containers.create(**create)
            self.container.start()
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                ready, _, _ = select.select([listener], [], [], 0.2)
                if ready:
                    self.sock, _ = listener.accept()
                    break
                self.container.reload()
                if self.container.status not in ("created", "running"):
                    logs = self.container.logs().decode("utf-8", "replace").strip()
                    raise SandboxError(f"worker container exited: {logs[-500:]}")
                if time.monotonic() > deadline:
                    raise SandboxError("worker container did not connect in time")
        except BaseException:
            listener.close()
            self.kill()
            raise
        listener.close()
        shutil.rmtree(self._tmp, ignore_errors=True)  # nobody else can connect from now on
        self.container.reload()
        self.infra_pids = (int(self.container.attrs["State"]["Pid"]),)

    def write(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise WorkerDied(f"worker connection closed ({exc})") from None

    def read(self, n: int, deadline: float) -> bytes:
        wait_readable(self.sock, deadline)
        try:
            data = self.sock.recv(n)
        except OSError as exc:
            raise WorkerDied(f"worker connection error ({exc})") from None
        if not data:
            raise WorkerDied("worker container exited")
        return data

    def kill(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()  # the worker exits on EOF after killing its jobs
            except OSError:
                pass
            self.sock = None
        if self.container is not None:
            try:
                self.container.remove(force=True)
            except Exception:
                pass  # already gone (auto-removed)
            self.container = None
        shutil.rmtree(self._tmp, ignore_errors=True)

    def diagnostics(self) -> str:
        if self.container is None:
            return ""
        try:
            return self.container.logs(tail=20).decode("utf-8", "replace").strip()[-1000:]
        except Exception:
            return ""

    def forget(self) -> None:
        if self.sock is not None:
            try:
                self.sock.detach()  # keep the parent's connection open
            except OSError:
                pass
            self.sock = None
        self.container = None


class DockerSandbox(ZygoteSandbox):
    """Runs jobs in warm, locked-down containers (see the module docstring).

    Options: ``image`` (default: the project image if built, else python:3.11-slim, pulled if
    missing), ``python`` (the interpreter inside the image), ``cpus`` per container.
    """

    name = "docker"
    uses_slot_uids = True
    worker_is_pid1 = True

    def __init__(
        self,
        *,
        image: str | None = None,
        python: str = "python3",
        cpus: float = 1.0,
        **options: Any,
    ) -> None:
        self._docker = _client()
        self.image = resolve_image(self._docker, image)
        self.python = python
        self.cpus = float(cpus)
        super().__init__(**options)
        remove_stale_containers(self._docker)

    @classmethod
    def unavailable_reason(cls, **options: Any) -> str | None:
        """None if a daemon answers and the image is present, else why not."""
        try:
            client = _client(timeout=10)
            resolve_image(client, options.get("image"), pull=False)
        except BackendUnavailable as exc:
            return str(exc).removeprefix("docker sandbox unavailable: ")
        return None

    def _client(self) -> Any:
        if self._docker is None:  # after a fork: the parent's connection pool is not ours
            self._docker = _client()
        return self._docker

    def _forget_parent_workers(self) -> None:
        self._docker = None
        super()._forget_parent_workers()

    def _open_channel(self, slot: _Slot) -> Channel:
        lim = self.default_limits
        uid = slot.lease.uid
        create = {
            "image": self.image,
            "user": f"{uid}:{uid}",
            "environment": dict(WORKER_ENV),
            "working_dir": "/tmp",
            "network_mode": "bridge" if self.allow_network else "none",
            "read_only": True,
            "tmpfs": {
                "/tmp": f"rw,exec,nosuid,nodev,size={self.disk_mb}m,mode=1777",
                "/var/tmp": "rw,exec,nosuid,nodev,size=64m,mode=1777",
            },
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "mem_limit": (lim.memory_mb + self.disk_mb + 256) * MIB,
            "memswap_limit": (lim.memory_mb + self.disk_mb + 256) * MIB,
            "pids_limit": lim.max_processes + 16,
            "nano_cpus": int(self.cpus * 1e9),
            "ipc_mode": "private",
            "hostname": "sandbox",
            "init": False,
            "auto_remove": True,
            "labels": {LABEL: "1", OWNER_LABEL: f"{socket.gethostname()}:{os.getpid()}"},
        }
        return DockerChannel(self._client(), create, self.python)

    def _worker_config(self, slot: _Slot) -> dict[str, Any]:
        return self._pid1_worker_config()

    def _slot_cgroup(self, slot: _Slot, worker: Worker) -> cgroups.SlotCgroup | None:
        """A cgroup for the jobs inside the container's own (the container's stays the outer
        bound), where the Docker host's cgroups can be written (root)."""
        pid = worker.channel.infra_pids[0] if worker.channel.infra_pids else None
        return cgroups.SlotCgroup.nested(pid, pid) if pid else None
