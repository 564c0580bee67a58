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

from .conftest import TEST_LIMITS, assert_no_job_processes, make_box

PREFIX = "rlvr-victim-"

VICTIM = r"""
# {token}-code
import ctypes, ctypes.util, os, sys
data = sys.stdin.read()
print("{token}-out")
print("{token}-err", file=sys.stderr)
with open("/tmp/{token}-tmpfile", "w") as f:
    f.write("{token}-tmp")
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
shm = libc.shmget(0x5EC2E7, 1 << 16, 0o1666)  # IPC_CREAT | 0666
if shm >= 0:
    addr = libc.shmat(shm, None, 0)
    ctypes.memmove(addr, b"{token}-shm", len("{token}-shm"))
try:
    rt = ctypes.CDLL(ctypes.util.find_library("rt") or "librt.so.1", use_errno=True)
    mq = rt.mq_open(b"/rlvr-victim", os.O_CREAT | os.O_WRONLY, 0o666, None)
    if mq >= 0:
        rt.mq_send(mq, b"{token}-mq", len("{token}-mq"), 0)
except OSError:
    pass
print("victim", data == "{token}-stdin", open("data.txt").read() == "{token}-file")
"""

THIEF = r"""
import ctypes, ctypes.util, gc, json, os, re, sys
prefix = "rlvr-vic" + "tim-"
pattern = re.compile(prefix.encode() + rb"[0-9a-f]{8}")
found = {}

def note(where, blob):
    if isinstance(blob, str):
        blob = blob.encode("utf-8", "replace")
    if isinstance(blob, (bytes, bytearray, memoryview)):
        for m in pattern.findall(bytes(blob)):
            found.setdefault(m.decode(), where)

def walk_value(where, value, depth=0):
    if depth > 3:
        return
    note(where, value if isinstance(value, (str, bytes, bytearray)) else b"")
    if isinstance(value, dict):
        for k, v in list(value.items()):
            walk_value(where, k, depth + 1)
            walk_value(where, v, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in list(value):
            walk_value(where, v, depth + 1)

frame = sys._getframe()
while frame is not None:
    walk_value("frame", dict(frame.f_locals))
    walk_value("frame", dict(frame.f_globals))
    frame = frame.f_back
for obj in gc.get_objects():
    walk_value("gc", obj, 2)
for module in list(sys.modules.values()):
    walk_value("module", dict(getattr(module, "__dict__", {})), 1)

# Every anonymous, readable mapping of this process (heap, arenas, stack): what the worker's
# memory held when this process was forked.
with open("/proc/self/maps") as maps:
    for line in maps:
        parts = line.split()
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        path = parts[5] if len(parts) > 5 else ""
        if parts[1].startswith("r") and (not path or path in ("[heap]", "[stack]")):
            if hi - lo <= 1 << 30:
                note("memory", ctypes.string_at(lo, hi - lo))

for top in ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", os.getcwd(), os.path.expanduser("~")):
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            note("file name", name)
            try:
                with open(os.path.join(root, name), "rb") as f:
                    note("file", f.read(1 << 20))
            except OSError:
                pass

libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
ids = [libc.shmget(0x5EC2E7, 0, 0)]
try:
    with open("/proc/sysvipc/shm") as f:
        ids += [int(line.split()[1]) for line in f.readlines()[1:]]
except OSError:
    pass
for shm in ids:
    if shm >= 0:
        addr = libc.shmat(shm, None, 0o10000)  # SHM_RDONLY
        if addr not in (None, ctypes.c_void_p(-1).value):
            note("shm", ctypes.string_at(addr, 1 << 16))
try:
    rt = ctypes.CDLL(ctypes.util.find_library("rt") or "librt.so.1", use_errno=True)
    mq = rt.mq_open(b"/rlvr-victim", os.O_RDONLY | os.O_NONBLOCK)
    if mq >= 0:
        buf = ctypes.create_string_buffer(1 << 16)
        n = rt.mq_receive(mq, buf, len(buf), None)
        if n > 0:
            note("mqueue", buf.raw[:n])
except OSError:
    pass
print(json.dumps(found))
"""


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
for i in range(20000):
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
        res = box.run_python(
            """
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
statuses = [os.waitpid(k, 0)[1] for k in kids]
print(statuses)
""",
            limits=Limits(memory_mb=64, wall_time_s=10),
        )
        assert res.status is ExecStatus.MEMORY_LIMIT, res
        assert box.run_python("print(1)").stdout == b"1\n"
    finally:
        box.close()
