import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlvr_envs.evaluation import read_records

REPO = Path(__file__).resolve().parents[2]
AGENT = "python:tests.evaluation.toy_agents:arithmetic_solver"


def _cli(*args, check=True, env=None):
    result = subprocess.run(
        [sys.executable, "-m", "rlvr_envs", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def _eval_args(out, agent=AGENT, *extra):
    return ["eval", "--suite", "math-quick", "--agent", agent, "-o", str(out), *extra]


def _comparable(summary):
    return {k: v for k, v in summary.items() if k not in ("timing", "files")}


def test_eval_math_quick_offline(tmp_path):
    out = tmp_path / "run"
    offline = {k: v for k, v in os.environ.items() if k != "RLVR_ENVS_DATA_DIR"}
    result = _cli(*_eval_args(out, AGENT, "--no-progress"), env=offline)
    assert "| `rlvr/Arithmetic-v1` | 24 | 8 |" in result.stdout
    assert f"report: {out}/report.md" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    arithmetic = summary["environments"]["rlvr/Arithmetic-v1"]
    assert 0 < arithmetic["mean_reward"] < arithmetic["pass_at_k"]["8"] <= 1
    assert list(arithmetic["pass_at_k"]) == [str(k) for k in range(1, 9)]
    assert summary["environments"]["rlvr/Algebra-v1"]["num_samples"] == 16 * 8
    assert "RLVR_ENVS_DATA_DIR" in summary["skipped"]["rlvr/GSM8K-v1"]
    report = (out / "report.md").read_text()
    assert report.startswith("# Evaluation: math-quick")
    assert (out / "plots" / "scaling_samples.png").is_file()


@pytest.mark.slow
def test_eval_killed_midway_resumes_without_duplicates(tmp_path):
    reference = tmp_path / "whole"
    _cli(*_eval_args(reference, AGENT, "--tasks", "6", "--no-progress", "--no-plots"))
    expected = json.loads((reference / "summary.json").read_text())
    planned = sum(e["num_samples"] for e in expected["environments"].values())

    out = tmp_path / "killed"
    slow = "python:tests.evaluation.toy_agents:slow_solver"
    process = subprocess.Popen(
        [sys.executable, "-m", "rlvr_envs", *_eval_args(out, slow, "--tasks", "6", "--no-plots")],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    samples = out / "samples.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if samples.is_file() and samples.read_bytes().count(b"\n") >= 20:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = len(read_records(samples))
    assert 20 <= done < planned, "the run should have been killed midway"
    assert not (out / "summary.json").exists()

    # The slow solver gives the same answers as the fast one: the resumed run must match.
    result = _cli(*_eval_args(out, slow, "--tasks", "6", "--no-plots"))
    assert "already done" in result.stderr
    keys = [r["key"] for r in read_records(samples)]
    assert len(keys) == len(set(keys)) == planned
    raw = samples.read_text(encoding="utf-8").splitlines()
    assert len(raw) == planned  # nothing written twice, no partial line left behind
    resumed = json.loads((out / "summary.json").read_text())
    expected["agent"] = resumed["agent"]
    assert _comparable(resumed) == _comparable(expected)


def test_eval_clear_errors(tmp_path):
    result = _cli(*_eval_args(tmp_path / "x", "python:nope_module:f"), check=False)
    assert result.returncode == 2 and "cannot import module 'nope_module'" in result.stderr
    result = _cli("eval", "--suite", "nope", "--agent", AGENT, "-o", str(tmp_path), check=False)
    assert result.returncode == 2 and "unknown suite 'nope'" in result.stderr
    result = _cli("eval", "--suite", "math-quick", check=False)
    assert result.returncode == 2 and "--agent" in result.stderr and "--output-dir" in result.stderr


def test_eval_suite_with_a_missing_environment_exits_with_a_clear_message(tmp_path):
    suite = tmp_path / "s.json"
    suite.write_text(json.dumps({"environments": [{"env": "rlvr/NoSuch-v0"}]}))
    result = _cli(
        "eval", "--suite", str(suite), "--agent", AGENT, "-o", str(tmp_path / "o"), check=False
    )
    assert result.returncode == 2
    assert (
        "'rlvr/NoSuch-v0' is not registered" in result.stderr and "Traceback" not in result.stderr
    )


def test_list_suites():
    out = _cli("eval", "--list-suites").stdout
    for name in ("math-quick", "code-quick", "format-quick", "core"):
        assert name in out


def test_compare_two_runs(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    common = ("--tasks", "8", "--samples", "4", "--no-progress", "--no-plots")
    _cli(*_eval_args(a, AGENT, *common))
    _cli(*_eval_args(b, "python:tests.evaluation.toy_agents:always_right", *common))
    out = _cli("compare", str(a), str(b)).stdout
    assert "| environment | metric | A: a | B: b | B - A | 95% CI | tasks |" in out
    line = next(x for x in out.splitlines() if "`rlvr/Arithmetic-v1` | pass@1 |" in x)
    cells = [c.strip() for c in line.split("|")]
    assert cells[4] == "100.0" and cells[5].startswith("+") and cells[5].endswith("*")
    assert cells[7] == "8"  # paired over the same 8 tasks
    rows = json.loads(_cli("compare", str(a), str(b), "--json").stdout)
    metrics = {(r["environment"], r["metric"]) for r in rows}
    assert ("rlvr/Arithmetic-v1", "maj@4") in metrics
    assert ("rlvr/Algebra-v1", "pass@4") in metrics


def test_compare_needs_run_directories(tmp_path):
    result = _cli("compare", str(tmp_path), str(tmp_path), check=False)
    assert result.returncode == 2 and "plan.json" in result.stderr


def test_data_dir_flag_brings_in_gsm8k(tmp_path, shared_data):
    out = tmp_path / "run"
    _cli(
        "--data-dir",
        str(shared_data),
        *_eval_args(out, AGENT, "--tasks", "2", "--samples", "2", "--no-progress", "--no-plots"),
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["environments"]["rlvr/GSM8K-v1"]["num_tasks"] == 2
    assert not summary["skipped"]
