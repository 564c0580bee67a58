"""HumanEval's canonical solutions through every sandbox backend, side by side with a baseline.

Each of the 164 problems becomes one program (prompt + canonical solution + test +
``check(entry_point)``). In one run, per repetition:

* baseline: one plain ``subprocess.run([python, file])`` per problem, run sequentially (what a
  simple harness does) and from as many threads as the pools have workers ("parallel");
* each available backend with ``--workers`` workers (2), all problems submitted concurrently.

Printed per row: problems passed, jobs/s, the ratio to both baselines, and the per-job overhead:
the latency the caller sees minus the program's own run time (measured by ``exec`` in a warm
interpreter), as median and p99, both under load (2 jobs at a time) and one job at a time.

    python benchmarks/sandbox_bench.py [--repeat 3] [--backends local,bwrap,docker] [--workers 2]
                                       [--json out]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sandbox  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "HumanEval.jsonl.gz"
LIMITS = sandbox.Limits(wall_time_s=30, memory_mb=1024)
WORKERS = 2

OWN_TIME_HELPER = r"""
import io, json, sys, time, contextlib
programs = json.load(sys.stdin)
best = [float("inf")] * len(programs)
for _ in range(3):
    for i, src in enumerate(programs):
        code = compile(src, "main.py", "exec")
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            exec(code, {"__name__": "__main__"})
        best[i] = min(best[i], time.perf_counter() - t)
print(json.dumps(best))
"""


def load_programs(path: Path) -> list[str]:
    """One self-checking program per HumanEval problem."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [
        f"{r['prompt']}{r['canonical_solution']}\n\n{r['test']}\n\ncheck({r['entry_point']})\n"
        for r in rows
    ]


def own_run_times(programs: list[str]) -> list[float]:
    """Each program's run time in an already-started interpreter (best of 3)."""
    out = subprocess.run(
        [sys.executable, "-c", OWN_TIME_HELPER],
        input=json.dumps(programs),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_baseline(programs: list[str], threads: int) -> dict:
    """One ``subprocess.run([python, file])`` per problem."""
    with tempfile.TemporaryDirectory(prefix="rlvr-bench-") as tmp:
        paths = []
        for i, src in enumerate(programs):
            p = Path(tmp) / f"problem_{i}.py"
            p.write_text(src)
            paths.append(p)

        def one(path: Path) -> tuple[bool, float]:
            t = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, str(path)], capture_output=True, timeout=60, cwd=tmp
            )
            return proc.returncode == 0, time.perf_counter() - t

        t0 = time.perf_counter()
        if threads == 1:
            results = [one(p) for p in paths]
        else:
            with ThreadPoolExecutor(threads) as ex:
                results = list(ex.map(one, paths))
        elapsed = time.perf_counter() - t0
    return {
        "passed": sum(ok for ok, _ in results),
        "elapsed_s": elapsed,
        "latencies": [lat for _, lat in results],
    }


def run_backend(name: str, programs: list[str]) -> dict:
    """All problems through one backend: under load (2 at a time), then one at a time."""
    t0 = time.perf_counter()
    box = sandbox.get_sandbox(name, shared=False, workers=WORKERS, limits=LIMITS)
    box.start()
    startup = time.perf_counter() - t0
    try:
        box.run_python_many(["print('warm')"] * 8)
        latencies = [0.0] * len(programs)
        results: list = [None] * len(programs)

        def timed(i: int) -> None:
            t = time.perf_counter()
            results[i] = box.run_python(programs[i], limits=LIMITS)
            latencies[i] = time.perf_counter() - t

        t1 = time.perf_counter()
        with ThreadPoolExecutor(WORKERS) as ex:
            list(ex.map(timed, range(len(programs))))
        elapsed = time.perf_counter() - t1
        sequential = []
        for src in programs:
            t = time.perf_counter()
            box.run_python(src, limits=LIMITS)
            sequential.append(time.perf_counter() - t)
    finally:
        box.close()
    failures = [
        (i, r.status.value, r.stderr_text[-200:]) for i, r in enumerate(results) if not r.ok
    ]
    return {
        "passed": len(programs) - len(failures),
        "elapsed_s": elapsed,
        "startup_s": startup,
        "latencies": latencies,
        "sequential": sequential,
        "failures": failures[:5],
    }


def overhead_ms(latencies: list[float], own: list[float]) -> tuple[float, float]:
    extra = [(lat - o) * 1000 for lat, o in zip(latencies, own)]
    return statistics.median(extra), pct(extra, 0.99)


def one_repeat(programs: list[str], own: list[float], backends: list[str]) -> dict:
    rep: dict = {"load_before": os.getloadavg()[0]}
    n = len(programs)
    seq = run_baseline(programs, 1)
    par = run_baseline(programs, WORKERS)
    rep["baseline_sequential"] = {"passed": seq["passed"], "jobs_per_s": n / seq["elapsed_s"]}
    rep["baseline_parallel"] = {"passed": par["passed"], "jobs_per_s": n / par["elapsed_s"]}
    for name in backends:
        res = run_backend(name, programs)
        med, p99 = overhead_ms(res["latencies"], own)
        smed, sp99 = overhead_ms(res["sequential"], own)
        jps = n / res["elapsed_s"]
        rep[name] = {
            "passed": res["passed"],
            "jobs_per_s": jps,
            "x_sequential_baseline": jps / rep["baseline_sequential"]["jobs_per_s"],
            "x_parallel_baseline": jps / rep["baseline_parallel"]["jobs_per_s"],
            "overhead_ms_median": med,
            "overhead_ms_p99": p99,
            "overhead_ms_median_one_at_a_time": smed,
            "overhead_ms_p99_one_at_a_time": sp99,
            "startup_s": res["startup_s"],
            "failures": res["failures"],
        }
    rep["load_after"] = os.getloadavg()[0]
    return rep


def print_repeat(i: int, rep: dict, backends: list[str]) -> None:
    print(f"\nrun {i + 1}: load average {rep['load_before']:.2f} -> {rep['load_after']:.2f}")
    print(
        f"  {'':24s}{'passed':>7s}{'jobs/s':>9s}{'x seq':>7s}{'x par':>7s}"
        f"{'ovh med':>9s}{'ovh p99':>9s}{'1-at-a-time med/p99 ms':>25s}"
    )
    for key in ("baseline_sequential", "baseline_parallel"):
        r = rep[key]
        print(f"  {key:24s}{r['passed']:>7d}{r['jobs_per_s']:>9.1f}")
    for name in backends:
        r = rep[name]
        print(
            f"  {name:24s}{r['passed']:>7d}{r['jobs_per_s']:>9.1f}{r['x_sequential_baseline']:>7.2f}"
            f"{r['x_parallel_baseline']:>7.2f}{r['overhead_ms_median']:>9.2f}"
            f"{r['overhead_ms_p99']:>9.2f}{r['overhead_ms_median_one_at_a_time']:>14.2f} / "
            f"{r['overhead_ms_p99_one_at_a_time']:.2f}"
        )
        for failure in r["failures"]:
            print(f"      failed: {failure}")


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print a table per repetition."""
    global WORKERS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--backends", default="local,bwrap,docker")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--workers",
        type=int,
        default=WORKERS,
        help="workers per backend, and threads of the parallel baseline",
    )
    args = parser.parse_args(argv)
    WORKERS = args.workers
    if not args.data.exists():
        print(f"HumanEval data not found at {args.data}", file=sys.stderr)
        return 2
    programs = load_programs(args.data)
    own = own_run_times(programs)
    reasons = sandbox.available_backends()
    backends = []
    for name in args.backends.split(","):
        if reasons.get(name):
            print(f"skipping {name}: {reasons[name]}")
        else:
            backends.append(name)
    print(
        f"{len(programs)} HumanEval problems; own run time: total {sum(own):.3f} s, median "
        f"{statistics.median(own) * 1000:.2f} ms; {os.cpu_count()} CPUs; {WORKERS} workers"
    )
    reps = []
    for i in range(args.repeat):
        rep = one_repeat(programs, own, backends)
        print_repeat(i, rep, backends)
        reps.append(rep)
    if args.json:
        args.json.write_text(json.dumps({"own_total_s": sum(own), "runs": reps}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
