"""Pure pieces: limits and job validation, status classification, framing, seccomp, registry."""

from __future__ import annotations

import os
import signal
import struct

import pytest

import sandbox
from sandbox import ExecResult, ExecStatus, Job, Limits, LocalSandbox, _zygote
from sandbox.cli import main as cli_main
from sandbox.result import classify


def test_limits_validate() -> None:
    assert Limits().cpu_s == Limits().wall_time_s
    assert Limits(cpu_time_s=1).cpu_s == 1
    for bad in (
        {"wall_time_s": 0},
        {"memory_mb": -1},
        {"output_bytes": float("inf")},
        {"max_processes": 0},
        {"open_files": 3},
    ):
        with pytest.raises(ValueError):
            Limits(**bad)
    for bad in ({"wall_time_s": "1"}, {"network": 1}, {"memory_mb": True}):
        with pytest.raises(TypeError):
            Limits(**bad)
    wire = Limits(memory_mb=2, max_processes=5).wire(extra_processes=1)
    assert wire["memory_bytes"] == 2 << 20 and wire["processes"] == 6


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"code": "x", "command": ["ls"]},
        {"command": "ls -l"},
        {"command": []},
        {"code": b"bytes"},
        {"code": "x", "files": {"../up": "x"}},
        {"code": "x", "files": {"/abs": "x"}},
        {"code": "x", "files": {"": "x"}},
        {"code": "x", "files": {"main.py": "x"}},
        {"code": "x", "env": {"A=B": "x"}},
        {"code": "x", "env": {"A": "nul\0"}},
        {"code": "x", "stdin": 5},
        {"code": "x", "limits": {"wall_time_s": 1}},
    ],
)
def test_bad_jobs_are_rejected(kwargs: dict) -> None:
    with pytest.raises((ValueError, TypeError)):
        Job(**kwargs)


def test_classify_precedence() -> None:
    base = {"exit_code": 0, "signal": None, "cpu_s": 0.1}
    assert classify(base, 1, 1)[0] is ExecStatus.OK
    assert classify({**base, "exit_code": 2}, 1, 1)[0] is ExecStatus.NONZERO_EXIT
    assert classify({**base, "signal": signal.SIGSEGV}, 1, 1)[0] is ExecStatus.SIGNAL
    assert classify({**base, "signal": signal.SIGXCPU}, 1, 1)[0] is ExecStatus.TIMEOUT
    assert classify({**base, "signal": signal.SIGKILL, "cpu_s": 1.0}, 1, 5)[0] is ExecStatus.TIMEOUT
    assert (
        classify({**base, "signal": signal.SIGKILL, "oom_killed": True}, 1, 5)[0]
        is ExecStatus.MEMORY_LIMIT
    )
    assert (
        classify({**base, "memory_error": True, "exit_code": 1}, 1, 1)[0] is ExecStatus.MEMORY_LIMIT
    )
    assert (
        classify({**base, "timed_out": "wall", "memory_error": True}, 1, 1)[0] is ExecStatus.TIMEOUT
    )
    assert (
        classify({**base, "timed_out": "wall", "output_limited": True}, 1, 1)[0]
        is ExecStatus.OUTPUT_LIMIT
    )
    assert (
        classify({**base, "error": "boom", "output_limited": True}, 1, 1)[0]
        is ExecStatus.SANDBOX_ERROR
    )


def test_result_helpers() -> None:
    r = ExecResult(ExecStatus.OK, 0, stdout=b"\xffok")
    assert r.ok and r.stdout_text == "\ufffdok"
    assert r.to_dict()["status"] == "ok"
    e = ExecResult.sandbox_error("gone", "local")
    assert e.status is ExecStatus.SANDBOX_ERROR and not e.ok and str(e.status) == "sandbox_error"


@pytest.mark.parametrize("codec", ["json", "marshal"])
def test_frames_round_trip(codec: str) -> None:
    header = {"op": "run", "x": [1, "é", None, True, 2.5], "q": 'a"b\\c\n'}
    data = _zygote.encode_frame(header, [b"", b"\x00" * 5, b"abc"], codec=codec)
    pos = 0

    def read(n: int) -> bytes:
        nonlocal pos
        chunk = data[pos : pos + n]
        pos += n
        return chunk

    got, blobs = _zygote.decode_frame(read, codec=codec)
    assert got == header
    assert blobs == [b"", b"\x00" * 5, b"abc"]
    huge = struct.pack(">I", _zygote.MAX_HEADER_BYTES + 1)
    with pytest.raises(ValueError):
        _zygote.decode_frame(lambda n: huge[:n], codec=codec)
    data, pos = _zygote.encode_frame({}, [b"x" * 100], codec=codec), 0
    with pytest.raises(ValueError):
        _zygote.decode_frame(read, max_blob=10, codec=codec)


def test_reply_json_writer_matches_json() -> None:
    import json

    for value in [
        None,
        True,
        0,
        -3,
        1e-05,
        0.1,
        "plain",
        'quo"te',
        "tab\t",
        "é😀",
        "\udcff",
        [1, [2, {}]],
        {"a": {"b": [None, False]}},
    ]:
        assert json.loads(_zygote.dump_json(value)) == value
    assert _zygote.dump_json(float("nan")) == "null"
    with pytest.raises(TypeError):
        _zygote.dump_json(b"bytes")


def test_seccomp_programs() -> None:
    for machine in ("x86_64", "aarch64"):
        blocking = _zygote.build_seccomp_filter(True, machine)
        open_ = _zygote.build_seccomp_filter(False, machine)
        assert len(blocking) % 8 == 0 and len(open_) % 8 == 0
        assert len(blocking) > len(open_)
    assert _zygote.build_seccomp_filter(True, "sparc") is None


def test_registry() -> None:
    reasons = sandbox.available_backends()
    assert set(reasons) == {"local", "bwrap", "docker"}
    assert reasons["local"] is None
    with pytest.raises(ValueError, match="unknown sandbox backend"):
        sandbox.get_sandbox("nope")
    with pytest.raises(TypeError, match="backend-specific"):
        sandbox.get_sandbox("auto", image="x")
    a = sandbox.get_sandbox("local", workers=1)
    b = sandbox.get_sandbox("local", workers=1)
    c = sandbox.get_sandbox("local", workers=2)
    assert a is b and a is not c and isinstance(a, LocalSandbox)
    assert sandbox.get_sandbox("local", workers=1, shared=False) is not a
    sandbox.close_shared()
    assert sandbox.get_sandbox("local", workers=1) is not a
    sandbox.close_shared()


def test_auto_never_settles_on_unsafe_local_without_consent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not root, no bwrap, no Docker: auto refuses local unless the caller opts in."""
    from sandbox import registry

    monkeypatch.delenv("RLVR_SANDBOX_BACKEND", raising=False)
    monkeypatch.delenv(registry.UNSAFE_LOCAL_ENV, raising=False)
    monkeypatch.setattr(registry, "is_root", lambda: False)
    monkeypatch.setattr(registry, "_auto_choice", {})
    for name in ("bwrap", "docker"):
        monkeypatch.setattr(
            registry.BACKENDS[name], "unavailable_reason", classmethod(lambda cls, **o: "absent")
        )
    with pytest.raises(sandbox.BackendUnavailable, match="allow_unsafe_local") as info:
        sandbox.resolve_backend("auto")
    assert "bubblewrap" in str(info.value) and "your own user" in str(info.value)
    with pytest.raises(sandbox.BackendUnavailable):
        sandbox.get_sandbox("auto")
    assert sandbox.resolve_backend("auto", allow_unsafe_local=True) == "local"
    monkeypatch.setattr(registry, "_auto_choice", {})
    monkeypatch.setenv(registry.UNSAFE_LOCAL_ENV, "1")
    assert sandbox.resolve_backend("auto") == "local"


def test_auto_respects_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLVR_SANDBOX_BACKEND", "local")
    assert sandbox.resolve_backend("auto") == "local"
    monkeypatch.delenv("RLVR_SANDBOX_BACKEND")
    assert sandbox.resolve_backend("auto") in {"docker", "bwrap", "local"}


def test_shared_sandboxes_are_per_process() -> None:
    parent = sandbox.get_sandbox("local", workers=1)
    pid = os.fork()
    if pid == 0:
        child = sandbox.get_sandbox("local", workers=1)
        ok = child is not parent and child.run_python("print(1)").stdout == b"1\n"
        sandbox.close_shared()
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert sandbox.get_sandbox("local", workers=1) is parent
    sandbox.close_shared()


def test_missing_tools_give_clear_errors() -> None:
    with pytest.raises(sandbox.BackendUnavailable, match="bubblewrap"):
        sandbox.BwrapSandbox(bwrap="/nonexistent/bwrap")
    assert "bubblewrap" in sandbox.BwrapSandbox.unavailable_reason(bwrap="/nonexistent/bwrap")
    with pytest.raises(sandbox.BackendUnavailable, match="Docker daemon"):
        env = os.environ.get("DOCKER_HOST")
        os.environ["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"
        try:
            sandbox.DockerSandbox()
        finally:
            if env is None:
                del os.environ["DOCKER_HOST"]
            else:
                os.environ["DOCKER_HOST"] = env


def test_doctor(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["doctor", "--quick"]) == 0
    out = capsys.readouterr().out
    for name in ("local", "bwrap", "docker"):
        assert f"  {name}" in out
    assert "picks:" in out


def test_cli_rejects_unknown_commands() -> None:
    with pytest.raises(SystemExit):
        cli_main(["frobnicate"])


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_kill_uid_reaches_every_process_of_that_uid_only() -> None:
    import subprocess
    import time

    from sandbox.uids import UidLease, kill_uid, processes_of_uids

    lease = UidLease.acquire()
    other = UidLease.acquire()
    try:
        assert lease.uid != other.uid
        mine = [
            subprocess.Popen(
                ["sleep", "60"],
                user=lease.uid,
                group=lease.uid,
                extra_groups=[],
                start_new_session=True,
            )
            for _ in range(3)
        ]
        bystander = subprocess.Popen(
            ["sleep", "60"], user=other.uid, group=other.uid, extra_groups=[]
        )
        kill_uid(lease.uid)
        for p in mine:
            assert p.wait(5) == -signal.SIGKILL
        time.sleep(0.1)
        assert bystander.poll() is None
        assert processes_of_uids({lease.uid}) == []
        bystander.kill()
        bystander.wait()
    finally:
        lease.release()
        other.release()


def test_python_dash_m_sandbox_doctor() -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-m", "sandbox", "doctor", "--quick"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "local" in out.stdout and "picks:" in out.stdout


def test_build_image_rejects_unknown_methods() -> None:
    from sandbox.image import apt_mirror, build_image

    with pytest.raises(ValueError, match="unknown build method"):
        build_image(method="magic")
    assert apt_mirror().startswith(("http://", "https://"))
    with pytest.raises(SystemExit):
        cli_main(["build-image", "--method", "magic"])


@pytest.mark.docker
def test_build_image_is_idempotent(capsys: pytest.CaptureFixture[str]) -> None:
    if sandbox.available_backends()["docker"]:
        pytest.skip(f"docker unavailable: {sandbox.available_backends()['docker']}")
    assert cli_main(["build-image"]) == 0
    assert "already present" in capsys.readouterr().out


def test_the_leak_check_finds_processes_below_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """``job_process_pids`` measures by process tree, so it works without per-slot uids."""
    import subprocess
    import sys

    box = LocalSandbox(workers=1)
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time; "
            "subprocess.Popen(['sleep', '30']); print('up', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
    )
    left: set[int] = set()
    try:
        assert parent.stdout.readline() == b"up\n"
        monkeypatch.setattr(box, "infrastructure_pids", lambda: {parent.pid})
        monkeypatch.setattr(box, "job_uids", lambda: set())
        left = box.job_process_pids()
        assert len(left) == 1 and parent.pid not in left
    finally:
        for pid in left:  # the sleep started above
            os.kill(pid, signal.SIGKILL)
        parent.kill()
        parent.wait()
        box.close()


@pytest.mark.skipif(os.uname().machine not in ("x86_64", "aarch64"), reason="clone numbers known")
def test_the_sibling_forker_gives_its_child_to_its_parent() -> None:
    from sandbox._confine import SiblingForker

    r, w = os.pipe()
    middle = os.fork()
    if middle == 0:  # the forker: its child must become ours, as a job becomes the supervisor's
        code = 1
        try:
            forker = SiblingForker()
            pid = forker.fork()
            if pid == 0:
                os.write(w, struct.pack("=ii", 0, os.getppid()))
                os._exit(0)
            os.write(w, struct.pack("=ii", pid, len(forker.method)) + forker.method.encode())
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    assert os.waitpid(middle, 0)[1] == 0
    data = b""
    while chunk := os.read(r, 64):
        data += chunk
    os.close(r)
    parts = {}
    while data:
        first, second = struct.unpack_from("=ii", data)
        if first == 0:
            parts["ppid"], data = second, data[8:]
        else:
            parts["pid"], parts["method"] = first, data[8 : 8 + second].decode()
            data = data[8 + second :]
    assert parts["method"] == "clone-parent"
    assert parts["ppid"] == os.getpid()
    assert os.waitpid(parts["pid"], 0) == (parts["pid"], 0)  # ours to reap
