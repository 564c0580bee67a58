"""Jobs of one warm worker cannot reach each other: no data, no state, no way to break the next.

A *victim* job holds a secret token in its code, stdin, files, output, a System V shared memory
segment and a POSIX message queue; the next job on the same worker, a *thief* that knows only the
token's prefix, searches everything it can reach for it: the frames above its own, every object
the garbage collector tracks, the anonymous memory of its own process, files in every writable
place, IPC objects. Then *poisoning* jobs try to leave the worker unable to serve: each is graded
as the job's own doing, and an ordinary job after it runs normally.
"""

from __future__ import annotations

import json
import secrets

import pytest

from sandbox import ExecStatus, Limits, Sandbox

from .attacks import PREFIX, THIEF, VICTIM
from .conftest import SPREAD_HOG, TEST_LIMITS, assert_no_job_processes, make_box


@pytest.fixture
def one_worker(backend: str):
    """A fresh one-worker sandbox, so consecutive jobs share a worker."""
    box = make_box(backend, workers=1)
    try:
        yield box
    finally:
        box.close()


def steal(box: Sandbox) -> tuple[str, dict[str, str]]:
    """Run a victim then a thief on the same worker; the victim's token and what the thief found."""
    token = PREFIX + secrets.token_hex(4)
    victim = box.run_python(
        VICTIM.format(token=token),
        stdin=token + "-stdin",
        files={"data.txt": token + "-file"},
        limits=TEST_LIMITS,
    )
    assert victim.status is ExecStatus.OK, victim
    assert victim.stdout_text.splitlines()[-1] == "victim True True", victim
    thief = box.run_python(THIEF, limits=TEST_LIMITS.replace(wall_time_s=20, cpu_time_s=20))
    assert thief.status is ExecStatus.OK, thief
    return token, json.loads(thief.stdout)


def test_a_job_cannot_reach_an_earlier_jobs_data(one_worker: Sandbox) -> None:
    for _ in range(2):  # the second victim runs on a worker that has already served jobs
        token, found = steal(one_worker)
        assert token not in found, f"the thief found the victim's token via {found.get(token)}"
        assert not any(name.startswith(PREFIX) for name in found), found


def test_ipc_objects_do_not_outlive_their_job(one_worker: Sandbox) -> None:
    """A 64 MiB System V segment left by one job is gone (and its memory freed) for the next."""
    leave = one_worker.run_python(
        "import ctypes\nlibc = ctypes.CDLL(None)\n"
        "ids = [libc.shmget(0x1000 + i, 64 << 20, 0o1600) for i in range(3)]\n"
        "ids += [libc.semget(0x2000, 4, 0o1600), libc.msgget(0x3000, 0o1600)]\n"
        "print(ids)",
        limits=TEST_LIMITS,
    )
    assert leave.status is ExecStatus.OK, leave
    look = one_worker.run_python(
        "import ctypes\nlibc = ctypes.CDLL(None)\n"
        "print([libc.shmget(0x1000 + i, 0, 0) for i in range(3)] + "
        "[libc.semget(0x2000, 0, 0), libc.msgget(0x3000, 0)])\n"
        "import os\nprint(sum(len(open(p).readlines()) - 1 for p in "
        "('/proc/sysvipc/shm', '/proc/sysvipc/sem', '/proc/sysvipc/msg') if os.path.exists(p)))",
        limits=TEST_LIMITS,
    )
    assert look.status is ExecStatus.OK, look
    first, count = look.stdout_text.splitlines()
    assert json.loads(first) == [-1] * 5
    assert count == "0"


def test_every_ipc_object_is_gone_however_many(one_worker: Sandbox) -> None:
    """The worker reads the whole of each ``/proc/sysvipc`` listing, not one read's worth (a
    page: about 28 objects): thousands of queues, one holding a message, leave nothing behind."""
    leave = one_worker.run_python(
        "import ctypes\nlibc = ctypes.CDLL(None)\n"
        "ids = [libc.msgget(0x10000 + i, 0o1600) for i in range(3000)]\n"
        "ids += [libc.shmget(0x20000 + i, 4096, 0o1600) for i in range(300)]\n"
        "ids += [libc.semget(0x30000 + i, 1, 0o1600) for i in range(300)]\n"
        "note = ctypes.create_string_buffer(b'\\x01\\0\\0\\0\\0\\0\\0\\0secret', 14)\n"
        "print(sum(i >= 0 for i in ids), libc.msgsnd(ids[2999], note, 6, 0))",
        limits=TEST_LIMITS.replace(wall_time_s=30, cpu_time_s=30),
    )
    assert leave.status is ExecStatus.OK and leave.stdout_text == "3600 0\n", leave
    look = one_worker.run_python(
        "import ctypes\nlibc = ctypes.CDLL(None)\n"
        "print(libc.msgget(0x10000 + 2999, 0), sum(len(open(p).readlines()) - 1 for p in "
        "('/proc/sysvipc/shm', '/proc/sysvipc/sem', '/proc/sysvipc/msg')))",
        limits=TEST_LIMITS,
    )
    assert look.status is ExecStatus.OK and look.stdout_text == "-1 0\n", look


SIGNAL_EVERYONE = """
import os, signal
me = os.getpid()
for name in os.listdir("/proc"):
    if name.isdigit() and int(name) != me:
        for sig in ({signals}):
            try:
                os.kill(int(name), sig)
            except OSError:
                pass
print("signalled")
"""

# Each poison runs, must be graded as the job's own outcome (never sandbox_error), and must not
# keep the next, ordinary job from running normally on the same worker.
POISONS = {
    "deep_directories": """
import os
for top in (".", "/tmp"):
    path = top
    for i in range(1500):
        path = os.path.join(path, "d")
        try:
            os.mkdir(path)
        except OSError:
            break
    os.chdir(".")
print("deep")
""",
    "many_files": """
import os
for i in range(5000):
    open(f"/tmp/f{i}", "w").close()
print("many")
""",
    "symlinked_work_dir": """
import os
here = os.getcwd()
os.chdir("/")
os.rename(here, here + "-moved")
os.symlink("/etc", here)
print("moved")
""",
    "kill_every_process_in_reach": SIGNAL_EVERYONE.format(signals="signal.SIGKILL, signal.SIGSTOP"),
    "stop_every_process_in_reach": SIGNAL_EVERYONE.format(
        signals="signal.SIGSTOP, signal.SIGTERM, signal.SIGINT, signal.SIGUSR1"
    ),
    "fill_scratch_space": """
import os
for where in ("/tmp", "/var/tmp", "/dev/shm", "."):
    try:
        with open(os.path.join(where, "fill"), "wb") as f:
            while True:
                f.write(b"\\0" * (1 << 20))
    except OSError:
        pass
print("full")
""",
    "huge_ipc_segment": """
import ctypes
libc = ctypes.CDLL(None)
libc.shmat.restype = ctypes.c_void_p
shm = libc.shmget(0x4242, 64 << 20, 0o1600)
if shm >= 0:
    ctypes.memset(libc.shmat(shm, None, 0), 1, 64 << 20)
print("ipc")
""",
    "unreadable_tree": """
import os
os.makedirs("a/b/c")
os.makedirs("/tmp/a/b/c")
for p in ("a/b/c", "a/b", "a", "/tmp/a/b/c", "/tmp/a/b", "/tmp/a"):
    os.chmod(p, 0)
print("locked")
""",
}


@pytest.mark.parametrize("poison", sorted(POISONS))
def test_poisoning_job_is_graded_and_the_next_job_runs(one_worker: Sandbox, poison: str) -> None:
    res = one_worker.run_python(POISONS[poison], limits=TEST_LIMITS.replace(wall_time_s=10))
    assert res.status is not ExecStatus.SANDBOX_ERROR, res
    for _ in range(2):
        honest = one_worker.run_python(
            "import os\nprint(6 * 7, sorted(os.listdir('.')), sorted(os.listdir('/tmp'))[:3])",
            limits=TEST_LIMITS,
        )
        assert honest.status is ExecStatus.OK, (poison, honest)
        assert honest.stdout_text.startswith("42 ['main.py']"), (poison, honest)
    assert_no_job_processes(one_worker)


def test_memory_limit_covers_every_process_of_a_job(backend: str) -> None:
    """Six processes of 48 MiB each under a 64 MiB limit: stopped where cgroups are available."""
    box = make_box(backend, workers=1).start()
    try:
        if not box.cgroup_limits():
            pytest.skip(f"{backend}: no per-job cgroup here ({box.limits_enforcement()})")
        res = box.run_python(SPREAD_HOG, limits=Limits(memory_mb=64, wall_time_s=10))
        assert res.status is ExecStatus.MEMORY_LIMIT, res
        assert box.run_python("print(1)").stdout == b"1\n"
    finally:
        box.close()
