"""Per-job memory and process limits on a cgroup, where the machine gives one (root only).

Address-space and process-count rlimits are per process (and per uid): a job with six processes
may use six times its memory limit. A cgroup counts every process of the job together. Each
worker slot gets one cgroup; the worker's template process is moved into it, so every job
process it forks starts inside, and the host writes the job's limits before each job (only when
they change) and reads the cgroup's OOM-kill counter after it. cgroup v2 and v1 (the memory and
pids controllers) are both supported; without root, or when no usable hierarchy is mounted,
limits stay per process and ``describe()`` says why.
"""

from __future__ import annotations

import errno
import functools
import os
import time
from dataclasses import dataclass

MIB = 1 << 20
BASE_NAME = "rlvr-sandbox"


@dataclass(frozen=True)
class Hierarchy:
    """Where a controller's cgroups live: the mount, and our own cgroup's path inside it."""

    version: int
    mount: str
    own: str  # our cgroup's path relative to the mount ("/" for the root)

    def path(self, *parts: str) -> str:
        """A path in this hierarchy, below our own cgroup's directory."""
        return os.path.join(self.mount, self.own.lstrip("/"), *parts)


def _mounts() -> dict[str, Hierarchy]:
    """The hierarchies holding the memory and pids controllers, keyed by controller."""
    own: dict[str, str] = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            hid, controllers, path = line.rstrip("\n").split(":", 2)
            for c in controllers.split(",") if controllers else ["unified" if hid == "0" else ""]:
                own[c] = path
    found: dict[str, Hierarchy] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, options = fields[sep + 1], fields[sep + 3].split(",")
            point = fields[4]
            root = fields[3]
            if fstype == "cgroup2" and "unified" in own:
                available = _read(os.path.join(point, "cgroup.controllers")).split()
                rel = _relative(own["unified"], root)
                for c in ("memory", "pids"):
                    if c in available and rel is not None:
                        found.setdefault(c, Hierarchy(2, point, rel))
            elif fstype == "cgroup":
                for c in ("memory", "pids"):
                    rel = _relative(own.get(c, ""), root) if c in own else None
                    if c in options and rel is not None:
                        found[c] = Hierarchy(1, point, rel)
    return found


def _relative(path: str, mount_root: str) -> str | None:
    """Our cgroup path as seen below a mount of the hierarchy rooted at ``mount_root``."""
    if mount_root == "/":
        return path
    if path == mount_root or path.startswith(mount_root.rstrip("/") + "/"):
        return path[len(mount_root) :] or "/"
    return None


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _enable_v2(directory: str) -> None:
    """Let ``directory``'s children use the memory and pids controllers (cgroup v2)."""
    have = _read(os.path.join(directory, "cgroup.subtree_control")).split()
    missing = [c for c in ("memory", "pids") if c not in have]
    if missing:
        _write(
            os.path.join(directory, "cgroup.subtree_control"), " ".join("+" + c for c in missing)
        )


@functools.lru_cache(maxsize=1)
def _base() -> tuple[dict[str, str], int] | str:
    """The directories per controller under which slot cgroups go, and the version; or why not."""
    if os.geteuid() != 0:
        return "not root"
    try:
        found = _mounts()
    except (OSError, ValueError, IndexError) as exc:
        return f"cannot read the cgroup mounts: {exc}"
    if "memory" not in found:
        return "no cgroup hierarchy with the memory controller is mounted"
    versions = {h.version for h in found.values()}
    if len(versions) != 1:
        return "the memory and pids controllers are split between cgroup v1 and v2"
    version = versions.pop()
    bases = {}
    try:
        for controller, hierarchy in found.items():
            if version == 2:
                base = _v2_base(hierarchy)
            else:
                base = hierarchy.path(BASE_NAME)
                os.makedirs(base, exist_ok=True)
            bases[controller] = base
    except OSError as exc:
        return f"cannot create a cgroup ({exc.strerror or exc})"
    return bases, version


def _v2_base(hierarchy: Hierarchy) -> str:
    """A cgroup v2 directory without processes of its own whose children get both controllers.

    Our own cgroup usually holds processes (ours), and v2 forbids a cgroup with processes from
    handing controllers to children unless it is the root; so the base goes beside our cgroup,
    under its parent, unless our cgroup is the root.
    """
    own = hierarchy.own.rstrip("/")
    parent = os.path.dirname(own) if own else ""
    host = os.path.join(hierarchy.mount, (own if not own else parent).lstrip("/"))
    base = os.path.join(host, f"{BASE_NAME}")
    _enable_v2(host)
    os.makedirs(base, exist_ok=True)
    _enable_v2(base)
    return base


def describe() -> str:
    """One line: how per-job memory and process limits are enforced on this machine."""
    base = _base()
    if isinstance(base, str):
        return f"per process (rlimits); no per-job cgroup: {base}"
    bases, version = base
    controllers = "memory and pids" if "pids" in bases else "memory"
    return f"per job: {controllers} on cgroup v{version} (plus per-process rlimits)"


def available() -> bool:
    """True when slot cgroups can be created here."""
    return not isinstance(_base(), str)


class SlotCgroup:
    """One worker slot's cgroup (in each hierarchy holding memory or pids)."""

    def __init__(self, dirs: dict[str, str], version: int) -> None:
        self.dirs = dirs
        self.version = version
        self._limits: tuple[int, int] | None = None
        self.oom_seen = 0
        name = "memory.events" if version == 2 else "memory.oom_control"
        try:  # read after every job: one pread on a descriptor kept open
            self._events: int | None = os.open(os.path.join(dirs["memory"], name), os.O_RDONLY)
        except OSError:
            self._events = None

    @classmethod
    def create(cls, name: str) -> SlotCgroup | None:
        """A fresh (or recycled, empty) cgroup named ``name``, or None where none can be made."""
        base = _base()
        if isinstance(base, str):
            return None
        bases, version = base
        dirs = {}
        try:
            for controller, directory in bases.items():
                path = os.path.join(directory, name)
                os.makedirs(path, exist_ok=True)
                dirs[controller] = path
        except OSError:
            return None
        group = cls(dirs, version)
        if version == 2:
            _try(_write, os.path.join(dirs["memory"], "memory.swap.max"), "0")
        group.oom_seen = group.oom_kills()
        return group

    @classmethod
    def nested(cls, container_pid: int, supervisor_pid: int) -> SlotCgroup | None:
        """A cgroup for the jobs inside a container's own (Docker), or None if impossible.

        cgroup v2 lets a cgroup with processes have no children with controllers, so the
        container's supervisor moves to a "worker" child first and the jobs get a "jobs" child.
        """
        if os.geteuid() != 0:
            return None
        try:
            found = _mounts_of(container_pid)
            dirs, version = {}, 0
            for controller, path in found.items():
                version = path[0]
                top = path[1]
                if version == 2:
                    sup = os.path.join(top, "worker")
                    os.makedirs(sup, exist_ok=True)
                    _write(os.path.join(sup, "cgroup.procs"), str(supervisor_pid))
                    _enable_v2(top)
                jobs = os.path.join(top, "jobs")
                os.makedirs(jobs, exist_ok=True)
                dirs[controller] = jobs
        except (OSError, ValueError, KeyError):
            return None
        if "memory" not in dirs:
            return None
        group = cls(dirs, version)
        group.oom_seen = group.oom_kills()
        return group

    def attach(self, pid: int) -> None:
        """Move a (host) process into the cgroup; its future children start there."""
        for directory in self.dirs.values():
            _write(os.path.join(directory, "cgroup.procs"), str(pid))

    def limits_are(self, memory_bytes: int, processes: int) -> bool:
        """Whether these are the limits in force (or none were set yet)."""
        return self._limits is None or self._limits == (memory_bytes, processes)

    def set_limits(self, memory_bytes: int, processes: int) -> None:
        """The limits of the next job (written only when they change)."""
        if self._limits == (memory_bytes, processes):
            return
        mem = self.dirs["memory"]
        if self.version == 2:
            _write(os.path.join(mem, "memory.max"), str(memory_bytes))
        else:
            limit = os.path.join(mem, "memory.limit_in_bytes")
            both = os.path.join(mem, "memory.memsw.limit_in_bytes")
            # memsw (memory + swap) must stay >= the memory limit at every step.
            order = [limit, both]
            if self._limits is not None and memory_bytes > self._limits[0]:
                order.reverse()
            for path in order:
                if path == both and not os.path.exists(both):
                    continue
                _write(path, str(memory_bytes))
        if "pids" in self.dirs:
            _write(os.path.join(self.dirs["pids"], "pids.max"), str(processes))
        self._limits = (memory_bytes, processes)

    def oom_kills(self) -> int:
        """How many processes the kernel killed in this cgroup for want of memory, so far."""
        if self._events is None:
            return 0
        try:
            text = os.pread(self._events, 4096, 0).decode("ascii", "replace")
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                try:
                    return int(value)
                except ValueError:
                    return 0
        return 0

    def oom_killed_since_last_check(self) -> bool:
        """True when a process of the cgroup was OOM-killed since the previous call."""
        count = self.oom_kills()
        killed = count > self.oom_seen
        self.oom_seen = count
        return killed

    def remove(self, timeout: float = 2.0) -> None:
        """Delete the cgroup once its processes are gone (gives up quietly after ``timeout``)."""
        if self._events is not None:
            _try(os.close, self._events)
            self._events = None
        deadline = time.monotonic() + timeout
        for directory in self.dirs.values():
            while True:
                try:
                    os.rmdir(directory)
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                        break
                    time.sleep(0.02)


def _try(func, *args) -> None:  # type: ignore[no-untyped-def]
    try:
        func(*args)
    except OSError:
        pass


def _mounts_of(pid: int) -> dict[str, tuple[int, str]]:
    """For another process (a container's PID 1): controller -> (version, its cgroup dir)."""
    own: dict[str, str] = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            hid, controllers, path = line.rstrip("\n").split(":", 2)
            for c in controllers.split(",") if controllers else ["unified" if hid == "0" else ""]:
                own[c] = path
    found = {}
    for controller, hierarchy in _mounts().items():
        key = "unified" if hierarchy.version == 2 else controller
        if key in own:
            # Our mount shows the whole hierarchy when we sit at its root (the usual host case).
            rel = own[key]
            found[controller] = (hierarchy.version, os.path.join(hierarchy.mount, rel.lstrip("/")))
    return found
