"""``get_sandbox("ray", ...)``: actors holding local pools, backpressure, and dead actors.

One small local Ray cluster serves the module and is shut down after it. It declares 4 logical
CPUs on this 2-core machine so that a second driver's actor fits beside the module's two.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import sandbox
from sandbox import ExecStatus

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_PID = "import os; print(os.getppid())"  # a job's parent is its actor's pool worker


@pytest.fixture(scope="module")
def local_ray():
    ray.init(
        num_cpus=4, include_dashboard=False, log_to_driver=False, object_store_memory=128 << 20
    )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def box(local_ray):
    box = sandbox.get_sandbox("ray", shared=False, num_actors=2, backend="local", workers=1)
    yield box
    box.close()


def test_jobs_run_on_both_actors(box, local_pool):
    jobs = [WORKER_PID] * 8 + ["print(input()[::-1])"]
    results = box.run_many([{"code": c, "stdin": "abc\n"} for c in jobs])
    assert all(r.ok for r in results), results
    assert len({r.stdout for r in results[:8]}) == 2  # two actors, one pool worker each
    assert results[-1].stdout == b"cba\n" and results[-1].backend == "local"
    for job in ("import sys; sys.exit(3)", "while True: pass"):
        limits = sandbox.Limits(wall_time_s=0.5)
        assert (
            box.run_python(job, limits=limits).status
            is local_pool.run_python(job, limits=limits).status
        )


def test_backpressure_keeps_at_most_max_pending_jobs_per_actor(box):
    peak = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            peak.append(max(s.in_flight for s in box._slots))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    results = box.run_many(["import time; time.sleep(0.4)"] * 6, max_concurrency=6)
    elapsed = time.monotonic() - started
    stop.set()
    watcher.join()
    assert all(r.ok for r in results)
    # Six callers, two actors of one worker taking two jobs each: two callers wait on the driver.
    assert box.max_pending == 2 and max(peak) == 2
    assert elapsed >= 1.2  # still three rounds of two on the two pool workers


def test_a_dead_actor_is_replaced_and_its_job_is_a_sandbox_error(box):
    before = {info["pid"] for info in box.actor_info()}
    result = {}
    thread = threading.Thread(
        target=lambda: result.setdefault("r", box.run_python("import time; time.sleep(20)"))
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not any(s.in_flight for s in box._slots):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    busy = next(i for i, s in enumerate(box._slots) if s.in_flight)
    victim = box.actor_info()[busy]["pid"]
    os.kill(victim, signal.SIGKILL)
    thread.join(timeout=30)
    lost = result["r"]
    assert lost.status is ExecStatus.SANDBOX_ERROR and "actor died" in lost.detail
    after = box.run_many(["print('alive')"] * 4)
    assert all(r.ok and r.stdout == b"alive\n" for r in after)
    now = {info["pid"] for info in box.actor_info()}
    assert victim not in now and len(now) == 2 and now & before


def test_it_connects_to_an_existing_cluster_by_address(local_ray):
    address = local_ray.get_runtime_context().gcs_address
    code = (
        "import sandbox\n"
        f"box = sandbox.get_sandbox('ray', num_actors=1, backend='local', address={address!r}, start_timeout_s=60)\n"
        "print(box.run_python('print(6 * 7)').stdout.decode().strip())\n"
        "box.close()\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().endswith("42")


def test_bad_settings_are_refused(local_ray):
    with pytest.raises(ValueError, match="local backend"):
        sandbox.get_sandbox("ray", shared=False, backend="remote")
    with pytest.raises(ValueError, match="num_actors"):
        sandbox.get_sandbox("ray", shared=False, num_actors=0)
    with pytest.raises(sandbox.SandboxError, match="were not ready"):
        sandbox.get_sandbox(
            "ray",
            shared=False,
            num_actors=1,
            backend="local",
            actor_options={"num_cpus": 64},
            start_timeout_s=2,
        )
