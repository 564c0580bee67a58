"""`rlvr-envs eval` on tool environments: the report's tool-call counts, error rates and accuracy
by number of calls."""

from __future__ import annotations

import json

from rlvr_envs.cli import main
from rlvr_envs.evaluation import read_records
from rlvr_envs.evaluation.tool_stats import summarize_tool_use

AGENT = "python:tests.tools.tool_toy_agents:calculator_user"


def test_eval_reports_tool_use(tmp_path, capsys) -> None:
    suite = tmp_path / "tools.json"
    entry = {"env": "rlvr/Arithmetic-Calculator-v1", "tasks": 12, "samples": 1}
    suite.write_text(json.dumps({"name": "tools", "environments": [entry]}))
    out = tmp_path / "run"
    args = ["eval", "--suite", str(suite), "--agent", AGENT, "-o", str(out)]
    assert main([*args, "--no-progress", "--no-plots"]) == 0
    records = read_records(out / "samples.jsonl")
    calls = [r["tool_use"]["calls"] for r in records]
    assert set(calls) == {0, 1, 2}, calls  # the agent's three behaviours all occur
    use = json.loads((out / "summary.json").read_text())["environments"][
        "rlvr/Arithmetic-Calculator-v1"
    ]["tool_use"]
    assert use == summarize_tool_use(records)
    assert use["calls"] == sum(calls) and use["samples_with_calls"] == sum(c > 0 for c in calls)
    malformed = calls.count(2)
    assert use["errors"] == {"malformed": malformed}
    assert use["error_rate"] == round(malformed / sum(calls), 6)
    by_calls = use["accuracy_by_calls"]
    assert by_calls["0"]["accuracy"] == 0.0 and by_calls["1"]["accuracy"] == 1.0
    assert by_calls["2"] == {"samples": malformed, "accuracy": 1.0}
    assert use["by_tool"] == {"calculator": calls.count(1) + malformed}
    report = (out / "report.md").read_text()
    assert "## Tool use" in report and "Accuracy (%) by the number of tool calls" in report


def test_tools_quick_suite_lists_the_tool_environments() -> None:
    from rlvr_envs.evaluation import get_suite

    envs = [e.env for e in get_suite("tools-quick").entries]
    assert envs == [
        "rlvr/Arithmetic-Calculator-v1",
        "rlvr/Arithmetic-Python-v1",
        "rlvr/GSM8K-Python-v1",
    ]
