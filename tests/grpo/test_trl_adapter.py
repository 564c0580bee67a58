"""rlvr_envs.integrations.trl: TRL's reward-function signature, called directly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rlvr_envs.integrations.trl import prompt_dataset, reward_function

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rows():
    return prompt_dataset("rlvr/Arithmetic-v1", 4, seed=3, level=1)


def test_dataset_rows_carry_prompt_task_id_and_answer(rows):
    assert len(rows) == 4 and set(rows[0]) == {"prompt", "task_id", "answer"}
    assert rows[0]["prompt"].startswith("What is ") and "\\boxed{}" in rows[0]["prompt"]
    assert rows == prompt_dataset("rlvr/Arithmetic-v1", 4, seed=3, level=1)  # seeded
    chat = prompt_dataset("rlvr/Arithmetic-v1", 2, level=1, chat=True)
    assert chat[0]["prompt"][-1]["role"] == "user"
    with pytest.raises(ValueError, match="give num_tasks"):
        prompt_dataset("rlvr/Arithmetic-v1", level=1)


def test_rewards_by_task_id_with_trl_keywords(rows):
    reward = reward_function("rlvr/Arithmetic-v1", level=1)
    completions = [f"The answer is \\boxed{{{r['answer']}}}." for r in rows]
    completions[1] = "The answer is \\boxed{-1}."
    logged = []
    got = reward(
        prompts=[r["prompt"] for r in rows],
        completions=completions,
        completion_ids=[[1, 2]] * 4,
        task_id=[r["task_id"] for r in rows],
        answer=[r["answer"] for r in rows],
        trainer_state=object(),
        log_extra=lambda *a, **k: None,
        log_metric=lambda name, value: logged.append((name, value)),
    )
    assert got == [1.0, 0.0, 1.0, 1.0]
    assert all(isinstance(x, float) for x in got)
    assert logged == [("rlvr_Arithmetic_v1/faults", 0.0)]
    assert [v["status"] for v in reward.last_verdicts] == ["correct", "wrong", "correct", "correct"]


def test_chat_completions_and_answer_column_without_task_ids():
    reward = reward_function("rlvr/Arithmetic-v1", workers=1)
    got = reward(
        prompts=[[{"role": "user", "content": "What is 2 + 3?"}]] * 2,
        completions=[
            [{"role": "assistant", "content": "\\boxed{5}"}],
            [{"role": "assistant", "content": "\\boxed{6}"}],
        ],
        answer=["5", "5"],
    )
    assert got == [1.0, 0.0]


def test_missing_task_columns_and_mismatched_lengths():
    reward = reward_function("rlvr/Arithmetic-v1")
    with pytest.raises(ValueError, match="needs a 'task_id' or an 'answer' column"):
        reward(prompts=["What is 1 + 1?"], completions=["2"], difficulty=[1])
    with pytest.raises(ValueError, match="has 1 values for 2 completions"):
        reward(completions=["2", "3"], answer=["2"])
    with pytest.raises(TypeError, match="string or a list of chat messages"):
        reward(completions=[42], answer=["2"])


def test_grading_faults(rows):
    from .envs import register_test_envs

    register_test_envs()
    completions = ["12", "3"]  # the flaky test verifier faults on completions starting with 1
    tasks = prompt_dataset("grpotest/Flaky-v0", 2, seed=0)
    ids = [t["task_id"] for t in tasks]
    assert reward_function("grpotest/Flaky-v0")(completions=completions, task_id=ids)[0] is None
    zero = reward_function("grpotest/Flaky-v0", on_fault="zero")
    assert zero(completions=completions, task_id=ids)[0] == 0.0
    with pytest.raises(RuntimeError, match="simulated grading fault"):
        reward_function("grpotest/Flaky-v0", on_fault="raise")(completions=completions, task_id=ids)
    with pytest.raises(ValueError, match="on_fault"):
        reward_function("grpotest/Flaky-v0", on_fault="ignore")


def test_bad_environment_fails_at_construction():
    import gymnasium

    with pytest.raises(gymnasium.error.Error):
        reward_function("rlvr/NoSuchEnv-v0")


def test_the_adapter_imports_neither_torch_nor_trl():
    code = (
        "import sys, rlvr_envs.integrations.trl, rlvr_envs.cli\n"
        "print(sorted(m for m in ('torch', 'transformers', 'trl', 'agents') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_benchmark_runs_ours_and_trl_on_cpu(tmp_path):
    """benchmarks/gpu_grpo.py --tiny --device cpu: both trainers, end to end, with this adapter."""
    pytest.importorskip("trl")
    out = subprocess.run(
        [
            sys.executable,
            "benchmarks/gpu_grpo.py",
            "--tiny",
            "--device",
            "cpu",
            "--json",
            str(tmp_path / "out.json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "2x4: ratio ours (medians): TRL/ours s/step" in out.stdout, out.stdout
    import json

    results = json.loads((tmp_path / "out.json").read_text())["results"]
    assert {r["trainer"] for r in results} == {"ours", "TRL"}
    assert all("error" not in r for r in results), results
