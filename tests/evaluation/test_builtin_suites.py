"""The built-in quick suites end to end."""

import pytest

from rlvr_envs.evaluation import evaluate, get_suite, read_records

from .toy_agents import ReferenceAgent

ORACLE = "python:tests.evaluation.toy_agents:code_oracle"


def _sandbox_available() -> bool:
    try:
        import sandbox
    except ImportError:
        return False
    return callable(getattr(sandbox, "get_sandbox", None))


def test_code_quick_end_to_end(tmp_path, shared_data, monkeypatch):
    monkeypatch.setenv("RLVR_ENVS_DATA_DIR", str(shared_data))
    summary = evaluate("code-quick", ORACLE, tmp_path, tasks=3, samples=2, progress=False)
    envs = summary["environments"]
    assert set(envs) == {"rlvr/CodeIO-v0", "rlvr/HumanEval-v0"}
    assert all("maj_at_k" not in env for env in envs.values())  # no vote over programs
    statuses = {s for env in envs.values() for s in env["status_counts"]}
    if _sandbox_available():
        # The oracle writes right programs on even seeds and an empty one on odd seeds.
        records = read_records(tmp_path / "samples.jsonl")
        assert all(r["correct"] == (r["seed"] % 2 == 0) for r in records), [
            (r["task_id"], r["seed"], r["status"], r["verdict"]["reason"]) for r in records
        ]
        assert statuses <= {"correct", "wrong"}
    else:
        # Without a sandbox every sample is an infrastructure error, shown as such, never a
        # wrong answer.
        assert statuses == {"error"}
        report = (tmp_path / "report.md").read_text()
        assert "failed for reasons other than a wrong answer" in report


@pytest.mark.parametrize("suite", ["code-quick", "format-quick", "math-quick"])
def test_reference_solutions_score_one_through_the_pipeline(
    suite, tmp_path, shared_data, monkeypatch
):
    if suite == "code-quick" and not _sandbox_available():
        pytest.skip("the code environments need the sandbox package")
    monkeypatch.setenv("RLVR_ENVS_DATA_DIR", str(shared_data))
    chosen = get_suite(suite).with_overrides(tasks=4, samples=2)
    agent = ReferenceAgent(chosen)
    summary = evaluate(chosen, agent, tmp_path, progress=False)
    for label, env in summary["environments"].items():
        assert env["num_tasks"] == 4 and env["complete"], label
        assert env["mean_reward"] == 1.0 and env["status_counts"] == {"correct": 8}, (label, env)
    assert not summary["skipped"]
