"""Jobs sent to a busy worker behind the one it runs (``ZygoteSandbox.pipeline_depth``).

A worker then starts the next job as soon as one ends; jobs still run one at a time, each is
charged only for its own turn, and what happens to one (its worker lost, a cgroup OOM kill) is
never put on another.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

import pytest

import sandbox
from sandbox import ExecResult, ExecStatus, Limits
from sandbox.session import _session_backend

from .conftest import SPREAD_HOG, assert_no_job_processes, assert_serves, make_box

SPAN = "import time, sys\nt = time.monotonic()\ntime.sleep({s})\nprint(t, time.monotonic())"


def _spy_depths(box: sandbox.Sandbox) -> list[int]:
    """Record how many jobs the slot's worker holds right after each job is sent to it."""
    depths: list[int] = []
    send = box._send  # type: ignore[attr-defined]

    def spy(slot, *args):  # noqa: ANN001, ANN202 - mirrors the private method
        sent = send(slot, *args)
        depths.append(len(slot.queue))
        return sent

    box._send = spy  # type: ignore[attr-defined]
    return depths


def _in_threads(*calls: Callable[[], ExecResult], stagger: float = 0.05) -> list[ExecResult]:
    """Run each call in its own thread, started ``stagger`` s apart; results in call order."""
    results: dict[int, ExecResult] = {}

    def run(i: int) -> None:
        results[i] = calls[i]()

    threads = []
    for i in range(len(calls)):
        threads.append(threading.Thread(target=run, args=(i,)))
        threads[-1].start()
        time.sleep(stagger)
    for t in threads:
        t.join(120)
    assert len(results) == len(calls), "a job never returned"
    return [results[i] for i in range(len(calls))]


def test_jobs_sent_behind_a_busy_worker_run_one_after_another(backend: str) -> None:
    box = make_box(backend, workers=1).start()
    try:
        depths = _spy_depths(box)
        results = _in_threads(*[lambda: box.run_python(SPAN.format(s=0.3)) for _ in range(4)])
        assert all(r.status is ExecStatus.OK for r in results), results
        spans = sorted(tuple(map(float, r.stdout.split())) for r in results)
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert start >= end, spans  # never two jobs at once in one worker
        assert max(depths) == box.pipeline_depth == 2, depths  # and never more than two held
        assert_no_job_processes(box)
    finally:
        box.close()


def test_a_job_waiting_behind_another_is_not_charged_for_the_wait(backend: str) -> None:
    box = make_box(backend, workers=1).start()
    try:
        long = lambda: box.run_python(SPAN.format(s=1.5), limits=Limits(wall_time_s=5))  # noqa: E731
        short = lambda: box.run_python("print('ok')", limits=Limits(wall_time_s=1))  # noqa: E731
        first, second = _in_threads(long, short, stagger=0.3)
        assert first.status is ExecStatus.OK, first
        assert second.status is ExecStatus.OK and second.stdout == b"ok\n", second
        assert second.wall_time_s < 1, second  # its own run, not the wait behind the first
    finally:
        box.close()


def test_a_worker_lost_while_a_job_waits_behind_costs_that_job_nothing(backend: str) -> None:
    """The worker dies under the first job: it runs again (its first attempt), and the job
    queued behind it, which never ran, goes to the fresh worker without losing an attempt."""
    box = make_box(backend, workers=1).start()
    try:
        victim = box.worker_info()[0]["infra_pids"][-1]
        long = lambda: box.run_python(SPAN.format(s=1.0), limits=Limits(wall_time_s=10))  # noqa: E731
        quick = lambda: box.run_python("print('behind')")  # noqa: E731

        def kill() -> ExecResult:
            time.sleep(0.4)
            os.kill(victim, signal.SIGKILL)
            return ExecResult(ExecStatus.OK)

        first, second, _ = _in_threads(long, quick, kill, stagger=0.1)
        assert first.status is ExecStatus.OK, first
        assert second.status is ExecStatus.OK and second.stdout == b"behind\n", second
        assert box.worker_info()[0]["infra_pids"][-1] != victim
        assert_serves(box)
    finally:
        box.close()


def _cgroup_box(backend: str) -> sandbox.Sandbox:
    box = make_box(backend, workers=1).start()
    if not box.cgroup_limits():  # type: ignore[attr-defined]
        reason = box.limits_enforcement()  # type: ignore[attr-defined]
        box.close()
        pytest.skip(f"{backend}: no per-job cgroup here ({reason})")
    return box


def test_jobs_under_other_cgroup_limits_wait_for_an_idle_worker(backend: str) -> None:
    """The slot's cgroup limits are the running job's: a job with others is not sent behind it."""
    box = _cgroup_box(backend)
    try:
        depths = _spy_depths(box)
        small = Limits(wall_time_s=5, memory_mb=96)
        first, second = _in_threads(
            lambda: box.run_python(SPAN.format(s=0.5), limits=Limits(wall_time_s=5)),
            lambda: box.run_python(SPAN.format(s=0.0), limits=small),
            stagger=0.2,
        )
        assert first.status is second.status is ExecStatus.OK, (first, second)
        assert depths == [1, 1], depths
        assert float(second.stdout.split()[0]) >= float(first.stdout.split()[1])
    finally:
        box.close()


@pytest.mark.parametrize("hog_first", [False, True], ids=["hog-behind", "hog-first"])
def test_a_cgroup_oom_kill_is_only_ever_the_killed_job_s(backend: str, hog_first: bool) -> None:
    """A job killed by the cgroup's OOM killer right after (or before) an innocent one in the
    same worker: the kill is its memory_limit, never the other's."""
    box = _cgroup_box(backend)
    limits = Limits(wall_time_s=10, memory_mb=64)
    try:
        for _ in range(3):  # the kill lands at a different moment of the other's turn each time
            hog = lambda: box.run_python(SPREAD_HOG, limits=limits)  # noqa: E731
            fine = lambda: box.run_python(SPAN.format(s=0.2), limits=limits)  # noqa: E731
            calls = (hog, fine) if hog_first else (fine, hog)
            results = _in_threads(*calls, stagger=0.02)
            killed, innocent = results if hog_first else results[::-1]
            assert killed.status is ExecStatus.MEMORY_LIMIT, killed
            assert innocent.status is ExecStatus.OK and innocent.stdout, innocent
        assert_serves(box)
    finally:
        box.close()


def test_an_oom_kill_while_an_answer_is_read_late_is_not_put_on_it(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This process reads the innocent job's answer only once the job behind it has been killed
    by the cgroup: that kill must not make the innocent job's memory_limit."""
    box = _cgroup_box(backend)
    limits = Limits(wall_time_s=10, memory_mb=64)
    receive = sandbox.pool.Worker.receive

    def late(self, timeout, max_blob):  # noqa: ANN001, ANN202 - mirrors Worker.receive
        reply, out = receive(self, timeout, max_blob)
        if out and out[0].startswith(b"innocent"):
            time.sleep(2.0)  # the hog behind runs out of memory meanwhile
        return reply, out

    monkeypatch.setattr(sandbox.pool.Worker, "receive", late)
    try:
        fine = lambda: box.run_python("print('innocent')", limits=limits)  # noqa: E731
        hog = lambda: box.run_python(SPREAD_HOG, limits=limits)  # noqa: E731
        innocent, killed = _in_threads(fine, hog, stagger=0.02)
        assert innocent.status is ExecStatus.OK and innocent.stdout == b"innocent\n", innocent
        assert killed.status is ExecStatus.MEMORY_LIMIT, killed
    finally:
        box.close()


def test_session_workers_take_no_queue() -> None:
    """A session's worker answers its own requests: its backend never sends jobs behind others."""
    for cls in (sandbox.BwrapSandbox, sandbox.LocalSandbox):
        assert cls.pipeline_depth == 2
        assert _session_backend(cls).pipeline_depth == 1
