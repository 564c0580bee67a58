"""The code verifier end to end against the plain unisolated harness, side by side in one run.

Per slice of samples, in one process and one run:

* **plain harness**: one ``python file`` per sample holding the solution and its tests
  (HumanEval: ``+ check(entry_point)``), run one after another (``--plain-threads 1,2`` adds the
  same from 2 threads); a sample passes when the file exits 0. No isolation, no limits beyond
  the timeout: what a simple harness does. The interpreter is a fresh virtual environment's,
  made for the run with nothing installed: in a development environment, an editable
  install's import hooks would otherwise double or triple each interpreter's start and flatter
  every ratio. A second plain row runs ``python -S file`` (no ``site`` at all), a stricter
  baseline than any harness would use; ``x -S`` is the ratio to it.
* **verify**: ``rlvr_envs.verifiers.code.verify`` per sample, from as many threads as the sandbox
  has workers;
* **verify_batch**: ``verify_batch`` on chunks of ``--batch-size`` samples (one GRPO step's worth).

Slices: HumanEval's canonical solutions and MBPP's sanitized references, the same with the
off-by-one perturbation of the environments' ``perturb`` (every return value bumped: failing
samples), ``loops``: 32 HumanEval canonical solutions of which 2 loop forever, at the default
timeout (10 s), and ``groups``: GRPO-like groups of 4 answers to each of 41 HumanEval tasks
(canonical, off-by-one, ``return None``, canonical again), one task after another.

Printed per row: samples/s, the ratio to the sequential plain harness (``x plain``) and to its
``python -S`` variant (``x -S``), the pass count, the time per sample (median / p99) and its
split: sandbox rounds (waiting on the sandbox), recording (the host pass that collects the
tests' calls), host replay (the judged passes over the candidate's values, or their direct
decision) and parsing (the tests and the candidate), and the verifier's overhead outside the
sandbox (the sample's time minus its sandbox rounds). Sandbox rounds include the wait for a free
worker. ``cpu ms`` is this process's CPU time per sample (judges and sandbox workers are other
processes). Caches are cleared before every row, so each task is prepared once per row.

    python benchmarks/code_verify_bench.py [--backend bwrap] [--workers 2] [--repeat 1]
        [--slices humaneval,humaneval-wrong,mbpp,mbpp-wrong,loops] [--limit N]
        [--batch-size 64] [--plain-threads 1] [--json out] [--exclude mbpp/123]

Run against another checkout's code (e.g. main, before a change) with
``PYTHONPATH=/path/to/checkout python benchmarks/code_verify_bench.py``: rows that checkout
cannot run (no ``verify_batch``) are skipped, and the time split is then measured by wrapping
its functions.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("RLVR_ENVS_DATA_DIR", str(ROOT.parent / "shared" / "data"))

import numpy as np  # noqa: E402

import rlvr_envs.verifiers.code as code_verifier  # noqa: E402
import sandbox  # noqa: E402
from rlvr_envs.envs.code import humaneval, mbpp, perturb_code  # noqa: E402

SLICES = ("humaneval", "humaneval-wrong", "mbpp", "mbpp-wrong", "loops", "groups")
SPLIT = ("sandbox", "record", "replay", "parse")
PLAIN_TIMEOUT_S = sandbox.Limits().wall_time_s  # the verifier's default timeout


@dataclass
class Sample:
    """One answer to one task, and the file the plain harness runs for it."""

    response: str
    answer: dict[str, Any]
    plain_program: str


@dataclass
class Row:
    """One way of verifying one slice: throughput and per-sample times."""

    name: str
    elapsed_s: float
    passed: int
    per_sample_s: list[float] = field(default_factory=list)
    split: dict[str, list[float]] = field(default_factory=dict)
    outside_s: list[float] = field(default_factory=list)
    host_cpu_s: float = 0.0
    rounds: list[int] = field(default_factory=list)


# --- samples ---------------------------------------------------------------------------------------


def _plain_program(code: str, answer: dict[str, Any]) -> str:
    """The file a plain harness runs: the solution, then its tests (HumanEval: then check())."""
    tests = answer["tests"]
    if "def check(" in tests and answer.get("entry_point"):
        return f"{code}\n\n{tests}\n\ncheck({answer['entry_point']})\n"
    return f"{answer.get('setup') or ''}\n{code}\n\n{tests}\n"


def _sample(response: str, answer: dict[str, Any]) -> Sample:
    code, _ = code_verifier.extract_code(response)
    code = code or ""
    entry, prefix = answer.get("entry_point"), answer.get("prefix")
    if prefix and entry and not code_verifier.defines(code, entry):
        code = f"{prefix.rstrip()}\n{code}"
    return Sample(response, dict(answer), _plain_program(code, answer))


def _off_by_one(task: Any) -> str | None:
    wrong = perturb_code(task, np.random.default_rng(0))
    return wrong[0] if len(wrong) == 2 else None  # [off-by-one, returns None] when it mutated


def _groups(tasks: list[Any]) -> list[Sample]:
    samples = []
    for task in tasks[::4]:
        wrong = perturb_code(task, np.random.default_rng(0))
        for response in (task.solution, wrong[0], wrong[-1], task.solution):
            samples.append(_sample(response, task.answer))
    return samples


def load_slices(
    names: list[str], limit: int | None, exclude: frozenset[str] = frozenset()
) -> dict[str, list[Sample]]:
    """The samples of each slice asked for (tasks whose id is in ``exclude`` left out)."""
    he_slices = ("humaneval", "loops", "groups")
    he = humaneval().source.tasks if any(n.startswith(he_slices) for n in names) else []
    mb = mbpp().source.tasks if any(n.startswith("mbpp") for n in names) else []
    he = [t for t in he if t.id not in exclude]
    mb = [t for t in mb if t.id not in exclude]
    out: dict[str, list[Sample]] = {}
    for name in names:
        if name == "groups":
            out[name] = _groups(he)[:limit] if limit else _groups(he)
            continue
        tasks = he if name.startswith("humaneval") else mb if name.startswith("mbpp") else he[:32]
        samples = []
        for index, task in enumerate(tasks):
            response: str | None = task.solution
            if name.endswith("-wrong"):
                response = _off_by_one(task)
            elif name == "loops" and index % 16 == 5:
                entry = task.answer["entry_point"]
                response = (
                    f"```python\ndef {entry}(*args, **kwargs):\n    while True:\n        pass\n```"
                )
            if response is not None:
                samples.append(_sample(response, task.answer))
        out[name] = samples[:limit] if limit else samples
    return out


# --- the plain harness -----------------------------------------------------------------------------


def clean_python(directory: Path) -> str:
    """The interpreter of a fresh virtual environment in ``directory`` (nothing installed)."""
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(directory)], check=True)
    return str(directory / "bin" / "python")


def run_plain(samples: list[Sample], threads: int, python: list[str], label: str) -> Row:
    """One ``python file`` per sample, ``threads`` at a time; passes are exit status 0."""
    with tempfile.TemporaryDirectory(prefix="rlvr-verify-bench-") as tmp:
        paths = []
        for index, sample in enumerate(samples):
            path = Path(tmp) / f"sample_{index}.py"
            path.write_text(sample.plain_program, encoding="utf-8")
            paths.append(path)

        def one(path: Path) -> tuple[bool, float]:
            start = time.perf_counter()
            try:
                proc = subprocess.run(
                    [*python, str(path)],
                    capture_output=True,
                    timeout=PLAIN_TIMEOUT_S,
                    cwd=tmp,
                )
                ok = proc.returncode == 0
            except subprocess.TimeoutExpired:
                ok = False
            return ok, time.perf_counter() - start

        cpu = time.process_time()
        start = time.perf_counter()
        if threads == 1:
            results = [one(p) for p in paths]
        else:
            with ThreadPoolExecutor(threads) as pool:
                results = list(pool.map(one, paths))
        elapsed = time.perf_counter() - start
    row = Row(
        f"{label} ({threads} thread{'s' if threads > 1 else ''})",
        elapsed,
        sum(ok for ok, _ in results),
        [t for _, t in results],
    )
    row.host_cpu_s = time.process_time() - cpu
    return row


# --- the verifier ----------------------------------------------------------------------------------


class _Probe:
    """The time split of a checkout whose verdicts do not carry one: wraps its functions."""

    def __init__(self) -> None:
        self.local = threading.local()
        from rlvr_envs.verifiers.code import asserts, harness

        self._wrap(code_verifier, "_checked_code", "parse")
        self._wrap(harness.TestProgram, "__init__", "parse")
        self._wrap(harness.TestProgram, "run_pass", "record")
        self._wrap(asserts, "_judged_pass", "replay")

    def _wrap(self, owner: Any, name: str, bucket: str) -> None:
        inner = getattr(owner, name)
        local = self.local

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                spent = getattr(local, "spent", None)
                if spent is not None:
                    spent[bucket] = spent.get(bucket, 0.0) + time.perf_counter() - start

        setattr(owner, name, timed)

    def start(self) -> None:
        self.local.spent = {}

    def take(self) -> dict[str, float]:
        spent, self.local.spent = self.local.spent, None
        return spent


def _timings(verdict: Any, probe: _Probe | None, spent: dict[str, float] | None) -> dict:
    details = verdict.details or {}
    if "timings" in details:
        return {k: float(details["timings"].get(f"{k}_s", 0.0)) for k in SPLIT}
    spent = spent or {}
    out = {k: spent.get(k, 0.0) for k in SPLIT}
    out["sandbox"] = float(details.get("sandbox_s", 0.0))
    return out


def _row(name: str, elapsed: float, verdicts: list, splits: list[dict], cpu: float) -> Row:
    row = Row(name, elapsed, sum(v.correct for v in verdicts))
    row.per_sample_s = [float(v.elapsed_s) for v in verdicts]
    row.split = {k: [s[k] for s in splits] for k in SPLIT}
    row.outside_s = [float(v.elapsed_s) - s["sandbox"] for v, s in zip(verdicts, splits)]
    row.host_cpu_s = cpu
    row.rounds = [int((v.details or {}).get("rounds", 0)) for v in verdicts]
    return row


def run_verify(samples: list[Sample], box: Any, threads: int, probe: _Probe | None) -> Row:
    """``verify`` per sample from ``threads`` threads."""

    def one(sample: Sample) -> tuple[Any, dict]:
        if probe is not None:
            probe.start()
        verdict = code_verifier.verify(sample.response, **_kwargs(sample), sandbox=box)
        return verdict, _timings(verdict, probe, probe.take() if probe else None)

    cpu = time.process_time()
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(one, samples))
    elapsed = time.perf_counter() - start
    verdicts = [v for v, _ in results]
    cpu = time.process_time() - cpu
    return _row(f"verify ({threads} threads)", elapsed, verdicts, [s for _, s in results], cpu)


def run_verify_batch(samples: list[Sample], box: Any, batch_size: int) -> Row:
    """``verify_batch`` over chunks of ``batch_size`` samples."""
    verdicts = []
    cpu = time.process_time()
    start = time.perf_counter()
    for offset in range(0, len(samples), batch_size):
        chunk = samples[offset : offset + batch_size]
        verdicts += code_verifier.verify_batch(
            [s.response for s in chunk], problems=[s.answer for s in chunk], sandbox=box
        )
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    splits = [_timings(v, None, None) for v in verdicts]
    return _row(f"verify_batch ({batch_size})", elapsed, verdicts, splits, cpu)


class _Recorder:
    """Passes jobs to the sandbox and keeps them, to run them again without the verifier."""

    def __init__(self, box: Any) -> None:
        self.box = box
        self.workers = box.workers
        self.jobs: list[Any] = []

    def submit(self, job: Any) -> Any:
        self.jobs.append(job)
        return self.box.submit(job)

    def run_python(self, code: str, **fields: Any) -> Any:
        return self.submit(sandbox.Job(code=code, **fields))


def run_jobs(name: str, jobs: list[Any], box: Any, threads: int) -> Row:
    """The sandbox alone: ``jobs`` from ``threads`` threads, no verifier around them."""
    cpu = time.process_time()
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(box.submit, jobs))
    elapsed = time.perf_counter() - start
    row = Row(name, elapsed, sum(r.ok for r in results), [r.wall_time_s for r in results])
    row.host_cpu_s = time.process_time() - cpu
    return row


def plain_rows(
    samples: list[Sample], threads: str, python: list[str], strict: list[str]
) -> list[Row]:
    """The plain harness from each number of ``threads``, then its ``python -S`` variant."""
    rows = [run_plain(samples, int(t), python, "plain `python file`") for t in threads.split(",")]
    return [*rows, run_plain(samples, 1, strict, "plain `python -S file`")]


def merge(first: Row, second: Row) -> Row:
    """One row from two runs of the same thing: their mean time, both runs' samples."""
    row = Row(first.name, (first.elapsed_s + second.elapsed_s) / 2, first.passed)
    row.per_sample_s = first.per_sample_s + second.per_sample_s
    row.host_cpu_s = (first.host_cpu_s + second.host_cpu_s) / 2
    return row


def _clear_caches() -> None:
    clear = getattr(code_verifier, "clear_caches", None)
    if clear is not None:
        clear()


# --- report ----------------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0


def _ms(values: list[float]) -> str:
    if not values:
        return ""
    return f"{1e3 * statistics.median(values):.2f} / {1e3 * _pct(values, 0.99):.2f}"


def print_slice(name: str, n: int, rows: list[Row], load: tuple[float, float], strict: Row) -> None:
    """One table: a row per way of verifying the slice; ratios to the first row (and to
    ``strict``, the ``python -S`` harness)."""
    base = rows[0]
    print(f"\n{name}: {n} samples; load average {load[0]:.2f} -> {load[1]:.2f}")
    head = (
        f"  {'':26s}{'samples/s':>10s}{'x plain':>8s}{'x -S':>7s}{'passed':>8s}{'cpu ms':>8s}"
        f"  {'per sample ms (median / p99)':>29s}  {'outside sandbox':>16s}"
    )
    print(head)
    for row in rows:
        rate = n / row.elapsed_s
        ratio = base.elapsed_s / row.elapsed_s
        against_s = strict.elapsed_s / row.elapsed_s
        print(
            f"  {row.name:26s}{rate:>10.1f}{ratio:>8.2f}{against_s:>7.2f}{row.passed:>8d}"
            f"{1e3 * row.host_cpu_s / n:>8.2f}  {_ms(row.per_sample_s):>29s}  {_ms(row.outside_s):>16s}"
        )
    print(
        f"  split, median / p99 ms:     {'  '.join(f'{k:>15s}' for k in SPLIT)}   rounds mean/max"
    )
    for row in rows:
        if row.split:
            cells = "  ".join(f"{_ms(row.split[k]):>15s}" for k in SPLIT)
            rounds = f"{statistics.mean(row.rounds):.3f}/{max(row.rounds)}" if row.rounds else ""
            print(f"  {row.name:28s}{cells}   {rounds}")


def print_summary(report: list[dict[str, Any]]) -> None:
    """Across the runs, per slice and row: the median ratio to the plain harness, and its range.

    Each run sets its rows side by side with the plain harness measured around them, so a ratio
    is comparable across runs even when the machine's speed drifts from one run to the next.
    """
    print(
        f"\n=== across {1 + max(entry['run'] for entry in report)} runs: x plain, median (min-max)"
    )
    slices: dict[str, dict[str, list[float]]] = {}
    for entry in report:
        rows = slices.setdefault(entry["slice"], {})
        for row in entry["rows"]:
            rows.setdefault(row["name"], []).append(row["x_plain"])
    for name, rows in slices.items():
        print(f"{name}:")
        for row_name, ratios in rows.items():
            spread = f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
            print(f"  {row_name:34s}{spread:>18s}")


def main(argv: list[str] | None = None) -> int:
    """Run every row of every slice, print a table per slice and repeat, then a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="bwrap")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--slices", default=",".join(SLICES))
    parser.add_argument("--limit", type=int, default=None, help="samples per slice at most")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--plain-threads", default="1")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--exclude", default="", help="task ids to leave out, comma-separated (e.g. mbpp/123)"
    )
    args = parser.parse_args(argv)
    names = [s for s in args.slices.split(",") if s]
    unknown = set(names) - set(SLICES)
    if unknown:
        parser.error(f"unknown slices {sorted(unknown)}; known: {', '.join(SLICES)}")
    reason = sandbox.available_backends().get(args.backend)
    if reason:
        print(f"{args.backend} unavailable: {reason}", file=sys.stderr)
        return 2
    exclude = frozenset(filter(None, args.exclude.split(",")))
    slices = load_slices(names, args.limit, exclude)
    has_batch = hasattr(code_verifier, "verify_batch")
    probe = None
    box = sandbox.get_sandbox(args.backend, shared=False, workers=args.workers).start()
    warm = slices[names[0]][:8]
    run_verify(warm, box, args.workers, None)  # workers, judges and imports warm
    probe_needed = "timings" not in (
        code_verifier.verify(warm[0].response, **_kwargs(warm[0]), sandbox=box).details or {}
    )
    if probe_needed:
        probe = _Probe()
    print(
        f"code verifier: {args.backend} sandbox, {args.workers} workers, {os.cpu_count()} CPUs; "
        f"code from {Path(code_verifier.__file__).parents[3]}"
        + ("" if has_batch else " (no verify_batch there: row skipped)")
    )
    report = []
    venv_dir = tempfile.TemporaryDirectory(prefix="rlvr-verify-bench-venv-")
    plain_python = [clean_python(Path(venv_dir.name) / "venv")]
    strict_python = [sys.executable, "-S"]
    try:
        for repeat in range(args.repeat):
            print(f"\n=== run {repeat + 1}")
            for name in names:
                samples = slices[name]
                load0 = os.getloadavg()[0]
                # The plain harness runs before and after the verifier; its rows are the mean,
                # so that a machine that drifts in between favours neither side.
                before = plain_rows(samples, args.plain_threads, plain_python, strict_python)
                _clear_caches()
                recorder = _Recorder(box)
                verifier_rows = [run_verify(samples, recorder, args.workers, probe)]
                if has_batch:
                    _clear_caches()
                    verifier_rows.append(run_verify_batch(samples, box, args.batch_size))
                verifier_rows.append(
                    run_jobs("sandbox alone: its jobs", recorder.jobs, box, args.workers)
                )
                empty = [sandbox.Job(code="pass")] * len(samples)
                verifier_rows.append(run_jobs("sandbox alone: `pass`", empty, box, args.workers))
                after = plain_rows(samples, args.plain_threads, plain_python, strict_python)
                rows = [merge(a, b) for a, b in zip(before, after)]
                strict = rows[-1]
                rows += verifier_rows
                load = (load0, os.getloadavg()[0])
                print_slice(name, len(samples), rows, load, strict)
                report.append(
                    {
                        "run": repeat,
                        "slice": name,
                        "n": len(samples),
                        "load": load,
                        "rows": [_as_dict(r, len(samples), rows[0], strict) for r in rows],
                    }
                )
    finally:
        box.close()
        venv_dir.cleanup()
    if args.repeat > 1:
        print_summary(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def _kwargs(sample: Sample) -> dict[str, Any]:
    a = sample.answer
    return {
        "tests": a["tests"],
        "entry_point": a.get("entry_point"),
        "setup": a.get("setup"),
        "prefix": a.get("prefix"),
    }


def _as_dict(row: Row, n: int, base: Row, strict: Row) -> dict[str, Any]:
    return {
        "name": row.name,
        "samples_per_s": n / row.elapsed_s,
        "x_plain": base.elapsed_s / row.elapsed_s,
        "x_plain_S": strict.elapsed_s / row.elapsed_s,
        "passed": row.passed,
        "median_ms": 1e3 * statistics.median(row.per_sample_s) if row.per_sample_s else None,
        "outside_sandbox_median_ms": 1e3 * statistics.median(row.outside_s)
        if row.outside_s
        else None,
        "split_median_ms": {k: 1e3 * statistics.median(v) for k, v in row.split.items() if v},
    }


if __name__ == "__main__":
    sys.exit(main())
