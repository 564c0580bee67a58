"""Stateful interpreter sessions (sandbox.session) on every backend: state that persists within a
session and nowhere else, per-call limits, and hostile code contained per session."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from sandbox.session import CallStatus, PythonSession, SessionError, SessionPool
from sandbox.uids import processes_of_uids

from .conftest import (
    DISK_MB,
    IS_ROOT,
    SECRET_ENV_VALUE,
    SECRET_FILE_VALUE,
    TEST_LIMITS,
    backend_reason,
)

LIMITS = TEST_LIMITS.replace(cpu_time_s=6.0, output_bytes=16 * 1024)
QUICK_S = 0.6  # wall time for calls that only end when the clock stops them

_pools: dict[str, SessionPool] = {}


@pytest.fixture
def pool(backend: str) -> SessionPool:
    """A 4-session pool per backend, shared by the tests of this module."""
    why = backend_reason(backend)
    if why:
        pytest.skip(f"{backend} backend unavailable: {why}")
    if backend not in _pools:
        _pools[backend] = SessionPool(
            backend, max_sessions=4, limits=LIMITS, warm=1, disk_mb=DISK_MB
        )
    return _pools[backend]


@pytest.fixture(scope="module", autouse=True)
def _close_pools():
    yield
    for pool in _pools.values():
        uids = pool.box.job_uids()
        pool.close()
        assert processes_of_uids(uids) == [], "session processes left behind"
    _pools.clear()


@pytest.fixture
def session(pool: SessionPool):
    with pool.open() as s:
        yield s


def run_ok(session: PythonSession, code: str) -> str:
    result = session.run(code)
    assert result.status is CallStatus.OK, result
    return result.stdout


def test_state_persists_across_calls(session: PythonSession) -> None:
    first = session.run("import fractions\nx = fractions.Fraction(1, 3)")
    assert first.ok and first.fresh and not first.state_lost
    assert (
        run_ok(session, "x * 3") == "Fraction(1, 1)\n"
    )  # a final expression is shown, as in a REPL
    run_ok(session, "with open('notes.txt', 'w') as f:\n    f.write('kept')")
    assert run_ok(session, "print(open('notes.txt').read())") == "kept\n"
    assert run_ok(session, "def f(n):\n    return n + 1\nf(41)") == "42\n"
    assert not session.run("f(1)").fresh


def test_exceptions_are_reported_and_the_session_goes_on(session: PythonSession) -> None:
    run_ok(session, "y = 5")
    result = session.run("y / 0")
    assert result.status is CallStatus.ERROR and result.exception == "ZeroDivisionError"
    assert 'File "<call 2>", line 1' in result.stderr and "y / 0" in result.stderr
    assert "_session" not in result.stderr  # the read-eval loop's own frames are hidden
    syntax = session.run("def (")
    assert syntax.status is CallStatus.ERROR and syntax.exception == "SyntaxError"
    exited = session.run("import sys; sys.exit(3)")
    assert exited.status is CallStatus.ERROR and "SystemExit" in exited.exception
    assert run_ok(session, "y") == "5\n"


def test_stdin_is_closed_and_output_is_capped(session: PythonSession) -> None:
    result = session.run("input()")
    assert result.exception == "EOFError"
    big = session.run("print('x' * 100_000)")
    assert big.ok and big.stdout_truncated and len(big.stdout) == LIMITS.output_bytes
    assert run_ok(session, "print('after')") == "after\n"


def test_infinite_loop_loses_the_state_and_the_next_call_starts_fresh(
    session: PythonSession,
) -> None:
    run_ok(session, "z = 1")
    result = session.run("while True:\n    pass", wall_time_s=QUICK_S)
    assert result.status is CallStatus.TIMEOUT and result.state_lost
    assert result.wall_time_s < QUICK_S + 1.0
    after = session.run("z")
    assert after.fresh and after.exception == "NameError"
    assert session.restarts == 1


def test_memory_bomb_is_a_memory_error_and_the_state_survives(session: PythonSession) -> None:
    run_ok(session, "kept = 7")
    result = session.run("blocks = []\nwhile True:\n    blocks.append(bytearray(16 << 20))")
    assert result.status is CallStatus.MEMORY_LIMIT and not result.state_lost, result
    assert run_ok(session, "del blocks\nkept") == "7\n"


def test_fork_bomb_is_contained_and_its_processes_die(session: PythonSession) -> None:
    result = session.run(
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
        wall_time_s=QUICK_S,
    )
    assert result.status in (CallStatus.TIMEOUT, CallStatus.CRASHED), result
    assert result.state_lost
    assert run_ok(session, "import os\nprint(len(os.listdir('/proc')) > 0)") == "True\n"


def test_processes_started_by_a_call_die_with_it(session: PythonSession) -> None:
    pid = run_ok(
        session,
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(p.pid)",
    ).strip()
    check = f"import os\ntry:\n    os.kill({pid}, 0)\n    print('alive')\nexcept OSError:\n    print('gone')"
    assert run_ok(session, f"p.wait(timeout=5)\n{check}") == "gone\n"


def test_a_crashing_interpreter_is_reported(session: PythonSession) -> None:
    result = session.run("import os; os._exit(4)")
    assert result.status is CallStatus.CRASHED and "status 4" in result.detail
    assert result.state_lost and session.run("1").fresh


def test_sessions_do_not_see_each_other(pool: SessionPool) -> None:
    with pool.open() as a, pool.open() as b:
        where = run_ok(
            a,
            "import os\nsecret = 'a-secret'\nopen('s.txt', 'w').write('a-secret')\n"
            "open('/tmp/a-tmp.txt', 'w').write('a-secret')\n"
            "print(os.getcwd(), os.getpid())",
        ).split()
        cwd, pid = where[0], int(where[1])
        probe = b.run(
            "import os, glob\n"
            f"found = [p for p in glob.glob('/tmp/**', recursive=True) if 'a-' in p or p == {cwd + '/s.txt'!r}]\n"
            "print('files', found)\n"
            f"for path in ({cwd + '/s.txt'!r}, '/proc/{pid}/cwd/s.txt', '/proc/{pid}/environ'):\n"
            "    try:\n"
            "        print('read', open(path).read()[:20])\n"
            "    except OSError as e:\n"
            "        print('denied', type(e).__name__)\n"
            # bwrap and docker give each session its own pid namespace, where a's number names
            # one of b's own processes (its interpreter, template or supervisor), not a's.
            f"if {pool.backend == 'local'} and {pid} != os.getpid():\n"
            "    try:\n"
            f"        os.kill({pid}, 9)\n"
            "        print('killed')\n"
            "    except OSError as e:\n"
            "        print('kill denied', type(e).__name__)\n"
            "print('secret' in globals())",
        )
        assert probe.ok, probe
        assert "a-secret" not in probe.stdout and "killed" not in probe.stdout, probe.stdout
        assert "files []" in probe.stdout and probe.stdout.endswith("False\n"), probe.stdout
        assert run_ok(a, "secret") == "'a-secret'\n"  # a is untouched


def test_nothing_survives_a_closed_session(pool: SessionPool) -> None:
    with pool.open() as first:
        run_ok(first, "open('/tmp/left-behind', 'w').write('x')\nopen('mine', 'w').write('x')")
        left = run_ok(first, "import os; print(os.getcwd())").strip()
    with pool.open() as second:
        out = run_ok(
            second,
            "import os\n"
            f"print(os.path.exists('/tmp/left-behind'), os.path.exists({left + '/mine'!r}))",
        )
    assert out == "False False\n"
    with pytest.raises(SessionError, match="closed"):
        first.run("1")


def test_the_host_is_not_visible(session: PythonSession) -> None:
    out = run_ok(
        session,
        "import os\n"
        f"print({SECRET_ENV_VALUE!r} in str(os.environ))\n"
        "try:\n"
        "    import socket; socket.create_connection(('1.1.1.1', 53), timeout=1)\n"
        "    print('network')\n"
        "except OSError:\n"
        "    print('no network')",
    )
    assert out == "False\nno network\n"
    if IS_ROOT:
        assert run_ok(session, "import os; print(os.getuid() != 0)") == "True\n"
    assert SECRET_FILE_VALUE not in out


def test_many_sessions_wait_for_a_free_slot(pool: SessionPool) -> None:
    sessions = [pool.open() for _ in range(4)]
    opened = threading.Event()

    def open_fifth() -> None:
        with pool.open() as s:
            opened.set()
            assert run_ok(s, "2 + 2") == "4\n"

    thread = threading.Thread(target=open_fifth)
    thread.start()
    time.sleep(0.3)
    assert not opened.is_set()  # all four slots are taken
    sessions[0].close()
    thread.join(timeout=60)
    assert opened.is_set()
    for s in sessions:
        s.close()


def test_bad_arguments_get_clear_errors(pool: SessionPool) -> None:
    with pytest.raises(ValueError, match="max_sessions"):
        SessionPool("local", max_sessions=0)
    with pool.open() as s, pytest.raises(TypeError, match="code must be str"):
        s.run(b"print(1)")  # type: ignore[arg-type]


def test_worker_death_is_a_sandbox_error_then_a_new_worker(pool: SessionPool) -> None:
    with pool.open() as s:
        run_ok(s, "w = 1")
        # The machinery fails, not the code: the worker process dies under the session.
        os.kill(s._worker.channel.infra_pids[-1], signal.SIGKILL)
        result = s.run("w")
        assert result.status is CallStatus.SANDBOX_ERROR and result.state_lost
        assert s.run("1 + 1").stdout == "2\n"


def test_the_session_source_is_the_zygote_plus_the_host() -> None:
    from sandbox import session

    assert session.SESSION_SOURCE.startswith("__name__ = 'rlvr_session_worker'\n")
    assert (
        "class Zygote" in session.SESSION_SOURCE and "class SessionHost" in session.SESSION_SOURCE
    )
    assert Path(session.__file__).with_name("_session_host.py").exists()
    assert os.path.basename(session.__file__) == "session.py"
