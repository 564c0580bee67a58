"""The python tool's cost, and many live sessions at once.

1. Overhead per call, warm session: an episode's ``python`` tool call through
   ``ToolUse.step`` (parse the call, run it in the episode's sandboxed session, format the
   result), minus the code's own run time (timed around the code where it runs).
   Side by side, in the same run: a fresh ``subprocess.run([python, "-c", code])`` per call, what
   a tool without a session does (no sandbox at all, so it is a lower bound for that approach).
   Goal: median overhead <= 10 ms.
2. Concurrency: N episodes (default 64) each with a live session (three stateful calls while all
   are open), on this machine; failures, wall time, and memory per session (proportional set size
   of each session's worker processes, summed, over N).

    python benchmarks/tool_bench.py [--backends local,bwrap,docker] [--calls 30] [--sessions 64]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gymnasium as gym  # noqa: E402

import rlvr_envs  # noqa: E402, F401
import sandbox  # noqa: E402
from sandbox.session import close_shared_pools, get_session_pool  # noqa: E402

SNIPPETS = {
    "assignment": "x = 1",
    "print": "print('hello')",
    "sum 1e5": "print(sum(range(100_000)))",
    "sleep 20 ms": "import time; time.sleep(0.02)",
}


def call(code: str) -> str:
    return f"<tool_call>{json.dumps({'name': 'python', 'arguments': {'code': code}})}</tool_call>"


def timed(code: str) -> str:
    """``code`` that also prints, last, how long it ran (measured where it runs)."""
    return (
        "import time as _t\n_s = _t.perf_counter()\n"
        f"exec(compile({code!r}, '<bench>', 'exec'))\n"
        "print(f'@{_t.perf_counter() - _s:.9f}')"
    )


def inside(output: str) -> float:
    return float(output.rsplit("@", 1)[1].split()[0])


def tool_overheads(backend: str, calls: int) -> dict[str, list[float]]:
    """Per snippet: ToolUse.step wall time minus the code's own time where it ran (warm session)."""
    env = gym.make("rlvr/Arithmetic-Python-v1", sandbox=backend, max_tool_calls=10**6)
    out = {}
    try:
        env.reset(seed=0)
        env.step(call("pass"))  # the session starts here (not counted: a warm session)
        for name, code in SNIPPETS.items():
            samples = []
            for _ in range(calls):
                start = time.perf_counter()
                obs, *_ = env.step(call(timed(code)))
                samples.append(time.perf_counter() - start - inside(obs))
            out[name] = samples
    finally:
        env.close()
    return out


def subprocess_overheads(calls: int) -> dict[str, list[float]]:
    """Per snippet: a fresh ``subprocess.run`` per call, minus the code's own time in it."""
    out = {}
    for name, code in SNIPPETS.items():
        samples = []
        for _ in range(calls):
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", timed(code)], capture_output=True, text=True, check=True
            )
            samples.append(time.perf_counter() - start - inside(done.stdout))
        out[name] = samples
    return out


def pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(pids: set[int]) -> set[int]:
    """``pids`` and all their descendants."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    stat = f.read()
                ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
            except (OSError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(name))
    found, todo = set(pids), list(pids)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def concurrent_sessions(backend: str, count: int) -> dict[str, float]:
    """``count`` episodes with live sessions at once: failures, wall time, memory per session."""
    get_session_pool(backend, max_sessions=count)  # made before the clock starts
    envs = [
        gym.make("rlvr/Arithmetic-Python-v1", sandbox=backend, max_sessions=count)
        for _ in range(count)
    ]
    barrier = threading.Barrier(count + 1, timeout=600)
    release = threading.Event()
    failures: list[str] = []

    def episode(i: int) -> None:
        env = envs[i]
        try:
            env.reset(seed=i)
            first, *_ = env.step(call(f"secret = {i}"))
            obs, *_ = env.step(call("secret * 2"))
            if not obs.endswith(f"<tool_response>\n{2 * i}\n</tool_response>\n"):
                failures.append(f"episode {i}: {obs[-120:]!r}")
        except Exception as exc:  # every failure is reported, none stops the others
            failures.append(f"episode {i}: {type(exc).__name__}: {exc}")
        finally:
            try:
                barrier.wait()
                release.wait(600)
                obs, *_ = env.step(call("secret + 1"))
                if not obs.endswith(f"<tool_response>\n{i + 1}\n</tool_response>\n"):
                    failures.append(f"episode {i} after the barrier: {obs[-120:]!r}")
            except Exception as exc:
                failures.append(f"episode {i} after the barrier: {type(exc).__name__}: {exc}")

    start = time.perf_counter()
    with ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(episode, i) for i in range(count)]
        barrier.wait()  # every session is open now
        live = time.perf_counter() - start
        pool_obj = get_session_pool(backend, max_sessions=count)
        infra = {p for w in pool_obj.box.worker_info() for p in w["infra_pids"]}
        memory_kb = sum(pss_kb(p) for p in tree(infra))
        release.set()
        for future in futures:
            future.result()
    wall = time.perf_counter() - start
    for env in envs:
        env.close()
    close_shared_pools()
    return {
        "sessions": count,
        "failures": len(failures),
        "first_failures": failures[:3],
        "seconds_to_all_live": round(live, 2),
        "wall_s": round(wall, 2),
        "memory_mb_per_session": round(memory_kb / 1024 / count, 1),
        "workers_measured": len(infra),
    }


def ms(values: list[float]) -> str:
    return f"{1000 * statistics.median(values):.2f}"


def p90(values: list[float]) -> str:
    return f"{1000 * sorted(values)[int(0.9 * (len(values) - 1))]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="local,bwrap,docker")
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--sessions", type=int, default=64)
    args = parser.parse_args()
    available = sandbox.available_backends()
    backends = [b for b in args.backends.split(",") if available.get(b) is None]
    skipped = {b: available.get(b) for b in args.backends.split(",") if b not in backends}
    print(f"machine: {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
    for name, why in skipped.items():
        print(f"skipped {name}: {why}")

    baseline = subprocess_overheads(args.calls)
    rows = [("fresh subprocess.run, no sandbox", baseline)]
    for backend in backends:
        rows.append((f"python tool, warm session ({backend})", tool_overheads(backend, args.calls)))
    close_shared_pools()
    print(
        f"\nOverhead per call beyond the code's own run time, ms (median / p90 of {args.calls}):\n"
    )
    print("| path | " + " | ".join(SNIPPETS) + " |")
    print("|:---|" + "---:|" * len(SNIPPETS))
    for label, values in rows:
        cells = [f"{ms(values[s])} / {p90(values[s])}" for s in SNIPPETS]
        print(f"| {label} | " + " | ".join(cells) + " |")
    for label, values in rows[1:]:
        ratio = statistics.median(baseline["print"]) / max(statistics.median(values["print"]), 1e-9)
        print(f"\n{label}: {ratio:.1f}x less overhead than a fresh subprocess per call (print)")

    print(f"\n{args.sessions} concurrent episodes with live python sessions:\n")
    print("| backend | sessions | failures | s until all live | wall s | MB per session |")
    print("|:---|---:|---:|---:|---:|---:|")
    for backend in backends:
        result = concurrent_sessions(backend, args.sessions)
        print(
            f"| {backend} | {result['sessions']} | {result['failures']} | "
            f"{result['seconds_to_all_live']} | {result['wall_s']} | "
            f"{result['memory_mb_per_session']} |"
        )
        if result["first_failures"]:
            print("  failures:", result["first_failures"])


if __name__ == "__main__":
    main()
