"""cProfile of the code verifier's host side: ``verify`` over HumanEval's canonical solutions on one
thread, the profile quoted for the verifier's hot path (docs/sandboxing.md, issue notes).

    python benchmarks/code_verify_profile.py [--backend bwrap] [--top 18]
    python benchmarks/code_verify_profile.py --by-process [--backend bwrap]

``--by-process`` answers where the machine's CPU goes instead: the same verifications from two
threads on two workers, with the CPU time of every process that takes part per sample (this
process, the judges, each sandbox worker's supervisor and template, and the jobs), and the
machine's busy time per sample, from ``/proc``.

Runs against whatever ``rlvr_envs`` is importable, so ``PYTHONPATH=<other checkout>`` profiles
another tree side by side. Data come from ``$RLVR_ENVS_DATA_DIR`` (default: ../shared/data).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault(
    "RLVR_ENVS_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data")
)

import rlvr_envs.verifiers.code as code_verifier  # noqa: E402
import sandbox  # noqa: E402
from rlvr_envs.envs.code import humaneval  # noqa: E402


def verify_all(tasks: list, box: sandbox.Sandbox) -> None:
    """Verify each task's canonical solution; each must be graded correct."""
    for task in tasks:
        answer = task.answer
        verdict = code_verifier.verify(
            task.solution,
            answer["tests"],
            answer.get("entry_point"),
            setup=answer.get("setup"),
            prefix=answer.get("prefix"),
            sandbox=box,
        )
        assert verdict.correct, (task.id, verdict)


def _cpu_s(pid: int) -> tuple[float, float]:
    """CPU seconds of a process: its own, and its reaped children's."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def _busy_s() -> float:
    """Seconds the machine's CPUs have been busy (all of them together)."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def _judges() -> list[int]:
    """This process's judge processes."""
    found = []
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{name}/cmdline", "rb") as f:
                judge = b"judge process" in f.read(400)
        except (OSError, ValueError):
            continue
        if parent == os.getpid() and judge:
            found.append(int(name))
    return found


def by_process(tasks: list, backend: str) -> None:
    """Verify from two threads on two workers; print the CPU per sample of each process role."""
    box = sandbox.get_sandbox(backend, shared=False, workers=2).start()
    try:
        verify_all(tasks[:8], box)  # warm the workers, the judges and the imports
        getattr(code_verifier, "clear_caches", lambda: None)()
        roles: dict[int, str] = {pid: "judges" for pid in _judges()}
        for info in box.worker_info():
            roles[info["infra_pids"][-1]] = "sandbox supervisors"
            roles[info["template_host_pid"]] = "sandbox templates"
        before = {pid: _cpu_s(pid) for pid in roles}
        own, busy, started = os.times(), _busy_s(), time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda task: verify_all([task], box), tasks))
        elapsed = time.perf_counter() - started
        busy, mine = _busy_s() - busy, os.times()
        after = {pid: _cpu_s(pid) for pid in roles}
    finally:
        box.close()
    n = len(tasks)
    per: dict[str, float] = {
        "verifier (this process)": mine.user + mine.system - own.user - own.system
    }
    for pid, role in roles.items():
        per[role] = per.get(role, 0.0) + after[pid][0] - before[pid][0]
        if role == "sandbox supervisors":  # jobs are the supervisors' reaped children
            per["sandbox jobs"] = per.get("sandbox jobs", 0.0) + after[pid][1] - before[pid][1]
    print(f"{n} samples, 2 threads, 2 {backend} workers: {n / elapsed:.1f} samples/s")
    print("CPU ms per sample")
    for role, seconds in per.items():
        print(f"  {role:26s}{1e3 * seconds / n:8.2f}")
    print(f"  {'sum':26s}{1e3 * sum(per.values()) / n:8.2f}")
    print(f"  {'machine busy':26s}{1e3 * busy / n:8.2f}  (all processes, {os.cpu_count()} CPUs)")


def main() -> None:
    """Profile one thread of verifications and print the top functions."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="bwrap")
    parser.add_argument("--top", type=int, default=18)
    parser.add_argument("--by-process", action="store_true")
    args = parser.parse_args()
    tasks = humaneval().source.tasks
    if args.by_process:
        by_process(tasks, args.backend)
        return
    box = sandbox.get_sandbox(args.backend, shared=False, workers=1).start()
    try:
        verify_all(tasks[:8], box)  # warm the worker and the imports
        getattr(code_verifier, "clear_caches", lambda: None)()
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        verify_all(tasks, box)
        profile.disable()
        elapsed = time.perf_counter() - started
    finally:
        box.close()
    where = Path(code_verifier.__file__).parent
    print(f"code from {where}: {len(tasks)} samples in {elapsed:.2f} s, one thread")
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
