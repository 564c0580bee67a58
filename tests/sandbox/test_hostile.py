"""Hostile programs, one test per case, on every backend.

Each test checks the job ended with the right status, then that it did no harm: host files are
untouched, no process of the job is alive when its result returns, and the pool still serves the
next job.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from sandbox import ExecStatus, Sandbox

from .conftest import (
    IS_ROOT,
    SECRET_ENV_VALUE,
    SECRET_FILE_VALUE,
    TEST_LIMITS,
    assert_no_job_processes,
    assert_serves,
    snapshot,
)


@pytest.fixture
def harmless(box: Sandbox, canary: Path):
    """Yields the box; afterwards asserts no harm was done."""
    before = snapshot(canary)
    yield box
    assert_no_job_processes(box)
    assert snapshot(canary) == before, "a job changed host files"
    assert_serves(box)


# For programs that only end when a time limit stops them.
QUICK = TEST_LIMITS.replace(wall_time_s=1.0, cpu_time_s=1.0)


def run(box: Sandbox, code: str, **kw):
    kw.setdefault("limits", TEST_LIMITS)
    return box.run_python(code, **kw)


def test_fork_bomb(harmless: Sandbox) -> None:
    res = run(
        harmless,
        """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
""",
        limits=QUICK,
    )
    assert res.status is ExecStatus.TIMEOUT, res


def test_memory_bomb(harmless: Sandbox) -> None:
    res = run(
        harmless,
        """
blocks = []
while True:
    blocks.append(bytearray(16 * 1024 * 1024))
""",
    )
    assert res.status is ExecStatus.MEMORY_LIMIT, res
    assert res.wall_time_s < TEST_LIMITS.wall_time_s


def test_one_huge_allocation(harmless: Sandbox) -> None:
    res = run(harmless, "x = bytearray(64 * 1024**3)")
    assert res.status is ExecStatus.MEMORY_LIMIT, res


def test_busy_loop(harmless: Sandbox) -> None:
    res = run(harmless, "while True:\n    pass", limits=QUICK)
    assert res.status is ExecStatus.TIMEOUT, res
    assert "CPU" in res.detail or "wall" in res.detail


def test_sleep_forever(harmless: Sandbox) -> None:
    res = run(harmless, "import time\ntime.sleep(10**6)", limits=QUICK)
    assert res.status is ExecStatus.TIMEOUT, res
    assert "wall" in res.detail
    assert res.wall_time_s < QUICK.wall_time_s + 1


def test_reading_stdin_with_none_given(harmless: Sandbox) -> None:
    res = run(harmless, "import sys\ndata = sys.stdin.read()\nprint(len(data))\ninput()")
    assert res.status is ExecStatus.NONZERO_EXIT, res
    assert res.stdout == b"0\n"
    assert b"EOFError" in res.stderr
    assert res.wall_time_s < 1.5


def test_swallowing_signals(harmless: Sandbox) -> None:
    res = run(
        harmless,
        """
import signal, time
for s in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU):
    signal.signal(s, signal.SIG_IGN)
signal.alarm(1)
while True:
    time.sleep(0.01)
""",
        limits=QUICK,
    )
    assert res.status is ExecStatus.TIMEOUT, res


def test_swallowing_sigxcpu_while_spinning(harmless: Sandbox) -> None:
    res = run(
        harmless,
        """
import signal
signal.signal(signal.SIGXCPU, signal.SIG_IGN)
while True:
    pass
""",
        limits=QUICK,
    )
    assert res.status is ExecStatus.TIMEOUT, res


def test_gigabyte_to_stdout(harmless: Sandbox) -> None:
    t0 = time.monotonic()
    res = run(
        harmless,
        """
import sys
chunk = b"x" * (1 << 20)
for _ in range(1024):
    sys.stdout.buffer.write(chunk)
""",
    )
    assert res.status is ExecStatus.OUTPUT_LIMIT, res
    assert res.stdout_truncated and len(res.stdout) == TEST_LIMITS.output_bytes
    assert set(res.stdout) == {ord("x")}
    assert time.monotonic() - t0 < TEST_LIMITS.wall_time_s  # killed at the cap, not at the clock


def test_flooding_stderr(harmless: Sandbox) -> None:
    res = run(harmless, "import os\nwhile True:\n    os.write(2, b'e' * 65536)")
    assert res.status is ExecStatus.OUTPUT_LIMIT, res
    assert res.stderr_truncated and len(res.stderr) == TEST_LIMITS.output_bytes


@pytest.mark.skipif(not IS_ROOT, reason="local without root writes its work dir on the host disk")
def test_filling_the_disk(harmless: Sandbox) -> None:
    free_before = shutil.disk_usage("/").free
    res = run(
        harmless,
        """
import os, sys
written = 0
try:
    for i in range(100000):
        with open(f"fill{i}.bin", "wb") as f:
            for _ in range(8):
                f.write(b"\\0" * (1 << 20))
                written += 1
except OSError as e:
    print(written, e.errno, file=sys.stderr)
    sys.exit(3)
""",
    )
    assert res.status is ExecStatus.NONZERO_EXIT and res.exit_code == 3, res
    written_mb = int(res.stderr.split()[0])
    assert written_mb <= 200  # the private scratch area's size, not the host disk's
    assert shutil.disk_usage("/").free > free_before - 50 * 2**20


def test_one_file_beyond_the_size_limit(harmless: Sandbox) -> None:
    res = run(
        harmless,
        """
with open("big.bin", "wb") as f:
    f.write(b"\\0" * (9 << 20))
""",
    )
    assert res.status is ExecStatus.NONZERO_EXIT, res
    assert b"File too large" in res.stderr


def test_writing_outside_the_work_dir(harmless: Sandbox, canary: Path) -> None:
    targets = [
        canary / "new.txt",
        canary / "world-writable.txt",
        canary / "sub" / "keep.txt",
        Path("/etc/rlvr-sandbox-test"),
        Path("/usr/rlvr-sandbox-test"),
        Path("/rlvr-sandbox-test"),
        Path("/root/rlvr-sandbox-test"),
    ]
    res = run(
        harmless,
        f"""
import os
ok = []
for path in {[str(t) for t in targets]!r}:
    try:
        with open(path, "a") as f:
            f.write("pwned")
        ok.append(path)
    except OSError:
        pass
for path in ("/tmp/leftover", "../escaped"):
    with open(path, "w") as f:  # private to the job: must not reach the host or the next job
        f.write("x")
print("WROTE", ok)
""",
    )
    assert res.status is ExecStatus.OK, res
    assert "WROTE []" in res.stdout_text
    for t in targets[3:]:
        assert not t.exists()
    if harmless.name != "local" or IS_ROOT:
        assert not Path("/tmp/leftover").exists()
        res2 = run(harmless, "import os\nprint(os.path.exists('/tmp/leftover'))")
        assert res2.stdout == b"False\n"


def test_deleting_files_outside_the_work_dir(harmless: Sandbox, canary: Path) -> None:
    res = run(
        harmless,
        f"""
import os, shutil
for path in ({str(canary / "public.txt")!r}, {str(canary / "world-writable.txt")!r},
             "/etc/passwd", "/etc/hostname"):
    try:
        os.remove(path)
        print("REMOVED", path)
    except OSError:
        pass
shutil.rmtree({str(canary)!r}, ignore_errors=True)
shutil.rmtree("/usr/share/doc", ignore_errors=True)
""",
    )
    assert res.status is ExecStatus.OK, res
    assert b"REMOVED" not in res.stdout
    assert Path("/etc/passwd").exists()


def test_reading_host_secrets(harmless: Sandbox, canary: Path) -> None:
    res = run(
        harmless,
        f"""
import os, glob
found = []
def grab(path):
    try:
        with open(path, "rb") as f:
            found.append(f.read())
    except OSError:
        pass
grab({str(canary / "secret.txt")!r})
grab("/proc/1/environ")
grab("/proc/self/environ")
grab("/proc/{os.getpid()}/environ")
grab("/proc/{os.getppid()}/environ")
for path in glob.glob("/proc/[0-9]*/environ"):
    grab(path)
found.append(repr(dict(os.environ)).encode())
print(b"".join(found).hex())
""",
    )
    assert res.status is ExecStatus.OK, res
    seen = bytes.fromhex(res.stdout_text.strip())
    assert SECRET_FILE_VALUE.encode() not in seen
    assert SECRET_ENV_VALUE.encode() not in seen


def test_network_loopback_and_outside(harmless: Sandbox) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    accepted = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                pass

    t = threading.Thread(target=accept)
    t.start()
    try:
        res = run(
            harmless,
            f"""
import socket
reached = []
for host, port in (("127.0.0.1", {port}), ("1.1.1.1", 53), ("8.8.8.8", 443), ("::1", {port})):
    try:
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            s.connect((host, port))
            reached.append(host)
    except OSError:
        pass
try:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b"x", ("127.0.0.1", {port}))
    reached.append("udp")
except OSError:
    pass
try:
    socket.getaddrinfo("example.com", 80)
    reached.append("dns")
except OSError:
    pass
print("REACHED", reached)
""",
        )
    finally:
        time.sleep(0.3)  # a connection the job started would be accepted by now
        done.set()
        t.join()
        listener.close()
    assert res.status is ExecStatus.OK, res
    assert "REACHED []" in res.stdout_text
    assert accepted == []


def test_killing_the_parent_and_everything(harmless: Sandbox) -> None:
    """The job gets its own result; where it shares the worker's uid (bwrap, docker) it can kill
    the worker's template, and the worker then retires after answering (``harmless`` checks the
    pool still serves)."""
    res = run(
        harmless,
        f"""
import os, signal
for pid in (os.getppid(), 1, {os.getpid()}, -1):
    for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP):
        try:
            os.kill(pid, sig)
        except OSError:
            pass
try:
    os.killpg(0, signal.SIGKILL)
except OSError:
    pass
""",
    )
    # kill(-1) and killpg(0) include the job itself: killed, or alive because nothing matched.
    assert res.status in (ExecStatus.OK, ExecStatus.SIGNAL), res


def test_daemon_writing_a_file_later(harmless: Sandbox, canary: Path) -> None:
    marker = f"rlvr-daemon-{os.getpid()}-{time.monotonic_ns()}"
    res = run(
        harmless,
        f"""
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(1.0)
        for path in ("/tmp/{marker}", "{marker}", {str(canary / marker)!r}):
            try:
                open(path, "w").write("late")
            except OSError:
                pass
        os._exit(0)
    os._exit(0)
print("parent done")
""",
    )
    assert res.status is ExecStatus.OK, res
    assert_no_job_processes(harmless)
    time.sleep(1.5)
    assert not Path(f"/tmp/{marker}").exists()
    assert not (canary / marker).exists()


def test_thread_spam(harmless: Sandbox) -> None:
    res = run(
        harmless,
        """
import threading, time
threads = []
try:
    while True:
        t = threading.Thread(target=time.sleep, args=(30,), daemon=True)
        t.start()
        threads.append(t)
except RuntimeError:
    print("stopped at", len(threads))
""",
    )
    assert res.status is ExecStatus.OK, res
    assert int(res.stdout.split()[-1]) <= TEST_LIMITS.max_processes


def test_deep_recursion(harmless: Sandbox) -> None:
    res = run(harmless, "def f(n):\n    return f(n + 1)\nf(0)")
    assert res.status is ExecStatus.NONZERO_EXIT, res
    assert b"RecursionError" in res.stderr


def test_segfault_from_unbounded_recursion(harmless: Sandbox) -> None:
    # Python-to-Python calls do not use the C stack since 3.11; repr of a deep list does.
    res = run(
        harmless,
        """
import sys
sys.setrecursionlimit(10**8)
nested = []
for _ in range(200_000):
    nested = [nested]
repr(nested)
""",
        limits=TEST_LIMITS.replace(wall_time_s=20, cpu_time_s=10),
    )
    assert res.status is ExecStatus.SIGNAL and res.signal == signal.SIGSEGV, res


def test_segfault_from_ctypes(harmless: Sandbox) -> None:
    res = run(harmless, "import ctypes\nctypes.string_at(0)")
    assert res.status is ExecStatus.SIGNAL and res.signal == signal.SIGSEGV, res


def test_binary_and_invalid_utf8_output(harmless: Sandbox) -> None:
    payload = bytes(range(256)) + b"\xff\xfe\xc3\x28\xed\xa0\x80"
    res = run(
        harmless,
        f"import sys\nsys.stdout.buffer.write({payload!r})\n"
        f"sys.stderr.buffer.write({payload!r})\nprint('\\udcff'.encode('utf-8', 'surrogateescape'))",
    )
    assert res.status is ExecStatus.OK, res
    assert res.stdout.startswith(payload)
    assert res.stderr == payload
    assert "\ufffd" in res.stdout_text


def test_subprocess_and_shell_escapes(harmless: Sandbox) -> None:
    res = run(
        harmless,
        """
import os, subprocess
subprocess.Popen(["sleep", "1000"])
subprocess.Popen("nohup sleep 1000 >/dev/null 2>&1 &", shell=True).wait()
os.system("setsid sleep 1000 &")
out = subprocess.run("id -u; echo \\"[$RLVR_TEST_SECRET]\\"", shell=True, capture_output=True, text=True)
print(out.stdout)
""",
    )
    assert res.status is ExecStatus.OK, res
    uid, secret_line = res.stdout_text.split()[:2]
    assert uid != "0"
    assert secret_line == "[]"


def test_posix_system(harmless: Sandbox) -> None:
    res = run(
        harmless,
        """
import posix
posix.system("id -u; echo \\"[$RLVR_TEST_SECRET]\\"; (sleep 1000 &)")
""",
    )
    assert res.status is ExecStatus.OK, res
    uid, secret_line = res.stdout_text.split()[:2]
    assert uid != "0"
    assert secret_line == "[]"


def test_booby_trapped_leftovers(harmless: Sandbox, canary: Path) -> None:
    """Unreadable dirs and symlinks to host files must not make the cleanup touch the host."""
    secret = canary / "secret.txt"
    mode_before = secret.stat().st_mode
    res = run(
        harmless,
        f"""
import os
for where in (".", "/tmp"):
    d = os.path.join(where, "locked")
    os.makedirs(os.path.join(d, "inner"))
    os.symlink({str(secret)!r}, os.path.join(d, "inner", "link"))
    os.symlink({str(canary)!r}, os.path.join(where, "dirlink"))
    os.chmod(os.path.join(d, "inner"), 0)
    os.chmod(d, 0)
print("set")
""",
    )
    assert res.status is ExecStatus.OK, res
    assert secret.stat().st_mode == mode_before
    again = run(harmless, "import os\nprint(sorted(os.listdir('/tmp')), sorted(os.listdir('.')))")
    assert "locked" not in again.stdout_text and "dirlink" not in again.stdout_text
