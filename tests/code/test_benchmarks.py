"""The code verifier's benchmark and profile scripts run and print every row (a small slice)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import sandbox

ROOT = Path(__file__).resolve().parents[2]


def _backend() -> str:
    for name in ("bwrap", "local"):
        if sandbox.available_backends().get(name) is None:
            return name
    pytest.skip("neither bwrap nor local can run here")


def _run(*argv: str) -> str:
    out = subprocess.run(
        [sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.mark.slow
def test_code_verify_bench_prints_every_row(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    args = ["--backend", _backend(), "--slices", "humaneval,groups", "--limit", "8"]
    stdout = _run("benchmarks/code_verify_bench.py", *args, "--json", str(report))
    rows = [
        "plain `python file` (1 thread)",
        "plain `python -S file` (1 thread)",
        "verify (2 threads)",
        "verify_batch (64)",
        "sandbox alone: its jobs",
        "sandbox alone: `pass`",
    ]
    for row in rows:
        assert row in stdout, stdout
    slices = json.loads(report.read_text())
    assert [s["slice"] for s in slices] == ["humaneval", "groups"]
    for piece in slices:
        by_name = {r["name"]: r for r in piece["rows"]}
        assert list(by_name) == rows
        # Every row verified every sample as the harness did: canonical answers pass.
        assert by_name["verify (2 threads)"]["passed"] == by_name[rows[0]]["passed"]
        assert by_name["verify_batch (64)"]["passed"] == by_name[rows[0]]["passed"]
        assert by_name[rows[1]]["x_plain_S"] == pytest.approx(1.0)


@pytest.mark.slow
def test_code_verify_profile_by_process_splits_the_cpu() -> None:
    stdout = _run("benchmarks/code_verify_profile.py", "--by-process", "--backend", _backend())
    for role in ("verifier (this process)", "judges", "sandbox supervisors", "sandbox jobs"):
        assert role in stdout, stdout
    assert "machine busy" in stdout


def _code_verify_bench():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "code_verify_bench", ROOT / "benchmarks" / "code_verify_bench.py"
    )
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(bench)
    finally:
        del sys.modules[spec.name]
    return bench


def test_code_verify_bench_sums_up_repeated_runs(capsys) -> None:
    bench = _code_verify_bench()
    report = [
        {"run": run, "slice": "humaneval", "rows": [{"name": "verify_batch (64)", "x_plain": x}]}
        for run, x in enumerate([4.3, 3.9, 4.1])
    ]
    bench.print_summary(report)
    out = capsys.readouterr().out
    assert "across 3 runs" in out
    assert "humaneval:" in out and "verify_batch (64)" in out and "4.10 (3.90-4.30)" in out


def test_code_verify_bench_leaves_out_the_tasks_it_is_told_to(shared_data) -> None:
    bench = _code_verify_bench()
    every = bench.load_slices(["humaneval", "mbpp-wrong"], None)
    fewer = bench.load_slices(
        ["humaneval", "mbpp-wrong"], None, frozenset({"HumanEval/0", "mbpp/123"})
    )
    assert len(fewer["humaneval"]) == len(every["humaneval"]) - 1 == 163
    assert len(fewer["mbpp-wrong"]) == len(every["mbpp-wrong"]) - 1
