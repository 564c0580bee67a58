"""What every backend must do for ordinary programs: I/O, files, limits, concurrency, faults."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import sandbox
from sandbox import ExecStatus, Job, Limits, Sandbox

from .conftest import TEST_LIMITS, assert_no_job_processes, assert_serves, make_box


def test_stdout_stderr_exit_code(box: Sandbox) -> None:
    res = box.run_python("import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(3)")
    assert res.status is ExecStatus.NONZERO_EXIT and res.exit_code == 3
    assert res.stdout == b"out\n" and res.stderr == b"err\n"
    assert res.backend == box.name
    assert res.wall_time_s > 0 and res.cpu_time_s >= 0


@pytest.mark.parametrize(
    ("code", "status", "exit_code", "stderr_has"),
    [
        ("pass", ExecStatus.OK, 0, b""),
        ("import sys; sys.exit()", ExecStatus.OK, 0, b""),
        ("import sys; sys.exit('bad input')", ExecStatus.NONZERO_EXIT, 1, b"bad input"),
        ("import sys; sys.exit(256 + 7)", ExecStatus.NONZERO_EXIT, 7, b""),
        ("raise KeyError('k')", ExecStatus.NONZERO_EXIT, 1, b"KeyError: 'k'"),
        ("def f(:\n  pass", ExecStatus.NONZERO_EXIT, 1, b"SyntaxError"),
        ("import os; os._exit(9)", ExecStatus.NONZERO_EXIT, 9, b""),
        ("import os, signal; os.kill(os.getpid(), signal.SIGABRT)", ExecStatus.SIGNAL, None, b""),
    ],
)
def test_python_exit_semantics(
    box: Sandbox, code: str, status: ExecStatus, exit_code: int | None, stderr_has: bytes
) -> None:
    res = box.run_python(code)
    assert res.status is status, res
    assert res.exit_code == exit_code
    assert stderr_has in res.stderr


def test_traceback_names_the_script_not_the_worker(box: Sandbox) -> None:
    res = box.run_python("x = 1\n1 / 0\n")
    assert b'main.py", line 2, in <module>' in res.stderr
    assert b"_zygote" not in res.stderr and b"exec(" not in res.stderr


def test_main_module_and_argv(box: Sandbox) -> None:
    res = box.run_python(
        "import sys\nprint(__name__, sys.argv)\nclass C: pass\n"
        "import pickle\nprint(pickle.loads(pickle.dumps(C())).__class__.__name__)",
        argv=["prog", "-x"],
    )
    assert res.stdout == b"__main__ ['prog', '-x']\nC\n", res


PROBE_START = (
    "import os, signal, sys, __main__\n"
    "print(sys.argv, sorted(k for k in vars(__main__) if not k.startswith('__')),"
    " os.path.basename(__file__), __main__.__file__ == __file__,"
    " sys.stdout is sys.__stdout__, [s.fileno() for s in (sys.stdin, sys.stdout, sys.stderr)],"
    " signal.getsignal(signal.SIGINT) is signal.default_int_handler,"
    " sys.path[0] == os.getcwd() == os.environ['HOME'])\n"
)
SPOIL_START = (
    "import signal, sys, __main__\n"
    "sys.argv.append('spoilt'); __main__.left = 1; sys.modules['__main__'].__dict__['also'] = 2\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN); sys.stdout = sys.__stdout__ = sys.stderr\n"
)


def test_each_job_starts_from_the_same_state_whatever_the_last_one_did(box: Sandbox) -> None:
    # The std streams, argv and an empty __main__ are prepared once, in the template.
    expected = "['main.py'] ['os', 'signal', 'sys'] main.py True True [0, 1, 2] True True\n"
    for _ in range(3):  # a spoiler before each probe, on one worker or the other
        assert box.run_python(SPOIL_START).ok
        res = box.run_python(PROBE_START)
        assert res.ok and res.stdout.decode() == expected, res
    res = box.submit(Job(code=PROBE_START, script="run.py"))
    assert res.stdout.decode() == expected.replace("main.py", "run.py"), res
    res = box.run_python(PROBE_START, argv=["prog", "-x"])
    assert res.stdout.decode() == expected.replace("['main.py']", "['prog', '-x']"), res


def test_files_are_placed_and_importable(box: Sandbox) -> None:
    res = box.run_python(
        "import os, helper\nprint(helper.VALUE, open('data/in.txt').read(), oct(os.stat('run.sh').st_mode & 0o777))",
        files={
            "helper.py": "VALUE = 41 + 1\n",
            "data/in.txt": b"bytes!",
            "run.sh": ("#!/bin/sh\n", 0o755),
        },
    )
    assert res.status is ExecStatus.OK, res
    assert res.stdout == b"42 bytes! 0o755\n"


def test_stdin_text_bytes_and_large(box: Sandbox) -> None:
    assert box.run_python("print(input()[::-1])", stdin="abc\n").stdout == b"cba\n"
    assert (
        box.run_python("import sys; print(sys.stdin.buffer.read().hex())", stdin=b"\x00\xff").stdout
        == b"00ff\n"
    )
    big = os.urandom(3 << 20)
    res = box.run_python(
        "import sys, hashlib\nd = sys.stdin.buffer.read()\n"
        "print(len(d), hashlib.sha256(d).hexdigest())",
        stdin=big,
    )
    import hashlib

    assert res.stdout.split() == [str(len(big)).encode(), hashlib.sha256(big).hexdigest().encode()]


def test_stdin_unread_does_not_hang(box: Sandbox) -> None:
    res = box.run_python("print('ignoring stdin')", stdin=b"x" * (4 << 20))
    assert res.status is ExecStatus.OK and res.wall_time_s < 2


def test_output_just_under_and_over_the_cap(box: Sandbox) -> None:
    cap = TEST_LIMITS.output_bytes
    ok = box.run_python(f"import sys; sys.stdout.write('a' * {cap})", limits=TEST_LIMITS)
    assert ok.status is ExecStatus.OK and len(ok.stdout) == cap and not ok.stdout_truncated
    over = box.run_python(f"import sys; sys.stdout.write('a' * {cap + 1})", limits=TEST_LIMITS)
    assert over.status is ExecStatus.OUTPUT_LIMIT and over.stdout_truncated


def test_run_command_with_files_and_env(box: Sandbox) -> None:
    res = box.run(
        ["sh", "-c", 'cat in.txt; echo "$GREETING"; pwd'],
        files={"in.txt": "file\n"},
        env={"GREETING": "hello"},
    )
    assert res.status is ExecStatus.OK, res
    lines = res.stdout_text.splitlines()
    assert lines[:2] == ["file", "hello"]


def test_missing_command_is_exit_127(box: Sandbox) -> None:
    res = box.run(["definitely-not-a-command-xyz"])
    assert res.status is ExecStatus.NONZERO_EXIT and res.exit_code == 127
    assert b"definitely-not-a-command-xyz" in res.stderr


def test_environment_is_an_allow_list(box: Sandbox) -> None:
    res = box.run_python("import os; print(sorted(os.environ))")
    names = set(eval(res.stdout_text))
    assert names <= {
        "PATH",
        "HOME",
        "LANG",
        "LC_ALL",
        "PYTHONIOENCODING",
        "PYTHONDONTWRITEBYTECODE",
        "TMPDIR",
    }


def test_jobs_do_not_see_each_others_files(backend: str) -> None:
    box = make_box(backend, workers=1)
    try:
        first = box.run_python(
            "open('/tmp/note', 'w').write('1'); open('note', 'w').write('1')\n"
            "import os; print(os.getcwd())"
        )
        # A worker's jobs work in one directory path, emptied and made afresh for each job.
        second = box.run_python(
            f"import os\nprint(os.path.exists('/tmp/note'), "
            f"os.path.exists(os.path.join({first.stdout_text.strip()!r}, 'note')), os.listdir('.'))"
        )
        assert second.stdout == b"False False ['main.py']\n", second
    finally:
        box.close()


def test_cpu_time_is_measured(box: Sandbox) -> None:
    res = box.run_python(
        "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    )
    assert res.status is ExecStatus.OK
    assert 0.25 <= res.cpu_time_s <= 1.5
    assert res.wall_time_s >= 0.25


def test_memory_error_handled_by_the_program_is_not_a_limit(box: Sandbox) -> None:
    res = box.run_python(
        "try:\n    x = bytearray(64 * 1024**3)\nexcept MemoryError:\n    print('coped')",
        limits=TEST_LIMITS,
    )
    assert res.status is ExecStatus.OK and res.stdout == b"coped\n"


def test_a_job_cannot_fake_a_sandbox_error(box: Sandbox) -> None:
    res = box.run_python("import os\nos.write(3, b'Efake setup failure')\nos._exit(1)")
    assert res.status is ExecStatus.NONZERO_EXIT, res


def test_concurrent_submissions_from_threads(box: Sandbox) -> None:
    results: dict[int, sandbox.ExecResult] = {}

    def work(i: int) -> None:
        results[i] = box.run_python(f"import time; time.sleep(0.01); print({i} * 2)")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {i: r.stdout for i, r in results.items()} == {
        i: f"{i * 2}\n".encode() for i in range(24)
    }


def test_jobs_find_the_compiler_ready(backend: str) -> None:
    """The interpreter makes its AST node types on the first compile(): the template has done
    it (they are among its frozen objects), so a job compiling its program does not pay for it,
    whatever modules the workers preload (none of these imports ``ast``)."""
    box = make_box(backend, workers=1, preload=["math"])
    try:
        res = box.run_python(
            "import gc\n"
            "made = [o for o in gc.get_objects() if isinstance(o, type) and o.__name__ == 'If']\n"
            "print(len(made), gc.get_freeze_count() > 0)"
        )
        assert res.stdout == b"0 True\n", res
    finally:
        box.close()


_HEAP_KIB = """
import subprocess, sys

def heap_kib(smaps):
    kib, in_heap = 0, False
    for line in smaps.splitlines():
        fields = line.split()
        if fields and "-" in fields[0] and not fields[0].endswith(":"):
            in_heap = fields[-1] == "[heap]"
        elif in_heap and fields[0] == "Rss:":
            kib += int(fields[1])
    return kib

# What the worker itself imports and makes, besides the preloaded math.
SAME = "import array, ctypes, fcntl, json, marshal, math, resource, select, socket, struct; "
SAME += "compile('', '', 'exec'); print(open('/proc/self/smaps').read())"
fresh = subprocess.run([sys.executable, "-I", "-c", SAME],
                       capture_output=True, text=True, check=True).stdout
print(heap_kib(open("/proc/self/smaps").read()) - heap_kib(fresh))
"""


def test_the_template_carries_no_spare_heap(backend: str) -> None:
    """Every fork copies the page tables of what the template holds, and every job's exit unmaps
    them. The template keeps neither its own program's text (an argument stays in memory twice
    more), nor the parser's tree of it (``python -c PROGRAM`` keeps that while PROGRAM runs: the
    worker's whole life), nor the heap its setup freed: a job's heap is within 1.6 MiB of a fresh
    interpreter's that imported the same (measured: 0.9-1.0 MiB; 2.1-2.3 with the program as an
    argument, 4.7-5.9 without the trim or the bootstrap)."""
    box = make_box(backend, workers=1, preload=["math"])
    try:
        res = box.run_python(_HEAP_KIB)
        assert res.ok, res
        assert int(res.stdout) < 1.6 * 1024, res
    finally:
        box.close()


def test_run_python_many_keeps_order(box: Sandbox) -> None:
    jobs = [f"print({i})" for i in range(10)] + [
        Job(code="print(input())", stdin="x\n"),
        {"command": ["echo", "hi"]},
    ]
    out = [r.stdout for r in box.run_python_many(jobs)]
    assert out == [f"{i}\n".encode() for i in range(10)] + [b"x\n", b"hi\n"]


def _kill_worker_during(box: sandbox.Sandbox, times: int) -> sandbox.ExecResult:
    """Run a 3 s job and SIGKILL the worker running it, ``times`` times (each fresh worker)."""
    holder: list[sandbox.ExecResult] = []
    t = threading.Thread(
        target=lambda: holder.append(
            box.run_python("import time; time.sleep(3)", limits=Limits(wall_time_s=10))
        )
    )
    killed: list[int] = []
    t.start()
    deadline = time.monotonic() + 60
    while len(killed) < times and time.monotonic() < deadline:
        time.sleep(0.5)
        info = box.worker_info()
        if info and info[0]["infra_pids"][-1] not in killed:
            killed.append(info[0]["infra_pids"][-1])
            os.kill(killed[-1], signal.SIGKILL)
    t.join(60)
    assert holder, "the job never returned"
    return holder[0]


def test_worker_killed_mid_job_is_replaced_and_the_job_run_again(backend: str) -> None:
    box = make_box(backend, workers=1)
    try:
        assert_serves(box)
        victim = box.worker_info()[0]["infra_pids"][-1]
        res = _kill_worker_during(box, 1)
        assert res.status is ExecStatus.OK, res  # on a fresh worker
        assert box.worker_info()[0]["infra_pids"][-1] != victim
        assert_serves(box)
        assert_no_job_processes(box)
    finally:
        box.close()


@pytest.mark.slow
def test_worker_killed_twice_is_a_sandbox_error() -> None:
    """Nothing the job did: an infrastructure fault, reported as one (never a wrong answer).

    The retry is the host's (the same for every backend); local restarts fastest.
    """
    box = make_box("local", workers=1)
    try:
        assert_serves(box)
        res = _kill_worker_during(box, 2)
        assert res.status is ExecStatus.SANDBOX_ERROR, res
        assert_serves(box)
        assert_no_job_processes(box)
    finally:
        box.close()


def _started_processes_alive(box: Sandbox) -> list[bool]:
    """For each worker: is the process the host started for it (bwrap itself, ...) alive?"""
    alive = []
    for slot in box._slots:  # type: ignore[attr-defined]
        proc = getattr(slot.worker.channel, "proc", None) if slot.worker else None
        if proc is not None:
            alive.append(proc.poll() is None)
    return alive


def test_workers_outlive_the_threads_that_started_them(backend: str) -> None:
    """bwrap's --die-with-parent is per thread: start() and jobs from threads that then end."""
    box = make_box(backend, workers=2)
    try:
        box.start()  # boots the workers from a thread pool that is gone when it returns
        time.sleep(0.3)
        assert all(_started_processes_alive(box)), box.worker_info()
        box.close()
        box = make_box(backend, workers=1)
        thread = threading.Thread(target=lambda: box.run_python("pass"))  # starts it lazily
        thread.start()
        thread.join(60)
        time.sleep(0.3)
        assert all(_started_processes_alive(box)), box.worker_info()
        jobs = box.worker_info()[0]["jobs"]
        assert_serves(box)
        assert box.worker_info()[0]["jobs"] == jobs + 1  # the same worker: not replaced
    finally:
        box.close()


def test_registered_modules_are_held_by_workers_started_afterwards(backend: str) -> None:
    name = f"rlvr_test_held_{backend}"
    probe = f"import sys\nm = sys.modules.get({name!r})\nprint(m and m.VALUE, m and m.__source_digest__)"
    box = make_box(backend, workers=1)
    try:
        assert box.run_python(probe).stdout == b"None None\n"  # started before: does not hold it
        digest = sandbox.register_worker_module(name, "VALUE = 42\n")
        box.close()
        box = make_box(backend, workers=1)
        assert box.run_python(probe).stdout.split() == [b"42", digest.encode()]
        # A job may change its copy; the next job gets the worker's, untouched.
        assert box.run_python(f"import sys\nsys.modules[{name!r}].VALUE = 7").ok
        assert box.run_python(probe).stdout.split()[0] == b"42"
    finally:
        box.close()
    with pytest.raises(ValueError):
        sandbox.register_worker_module("not a name", "")


def test_a_held_module_is_warmed_before_the_template_forks(backend: str) -> None:
    """``__worker_warm__`` runs once per worker, before its template forks: every job finds what
    it did, however many jobs ran; a hook that fails leaves the module held all the same."""
    name = f"rlvr_test_warm_{backend}"
    sandbox.register_worker_module(
        name,
        "import os\nRUNS = []\n"
        "def __worker_warm__():\n    RUNS.append(os.getpid())\n    raise RuntimeError('late')\n",
    )
    probe = f"import os, sys\nm = sys.modules[{name!r}]\nprint(len(m.RUNS), os.getpid() in m.RUNS)"
    box = make_box(backend, workers=1)
    try:
        outputs = {box.run_python(probe).stdout for _ in range(3)}
        assert outputs == {b"1 False\n"}, outputs
    finally:
        box.close()


FALLBACK = "import os\nprint('fallback', sorted(os.listdir('.')))\n"


def test_a_held_module_main_stands_for_the_code_and_its_fallback_files(backend: str) -> None:
    name = f"rlvr_test_main_{backend}"
    digest = sandbox.register_worker_module(
        name, "import os, sys\ndef main():\n    print('main', sorted(os.listdir('.')), sys.argv)\n"
    )
    files = {"data.txt": "1", "loader.py": "2"}
    box = make_box(backend, workers=1)
    try:
        held = sandbox.ModuleMain(name, digest, {"loader.py"})
        result = box.submit(sandbox.Job(code=FALLBACK, files=files, module_main=held))
        # main() ran as the program; the files only the fallback needs were not placed.
        assert result.ok and result.stdout == b"main ['data.txt', 'main.py'] ['main.py']\n", result
        # Another version of the module (or none) is not held: the code runs, with every file.
        for other in (
            sandbox.ModuleMain(name, "0" * 64, {"loader.py"}),
            sandbox.ModuleMain("rlvr_absent", digest),
        ):
            result = box.submit(sandbox.Job(code=FALLBACK, files=files, module_main=other))
            assert result.stdout == b"fallback ['data.txt', 'loader.py', 'main.py']\n", result
        # main() is the job's program in every respect: its exceptions and exit status too.
        failing = sandbox.register_worker_module(
            name + "_fails", "def main():\n    raise SystemExit(3)\n"
        )
        box.close()
        box = make_box(backend, workers=1)
        result = box.submit(
            sandbox.Job(code="pass", module_main=sandbox.ModuleMain(name + "_fails", failing))
        )
        assert result.exit_code == 3, result
    finally:
        box.close()


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"command": ["true"], "module_main": sandbox.ModuleMain("m", "d")}, ValueError),
        ({"code": "pass", "module_main": sandbox.ModuleMain("m", "d", {"absent.py"})}, ValueError),
        ({"code": "pass", "module_main": ("m", "d")}, TypeError),
    ],
)
def test_module_main_is_checked(fields: dict, error: type) -> None:
    with pytest.raises(error):
        sandbox.Job(**fields)
    with pytest.raises(ValueError):
        sandbox.ModuleMain("not a name", "d")
    with pytest.raises(ValueError):
        sandbox.ModuleMain("m", "")


def test_sandbox_survives_fork_of_its_owner(backend: str) -> None:
    box = make_box(backend, workers=1)
    try:
        assert_serves(box)
        parent_workers = box.worker_info()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                res = box.run_python("print('child')")
                fresh = box.worker_info()
                ok = res.stdout == b"child\n" and fresh and fresh != parent_workers
                code = 0 if ok else 2
            finally:
                box.close()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        assert box.worker_info() == parent_workers  # the child did not touch ours
        assert_serves(box)
    finally:
        box.close()


def test_network_only_when_allowed(box: Sandbox) -> None:
    with pytest.raises(ValueError, match="allow_network"):
        box.run_python("pass", limits=Limits(network=True))


def test_closed_sandbox_refuses_jobs(backend: str) -> None:
    box = make_box(backend, workers=1)
    box.close()
    box.close()  # idempotent
    with pytest.raises(sandbox.SandboxError, match="closed"):
        box.run_python("pass")


OWNER = r"""
import json, sys, threading, time
sys.path.insert(0, {root!r})
import sandbox
box = sandbox.get_sandbox({backend!r}, shared=False, workers=2, disk_mb=64).start()
threading.Thread(target=box.run_python, args=("import os, time\nos.fork()\ntime.sleep(600)",),
                 kwargs={{"limits": sandbox.Limits(wall_time_s=600)}}, daemon=True).start()
time.sleep(1.0)
info = box.worker_info()
print(json.dumps({{"uids": sorted(box.job_uids()), "pids": [p for w in info for p in w["infra_pids"]]}}),
      flush=True)
time.sleep(600)
"""


def test_owner_killed_leaves_nothing_behind(backend: str) -> None:
    """SIGKILL the process that owns a sandbox mid-job: its workers and jobs all go away."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from sandbox.uids import processes_of_uids

    make_box(backend, workers=1).close()  # skips when the backend is unavailable
    root = str(Path(__file__).resolve().parents[2])
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER.format(root=root, backend=backend)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = owner.stdout.readline()
        assert line, "the owner process did not start its sandbox"
        state = json.loads(line)
    finally:
        owner.kill()
        owner.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        alive = [p for p in state["pids"] if _alive(p)]
        left = processes_of_uids(set(state["uids"])) if state["uids"] else []
        if not alive and not left:
            break
        time.sleep(0.2)
    assert alive == [] and left == [], (alive, left)
    if backend == "docker":
        import docker

        # Sparse: no inspection of each container, which races with containers that other
        # processes remove meanwhile (404 from the daemon).
        listed = docker.from_env().containers.list(
            all=True, sparse=True, filters={"label": "rlvr-envs.owner"}
        )
        mine = [
            c
            for c in listed
            if (c.attrs.get("Labels") or {}).get("rlvr-envs.owner", "").endswith(f":{owner.pid}")
        ]
        assert mine == []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return not any(line.startswith("State:") and "Z" in line for line in f)
    except OSError:
        return False


NET_PROBE = """
import socket
try:
    socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
    print("socket ok")
except OSError as e:
    print("refused", e.errno)
"""


def test_network_per_job_when_the_sandbox_allows_it(backend: str) -> None:
    box = make_box(backend, workers=1, allow_network=True)
    try:
        on = box.run_python(NET_PROBE, limits=Limits(network=True))
        off = box.run_python(NET_PROBE, limits=Limits(network=False))
        assert on.stdout == b"socket ok\n", on
        assert off.stdout.startswith(b"refused"), off
    finally:
        box.close()
