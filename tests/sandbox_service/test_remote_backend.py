"""``get_sandbox("remote", ...)``: results as a local pool's, load balancing, and every fault as
``sandbox_error``, never a wrong answer."""

from __future__ import annotations

import signal
import threading
import time

import gymnasium as gym
import httpx
import pytest

import rlvr_envs  # noqa: F401  (registers the environments)
import sandbox
from rlvr_envs.verifiers.code import verify as verify_code
from sandbox import ExecStatus, Job, Limits
from sandbox.remote import RemoteSandbox

from .conftest import run_code_service

PROGRAMS = [
    Job(code="print(input()[::-1])", stdin="abc\n"),
    Job(code="import sys; sys.stdout.buffer.write(bytes(range(256)))"),
    Job(
        code="import sys; sys.stdin.buffer.read() == b'\\xff\\x00' or sys.exit(9)",
        stdin=b"\xff\x00",
    ),
    Job(code="import sys; sys.exit(5)"),
    Job(
        code="import os; print(os.environ['MODE'], open('d/x').read())",
        env={"MODE": "m"},
        files={"d/x": "file"},
    ),
    Job(code="while True: pass", limits=Limits(wall_time_s=0.5)),
    Job(code="print('y' * 10_000)", limits=Limits(output_bytes=1000)),
    Job(command=["sh", "-c", "echo from a command"]),
]


@pytest.fixture(scope="module")
def remote(service) -> RemoteSandbox:
    url, _ = service
    box = sandbox.get_sandbox("remote", shared=False, url=url).start()
    yield box
    box.close()


def test_results_equal_the_local_pools(remote, local_pool):
    for job, there, here in zip(PROGRAMS, remote.run_many(PROGRAMS), local_pool.run_many(PROGRAMS)):
        assert there.status is here.status, (job, there)
        assert there.stdout == here.stdout and there.stdout_truncated == here.stdout_truncated
        if there.status is not ExecStatus.OUTPUT_LIMIT:  # killed, or done first: a race
            assert (there.exit_code, there.signal) == (here.exit_code, here.signal)
        assert there.backend == "remote:local"


def test_the_code_verifier_works_through_it(remote):
    tests = "def check(f):\n    assert f(2, 3) == 5\n    assert f(-1, 1) == 0\n\ncheck(add)"
    right = verify_code(
        "```python\ndef add(a, b):\n    return a + b\n```", tests, "add", sandbox=remote
    )
    wrong = verify_code(
        "```python\ndef add(a, b):\n    return a - b\n```", tests, "add", sandbox=remote
    )
    assert right.status.value == "correct" and wrong.status.value == "wrong"


def test_a_code_environment_works_through_it(remote):
    env = gym.make("rlvr/CodeIO-v0", sandbox=remote)
    env.reset(seed=3)
    solution = env.unwrapped.task.solution
    assert solution
    _, reward, _, _, info = env.step(solution)
    assert reward == 1.0 and info["verdict"]["status"] == "correct"
    env.reset(seed=3)
    _, reward, _, _, info = env.step("```python\nprint('nonsense')\n```")
    assert reward == 0.0 and info["verdict"]["status"] == "wrong"


def test_jobs_are_spread_over_services(local_pool):
    with run_code_service(local_pool) as (one, a), run_code_service(local_pool) as (two, b):
        box = sandbox.get_sandbox("remote", shared=False, urls=[one, two])
        results = box.run_many(["import time; time.sleep(0.1)"] * 8)
        assert all(r.ok for r in results)
        assert a.jobs > 0 and b.jobs > 0 and a.jobs + b.jobs == 8
        box.close()


def test_a_refused_connection_is_retried_on_another_service(service):
    url, _ = service
    box = sandbox.get_sandbox("remote", shared=False, urls=["http://127.0.0.1:9", url])
    assert all(r.ok for r in box.run_many(["print(1)"] * 4))
    dead = box.services[0]
    assert dead.down_until > time.monotonic() - 5
    box.close()


def test_no_reachable_service_is_a_sandbox_error():
    box = RemoteSandbox(urls=["http://127.0.0.1:9", "http://127.0.0.1:11"], connect_timeout_s=1)
    started = time.monotonic()
    result = box.run_python("print(1)")
    assert (
        result.status is ExecStatus.SANDBOX_ERROR
        and "no sandbox service reachable" in result.detail
    )
    assert time.monotonic() - started < 3
    with pytest.raises(sandbox.SandboxError, match="answered /health"):
        box.start()
    box.close()
    with pytest.raises(sandbox.SandboxError, match="closed"):
        box.run_python("print(1)")


@pytest.mark.slow  # a server in its own process
def test_a_service_killed_mid_job_gives_sandbox_error_and_the_next_job_goes_elsewhere(
    service, service_process
):
    live_url, live = service
    doomed = service_process("--backend", "local", "--workers", "1")
    box = RemoteSandbox(urls=[doomed.url, live_url])
    results = {}

    def run():
        results["slow"] = box.run_python("import time; time.sleep(10)")

    thread = threading.Thread(target=run)
    thread.start()  # the least-loaded first service gets it
    deadline = time.monotonic() + 10
    while httpx.get(doomed.url + "/health").json()["in_flight"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    doomed.proc.kill()
    thread.join(timeout=10)
    lost = results["slow"]
    assert lost.status is ExecStatus.SANDBOX_ERROR and "mid-job" in lost.detail
    before = live.jobs
    after = box.run_python("print('next')")
    assert after.ok and after.stdout == b"next\n" and live.jobs == before + 1
    box.close()


@pytest.mark.slow  # a server in its own process
def test_a_hung_service_times_out(service_process):
    hung = service_process("--backend", "local", "--workers", "1")
    box = RemoteSandbox(url=hung.url, timeout_s=0.5)
    hung.proc.send_signal(signal.SIGSTOP)
    started = time.monotonic()
    result = box.run_python("print(1)", limits=Limits(wall_time_s=0.5))
    assert result.status is ExecStatus.SANDBOX_ERROR and "did not answer in time" in result.detail
    assert time.monotonic() - started < 3
    box.close()


def test_a_service_refusing_the_job_is_a_sandbox_error(service):
    url, _ = service  # this service allows run_timeout up to 30 s
    box = RemoteSandbox(url=url)
    result = box.run_python("print(1)", limits=Limits(wall_time_s=100))
    assert result.status is ExecStatus.SANDBOX_ERROR and "HTTP 422" in result.detail
    box.close()


def test_configuration_from_the_environment(service, monkeypatch):
    url, _ = service
    monkeypatch.delenv("RLVR_SANDBOX_URLS", raising=False)
    assert "needs url=" in RemoteSandbox.unavailable_reason()
    with pytest.raises(sandbox.BackendUnavailable, match="RLVR_SANDBOX_URLS"):
        sandbox.get_sandbox("remote", shared=False)
    monkeypatch.setenv("RLVR_SANDBOX_URLS", url)
    monkeypatch.setenv("RLVR_SANDBOX_BACKEND", "remote")
    box = sandbox.get_sandbox("auto", shared=False)
    assert isinstance(box, RemoteSandbox) and box.run_python("print(2)").stdout == b"2\n"
    box.close()
    with pytest.raises(ValueError, match="not both"):
        RemoteSandbox(url=url, urls=[url])
    with pytest.raises(sandbox.BackendUnavailable, match="http://"):
        RemoteSandbox(url="box:8080")
