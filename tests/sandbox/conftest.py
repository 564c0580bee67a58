"""Fixtures for the sandbox tests: one shared sandbox per backend, host canaries, leak checks.

Backends that cannot run here are skipped with the reason ``available_backends()`` gives. At the
end of the session every sandbox is closed and the session fails if a job process, a container
or a mount was left behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import sandbox
from sandbox.uids import processes_of_uids

# Set before any sandbox starts, so a leak of the host environment would be visible to jobs.
SECRET_ENV_VALUE = "rlvr-secret-env-7f3a9c"
os.environ["RLVR_TEST_SECRET"] = SECRET_ENV_VALUE
SECRET_FILE_VALUE = "rlvr-secret-file-b41d02"
IS_ROOT = os.geteuid() == 0

BACKEND_PARAMS = [
    pytest.param("local", id="local"),
    pytest.param("bwrap", id="bwrap", marks=pytest.mark.bwrap),
    pytest.param("docker", id="docker", marks=pytest.mark.docker),
]

# Small limits keep the hostile tests fast; the sandbox defaults are larger.
TEST_LIMITS = sandbox.Limits(
    wall_time_s=3.0,
    cpu_time_s=2.0,
    memory_mb=256,
    max_processes=32,
    output_bytes=64 * 1024,
    file_size_mb=8,
    open_files=64,
)
DISK_MB = 96

# Six processes of 48 MiB: each under a 64 MiB job's own memory rlimit, together over it, so
# only a cgroup stops them (the job's main process survives and reports the children's fate).
SPREAD_HOG = """
import os, time
kids = []
for _ in range(6):
    pid = os.fork()
    if pid == 0:
        b = bytearray(48 << 20)
        b[::4096] = b"\\1" * len(b[::4096])
        time.sleep(1)
        os._exit(0)
    kids.append(pid)
print([os.waitpid(k, 0)[1] for k in kids])
"""

_boxes: dict[str, sandbox.Sandbox] = {}
_reasons: dict[str, str | None] = {}


def backend_reason(name: str) -> str | None:
    """Why ``name`` cannot run here (cached), or None."""
    if name not in _reasons:
        _reasons[name] = sandbox.available_backends()[name]
    return _reasons[name]


def make_box(name: str, **options: object) -> sandbox.Sandbox:
    """A new sandbox of backend ``name`` with the test defaults (skips if unavailable)."""
    why = backend_reason(name)
    if why:
        pytest.skip(f"{name} backend unavailable: {why}")
    options.setdefault("workers", 2)
    options.setdefault("limits", TEST_LIMITS)
    options.setdefault("disk_mb", DISK_MB)
    return sandbox.get_sandbox(name, shared=False, **options)


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend name in turn."""
    return request.param


@pytest.fixture
def box(backend: str) -> sandbox.Sandbox:
    """The session's shared 2-worker sandbox for ``backend``."""
    if backend not in _boxes:
        _boxes[backend] = make_box(backend).start()
    return _boxes[backend]


def assert_no_job_processes(box: sandbox.Sandbox) -> None:
    """Every process a job created is gone: none runs as a job uid, none hangs below a worker.

    The second check measures in every mode, whether or not jobs have uids of their own.
    """
    assert box.job_process_pids() == set()


def assert_serves(box: sandbox.Sandbox) -> None:
    """The pool still runs an ordinary job correctly."""
    res = box.run_python("print(6 * 7)")
    assert res.status is sandbox.ExecStatus.OK, res
    assert res.stdout == b"42\n"


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Mode and content hash of every entry under ``root``."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        out[str(path.relative_to(root))] = (st.st_mode, digest)
    return out


@pytest.fixture(scope="session")
def canary() -> Iterator[Path]:
    """A host directory jobs must not change, with a secret only its owner may read.

    It lies outside /tmp (which the isolating backends replace with a private one), so the
    local backend's jobs can see it.
    """
    base = "/var/lib" if IS_ROOT else os.path.expanduser("~/.cache")
    os.makedirs(base, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="rlvr-sandbox-canary-", dir=base))
    root.chmod(0o755)
    (root / "public.txt").write_text("public canary\n")
    (root / "public.txt").chmod(0o644)
    (root / "world-writable.txt").write_text("do not touch\n")
    (root / "world-writable.txt").chmod(0o666)
    secret = root / "secret.txt"
    secret.write_text(SECRET_FILE_VALUE + "\n")
    secret.chmod(stat.S_IRUSR | stat.S_IWUSR)
    sub = root / "sub"
    sub.mkdir()
    (sub / "keep.txt").write_text("keep\n")
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _mounts() -> set[str]:
    """Host mounts, minus Docker's own (containers are checked by owner instead)."""
    with open("/proc/self/mountinfo") as f:
        points = {" ".join(line.split()[3:5]) for line in f}
    return {m for m in points if "/docker/" not in m.split(" ", 1)[1]}


@pytest.fixture(scope="session", autouse=True)
def _no_leaks() -> Iterator[None]:
    """Close every sandbox at the end; fail if processes, containers or mounts remain."""
    mounts_before = _mounts()
    yield
    uids: set[int] = set()
    for box in _boxes.values():
        uids |= box.job_uids()
        assert box.job_process_pids() == set(), f"{box.name}: job processes left behind"
        box.close()
    _boxes.clear()
    sandbox.close_shared()
    leftovers = processes_of_uids(uids) if uids else []
    assert leftovers == [], f"sandbox processes left behind: {leftovers}"
    assert _mounts() - mounts_before == set(), "mounts left behind"
    if backend_reason("docker") is None:
        import docker

        client = docker.from_env()
        mine = f"{os.uname().nodename}:{os.getpid()}"
        left = [
            c.name
            for c in client.containers.list(all=True, filters={"label": "rlvr-envs.sandbox"})
            if c.labels.get("rlvr-envs.owner", "").endswith(f":{os.getpid()}")
            or c.labels.get("rlvr-envs.owner") == mine
        ]
        assert left == [], f"containers left behind: {left}"
