import pytest

from rlvr_envs.evaluation import Suite, SuiteEntry, compare_runs, comparison_table, evaluate

from . import toy_agents

TOY = "python:tests.evaluation.toy_agents:arithmetic_solver"


def _run(path, agent=TOY, task_seed=0, name=None, env_kwargs=None):
    entry = SuiteEntry(
        "rlvr/Arithmetic-v1",
        env_kwargs or {"level": 2},
        tasks=6,
        samples=3,
        task_seed=task_seed,
        name=name,
    )
    evaluate(Suite("c", (entry,)), agent, path, progress=False, plots=False)
    return path


def test_paired_comparison_on_the_same_tasks(tmp_path):
    a = _run(tmp_path / "a")
    b = _run(tmp_path / "b", agent=toy_agents.always_right)
    rows = {r["metric"]: r for r in compare_runs(a, b)}
    assert set(rows) == {"mean_reward", "pass@1", "pass@3", "maj@3"}
    row = rows["pass@1"]
    assert row["paired"] and row["tasks"] == 6 and row["b"] == 1.0
    assert row["diff"] == pytest.approx(1.0 - row["a"])
    assert row["ci"][0] <= row["diff"] <= row["ci"][1]
    # A run against itself: no difference, a zero-width interval.
    same = {r["metric"]: r for r in compare_runs(a, a)}
    assert same["pass@1"]["diff"] == 0 and same["pass@1"]["ci"] == [0.0, 0.0]
    table = comparison_table(compare_runs(a, b), "A", "B")
    assert "| `rlvr/Arithmetic-v1` | pass@1 |" in table and "*" in table


def test_unpaired_when_the_tasks_differ(tmp_path):
    a = _run(tmp_path / "a", task_seed=0)
    b = _run(tmp_path / "b", task_seed=1)
    rows = compare_runs(a, b, ci="normal")
    assert rows and all(not r["paired"] and r["tasks"] == "6/6" for r in rows)
    assert "(unpaired)" in comparison_table(rows)


def test_entries_pair_by_environment_when_names_differ(tmp_path):
    a = _run(tmp_path / "a", name="old-name")
    b = _run(tmp_path / "b", name="new-name")
    assert {r["environment"] for r in compare_runs(a, b)} == {"rlvr/Arithmetic-v1"}


def test_nothing_in_common(tmp_path):
    a = _run(tmp_path / "a")
    words = Suite("w", (SuiteEntry("rlvr/Algebra-v1", tasks=2),))
    evaluate(words, TOY, tmp_path / "b", progress=False, plots=False)
    assert compare_runs(a, tmp_path / "b") == []
    assert comparison_table([]) == "No environment appears in both runs."
