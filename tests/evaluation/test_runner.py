import json
import re
import subprocess
import sys
import threading

import gymnasium as gym
import pytest

from rlvr_envs import DatasetSource, Task, TextEnv, register
from rlvr_envs.evaluation import (
    MissingEnvironmentError,
    RunMismatchError,
    Suite,
    SuiteEntry,
    evaluate,
    read_records,
)
from rlvr_envs.evaluation.runner import planned_keys

from . import toy_agents

TOY = "python:tests.evaluation.toy_agents:arithmetic_solver"
SUBJECTS = ["algebra", "geometry", "number theory"]


def word_tasks(n=12):
    return [
        Task(
            id=f"w{i}",
            prompt=f"Repeat exactly: word{i}",
            answer=f"word{i}",
            metadata={
                "subject": SUBJECTS[i % 3],
                "level": 1 + i % 2,
                "unique": f"u{i}",
                "request": f"a long request that is not a category {i % 2}" * 2,
            },
        )
        for i in range(n)
    ]


def words_env(**kwargs):
    return TextEnv(DatasetSource(word_tasks(), name="words"), "exact", **kwargs)


class FlakyEnv(TextEnv):
    """Raises from step() on one task: a broken environment."""

    def step(self, action):
        if self.task.id == "w3":
            raise RuntimeError("the sandbox caught fire")
        return super().step(action)


def flaky_env(**kwargs):
    return FlakyEnv(DatasetSource(word_tasks(), name="words"), "exact", **kwargs)


GATE = {"second_call": threading.Event(), "overlapped": None}


class GatedEnv(TextEnv):
    """Verifying the first task waits until the agent is generating for the second one."""

    def step(self, action):
        if self.task.id == "w0":
            GATE["overlapped"] = GATE["second_call"].wait(timeout=10)
        return super().step(action)


def gated_env(**kwargs):
    return GatedEnv(DatasetSource(word_tasks(), name="words"), "exact", **kwargs)


if "evaltest/Words-v0" not in gym.registry:
    register("evaltest/Words-v0", words_env, description="test words", tasks="12")
    register("evaltest/Flaky-v0", flaky_env, description="test flaky", tasks="12")
    register("evaltest/Gated-v0", gated_env, description="test gated", tasks="12")


def echo_word(observation, seed=None):
    """Right on even-numbered words, wrong on odd ones."""
    word = observation.rsplit(": ", 1)[-1].split()[0]
    return word if int(word[4:]) % 2 == 0 else "nope"


def retry_agent(observation, seed=None):
    """Wrong on the first attempt; right once the environment's feedback is in the transcript."""
    word = re.search(r"Repeat exactly: (word\d+)", observation).group(1)
    return word if "judged" in observation else " first guess"


def _math_suite(tasks=4, samples=4):
    return Suite(
        "mini",
        (
            SuiteEntry("rlvr/Arithmetic-v1", {"level": "mixed"}, tasks=tasks, samples=samples),
            SuiteEntry(
                "rlvr/Arithmetic-v1",
                {"level": 1},
                tasks=2,
                samples=2,
                name="easy",
                sampling={"temperature": 0.0},
            ),
        ),
    )


def _no_timing(summary):
    return {k: v for k, v in summary.items() if k not in ("timing", "files")}


def test_evaluate_writes_samples_summary_report_and_plots(tmp_path):
    summary = evaluate(_math_suite(), TOY, tmp_path, progress=False)
    env = summary["environments"]["rlvr/Arithmetic-v1"]
    assert env["num_tasks"] == 4 and env["num_samples"] == 16 and env["complete"]
    assert set(env["pass_at_k"]) == {"1", "2", "3", "4"}
    assert env["pass_at_k"]["1"] == pytest.approx(env["mean_reward"])
    assert env["maj_at_k"].keys() == {"1", "2", "4"}
    assert env["tokens"]["approximate"] and env["tokens"]["source"] == "approximate"
    assert sum(env["status_counts"].values()) == 16
    assert env["curves"]["k"] == [1, 2, 4]
    assert summary["environments"]["easy"]["samples_per_task"] == 2

    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["environments"]["rlvr/Arithmetic-v1"]["pass_at_k"] == env["pass_at_k"]
    records = read_records(tmp_path / "samples.jsonl")
    assert len(records) == 20
    record = records[0]
    for field in ("prompt", "completion", "verdict", "tokens", "generate_s", "verify_s", "seed"):
        assert field in record
    assert "What is" in record["prompt"]
    report = (tmp_path / "report.md").read_text()
    assert "| `rlvr/Arithmetic-v1` | 4 | 4 |" in report
    assert "![plots/scaling_samples.png](plots/scaling_samples.png)" in report
    for name in ("scaling_samples.png", "scaling_tokens.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:4] == b"\x89PNG"
    curves = json.loads((tmp_path / "curves.json").read_text())
    assert curves["easy"]["k"] == [1, 2]


def test_summary_numbers_match_the_samples(tmp_path):
    from rlvr_envs.evaluation.metrics import maj_at_k, pass_at_k

    summary = evaluate(_math_suite(tasks=5, samples=6), TOY, tmp_path, progress=False)
    records = [r for r in read_records(tmp_path / "samples.jsonl") if r["entry"] != "easy"]
    by_task = {}
    for r in sorted(records, key=lambda r: r["sample_index"]):
        by_task.setdefault(r["task_id"], []).append(r)
    env = summary["environments"]["rlvr/Arithmetic-v1"]
    for k in (1, 3, 6):
        expected = sum(pass_at_k(6, sum(r["correct"] for r in rs), k) for rs in by_task.values())
        assert env["pass_at_k"][str(k)] == pytest.approx(expected / 5, abs=1e-6)
    expected = sum(
        maj_at_k([r["extracted"] for r in rs], [r["correct"] for r in rs], 6)
        for rs in by_task.values()
    )
    assert env["maj_at_k"]["6"] == pytest.approx(expected / 5, abs=1e-6)


def test_rerun_draws_nothing_and_gives_the_same_summary(tmp_path):
    first = evaluate(_math_suite(), TOY, tmp_path, progress=False, plots=False)
    counting = toy_agents.CountingAgent()
    # Same directory, same settings: every sample is done, the agent is not called.
    with pytest.raises(RunMismatchError, match="CountingAgent"):
        evaluate(_math_suite(), counting, tmp_path, progress=False, plots=False)
    again = evaluate(_math_suite(), TOY, tmp_path, progress=False, plots=False)
    assert _no_timing(again) == _no_timing(first)
    assert len(read_records(tmp_path / "samples.jsonl")) == 20


def test_resume_only_draws_missing_samples(tmp_path):
    agent = toy_agents.CountingAgent()
    evaluate(_math_suite(tasks=2), agent, tmp_path, progress=False, plots=False)
    assert agent.completions == 2 * 4 + 2 * 2
    # More tasks: the first two are done already (the held-out list extends the same way).
    summary = evaluate(_math_suite(tasks=5), agent, tmp_path, progress=False, plots=False)
    assert agent.completions == 12 + 3 * 4
    assert summary["environments"]["rlvr/Arithmetic-v1"]["num_tasks"] == 5
    keys = [r["key"] for r in read_records(tmp_path / "samples.jsonl")]
    assert len(keys) == len(set(keys)) == 24


def test_resume_matches_an_uninterrupted_run(tmp_path):
    whole = evaluate(_math_suite(), TOY, tmp_path / "whole", progress=False, plots=False)
    part = tmp_path / "part"
    evaluate(_math_suite(), TOY, part, progress=False, plots=False)
    # Keep 7 samples and half of the 8th, as a kill would.
    path = part / "samples.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:7]) + lines[7][:40], encoding="utf-8")
    resumed = evaluate(_math_suite(), TOY, part, progress=False, plots=False)
    assert _no_timing(resumed) == _no_timing(whole)
    keys = [r["key"] for r in read_records(path)]
    assert len(keys) == len(set(keys)) == 20


def test_changed_sampling_settings_are_new_samples(tmp_path):
    evaluate(_math_suite(), TOY, tmp_path, progress=False, plots=False)
    hotter = evaluate(
        _math_suite(), TOY, tmp_path, sampling={"temperature": 1.3}, progress=False, plots=False
    )
    assert len(read_records(tmp_path / "samples.jsonl")) == 40
    assert hotter["environments"]["rlvr/Arithmetic-v1"]["num_samples"] == 16


def test_overwrite_starts_over(tmp_path):
    evaluate(_math_suite(), TOY, tmp_path, progress=False, plots=False)
    agent = toy_agents.CountingAgent()
    summary = evaluate(_math_suite(), agent, tmp_path, overwrite=True, progress=False, plots=False)
    assert agent.completions == 20
    assert summary["agent"] == "tests.evaluation.toy_agents.CountingAgent"
    assert summary["environments"]["rlvr/Arithmetic-v1"]["mean_reward"] == 1.0


def test_seed_changes_the_samples(tmp_path):
    a = evaluate(_math_suite(), TOY, tmp_path / "a", seed=0, progress=False, plots=False)
    b = evaluate(_math_suite(), TOY, tmp_path / "b", seed=1, progress=False, plots=False)
    ra = {
        r["key"].rsplit("|", 1)[0]: r["completion"]
        for r in read_records(tmp_path / "a/samples.jsonl")
    }
    rb = {
        r["key"].rsplit("|", 1)[0]: r["completion"]
        for r in read_records(tmp_path / "b/samples.jsonl")
    }
    assert ra.keys() == rb.keys() and ra != rb
    assert a["seed"] == 0 and b["seed"] == 1


def test_batch_layout_does_not_change_results(tmp_path):
    one = evaluate(_math_suite(), TOY, tmp_path / "a", batch_size=1, progress=False, plots=False)
    many = evaluate(
        _math_suite(),
        TOY,
        tmp_path / "b",
        batch_size=64,
        verify_workers=1,
        progress=False,
        plots=False,
    )
    assert _no_timing(one) == _no_timing(many)


def test_verification_overlaps_generation(tmp_path):
    calls = []

    def agent(observation):
        calls.append(observation)
        if len(calls) == 2:
            GATE["second_call"].set()
        return observation.rsplit(": ", 1)[-1]

    suite = Suite("gated", (SuiteEntry("evaltest/Gated-v0", tasks=3, samples=1),))
    summary = evaluate(suite, agent, tmp_path, batch_size=1, progress=False, plots=False)
    assert GATE["overlapped"] is True  # task w0 was being verified during the next generation
    assert summary["environments"]["evaltest/Gated-v0"]["mean_reward"] == 1.0


def test_categories_explicit_and_automatic(tmp_path):
    suite = Suite(
        "words",
        (
            SuiteEntry("evaltest/Words-v0", tasks=None, samples=2, categories=["subject"]),
            SuiteEntry("evaltest/Words-v0", tasks=None, samples=2, name="auto"),
        ),
    )
    summary = evaluate(suite, echo_word, tmp_path, progress=False)
    explicit = summary["environments"]["evaltest/Words-v0"]
    assert explicit["mean_reward"] == 0.5 and "maj_at_k" not in explicit  # not a math env
    assert list(explicit["categories"]) == ["subject"]
    assert explicit["categories"]["subject"]["algebra"]["num_tasks"] == 4
    # Words 0, 3, 6, 9 are algebra: 0 and 6 are right.
    assert explicit["categories"]["subject"]["algebra"]["pass@1"] == 0.5
    automatic = summary["environments"]["auto"]["categories"]
    # "unique" has a value per task and "request" long values: neither is a category.
    assert set(automatic) == {"subject", "level"}
    assert automatic["level"]["1"]["mean_reward"] == 1.0  # even words are level 1
    assert automatic["level"]["2"]["mean_reward"] == 0.0
    report = (tmp_path / "report.md").read_text()
    assert "`auto` by `level`" in report


def test_majority_vote_can_be_turned_on(tmp_path):
    suite = Suite("w", (SuiteEntry("evaltest/Words-v0", tasks=4, samples=3, maj=True),))
    summary = evaluate(suite, echo_word, tmp_path, progress=False, plots=False)
    assert summary["environments"]["evaltest/Words-v0"]["maj_at_k"]["3"] == 0.5


def test_multi_turn_episodes_loop_until_done(tmp_path):
    suite = Suite(
        "retry",
        (SuiteEntry("evaltest/Words-v0", {"max_turns": 3}, tasks=5, samples=2),),
    )
    summary = evaluate(suite, retry_agent, tmp_path, progress=False, plots=False)
    env = summary["environments"]["evaltest/Words-v0"]
    assert env["mean_reward"] == 1.0 and env["mean_turns"] == 2.0
    records = read_records(tmp_path / "samples.jsonl")
    record = next(r for r in records if r["task_id"] == "w0")  # samples are stored as they end
    assert record["turns"] == 2 and record["completions"][0] == " first guess"
    assert record["rewards"] == [0.0, 1.0]
    assert record["prompt"] == "Repeat exactly: word0"


def test_multi_turn_truncated_at_the_turn_limit(tmp_path):
    suite = Suite("retry", (SuiteEntry("evaltest/Words-v0", {"max_turns": 3}, tasks=2),))
    summary = evaluate(suite, lambda o: "never", tmp_path, progress=False, plots=False)
    assert summary["environments"]["evaltest/Words-v0"]["mean_turns"] == 3.0


def test_agent_errors_on_one_input_are_recorded(tmp_path):
    def picky(observation):
        if "word3" in observation:
            raise ValueError("prompt too long for the context")
        return observation.rsplit(": ", 1)[-1]

    suite = Suite("w", (SuiteEntry("evaltest/Words-v0", tasks=6, samples=2),))
    summary = evaluate(suite, picky, tmp_path, progress=False, plots=False)
    env = summary["environments"]["evaltest/Words-v0"]
    assert env["status_counts"] == {"correct": 10, "agent_error": 2}
    bad = [r for r in read_records(tmp_path / "samples.jsonl") if r["status"] == "agent_error"]
    assert {r["task_id"] for r in bad} == {"w3"}
    assert "prompt too long" in bad[0]["verdict"]["reason"]
    assert "2 agent_error" in (tmp_path / "report.md").read_text()


def test_an_agent_returning_something_else_than_text(tmp_path):
    class Confused:
        def act(self, observations, n=1, **sampling):
            return [None] * (len(observations) * n)

    suite = Suite("w", (SuiteEntry("evaltest/Words-v0", tasks=2, samples=1),))
    summary = evaluate(suite, Confused(), tmp_path, progress=False, plots=False)
    assert summary["environments"]["evaltest/Words-v0"]["status_counts"] == {"agent_error": 2}
    record = read_records(tmp_path / "samples.jsonl")[0]
    assert "returned a NoneType, not a str" in record["verdict"]["reason"]


def test_other_agent_failures_stop_the_run_and_keep_finished_samples(tmp_path):
    calls = {"n": 0}

    def dies(observation):
        calls["n"] += 1
        if calls["n"] > 5:
            raise ConnectionError("server went away")
        return observation.rsplit(": ", 1)[-1]

    suite = Suite("w", (SuiteEntry("evaltest/Words-v0", tasks=12, samples=1),))
    with pytest.raises(ConnectionError):
        evaluate(suite, dies, tmp_path, progress=False, plots=False, batch_size=1)
    kept = read_records(tmp_path / "samples.jsonl")
    assert 1 <= len(kept) <= 5
    calls["n"] = -100
    summary = evaluate(suite, dies, tmp_path, progress=False, plots=False)
    assert summary["environments"]["evaltest/Words-v0"]["num_samples"] == 12


def test_a_broken_environment_shows_as_an_error_status(tmp_path):
    suite = Suite("w", (SuiteEntry("evaltest/Flaky-v0", tasks=6, samples=2),))
    summary = evaluate(suite, lambda o: o.rsplit(": ", 1)[-1], tmp_path, progress=False)
    env = summary["environments"]["evaltest/Flaky-v0"]
    assert env["status_counts"] == {"correct": 10, "error": 2}
    assert "sandbox caught fire" in (tmp_path / "samples.jsonl").read_text()


def test_token_counts_from_the_agent_or_its_tokenizer(tmp_path):
    suite = Suite("m", (SuiteEntry("rlvr/Arithmetic-v1", tasks=2, samples=2),))
    summary = evaluate(
        suite,
        "python:tests.evaluation.toy_agents:arithmetic_solver_with_tokens",
        tmp_path / "a",
        progress=False,
        plots=False,
    )
    tokens = summary["environments"]["rlvr/Arithmetic-v1"]["tokens"]
    assert tokens["source"] == "agent" and not tokens["approximate"]
    records = read_records(tmp_path / "a/samples.jsonl")
    assert all(r["tokens"] == len(r["completion"].split()) for r in records)

    class Tokenizer:
        def encode(self, text, add_special_tokens=True):
            return list(text)

    class WithTokenizer(toy_agents.CountingAgent):
        tokenizer = Tokenizer()

    summary = evaluate(suite, WithTokenizer(), tmp_path / "b", progress=False, plots=False)
    tokens = summary["environments"]["rlvr/Arithmetic-v1"]["tokens"]
    assert tokens["source"] == "tokenizer" and not tokens["approximate"]
    records = read_records(tmp_path / "b/samples.jsonl")
    assert all(r["tokens"] == len(r["completion"]) for r in records)


def test_token_agents_are_asked_for_generations(tmp_path):
    class Generation:
        def __init__(self, text):
            self.text, self.token_ids = text, [1] * 7

        @property
        def num_tokens(self):
            return len(self.token_ids)

    class TokenAgent:
        tokenizer = object()

        def act(self, observations, **sampling):
            raise AssertionError("act should not be used when generate is there")

        def generate(self, observations, n=1, **sampling):
            return [Generation(toy_agents.always_right(o)) for o in observations for _ in range(n)]

        def generate_tokens(self, prompts, **sampling):
            raise NotImplementedError

    suite = Suite("m", (SuiteEntry("rlvr/Arithmetic-v1", tasks=2, samples=3),))
    summary = evaluate(suite, TokenAgent(), tmp_path, progress=False, plots=False)
    env = summary["environments"]["rlvr/Arithmetic-v1"]
    assert env["mean_reward"] == 1.0 and env["tokens"]["total"] == 6 * 7
    assert env["tokens"]["source"] == "agent"


def test_missing_environment_fails_before_the_agent_runs(tmp_path):
    agent = toy_agents.CountingAgent()
    suite = Suite("x", (SuiteEntry("rlvr/Arithmetic-v1", tasks=1), SuiteEntry("rlvr/Nope-v0")))
    with pytest.raises(MissingEnvironmentError, match="rlvr/Nope-v0"):
        evaluate(suite, agent, tmp_path, progress=False)
    assert agent.completions == 0


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="ci"):
        evaluate(_math_suite(), TOY, tmp_path, ci="jackknife")
    with pytest.raises(ValueError, match="executor"):
        evaluate(_math_suite(), TOY, tmp_path, executor="dask")


def test_normal_intervals(tmp_path):
    summary = evaluate(_math_suite(), TOY, tmp_path, ci="normal", progress=False, plots=False)
    env = summary["environments"]["rlvr/Arithmetic-v1"]
    low, high = env["ci"]["mean_reward"]
    assert env["ci_method"] == "normal" and low <= env["mean_reward"] <= high


def test_planned_keys_are_unique(tmp_path):
    from rlvr_envs.evaluation import plan_suite

    plan = plan_suite(_math_suite(), seed=0, agent="x")
    assert len(planned_keys(plan)) == 4 * 4 + 2 * 2


def test_local_evaluation_imports_no_heavy_module(tmp_path):
    code = (
        "import sys\n"
        "import rlvr_envs.evaluation as ev\n"
        "heavy = [m for m in ('ray', 'matplotlib', 'tqdm', 'torch', 'transformers') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from rlvr_envs.evaluation import Suite, SuiteEntry\n"
        "s = Suite('m', (SuiteEntry('rlvr/Arithmetic-v1', tasks=2, samples=2),))\n"
        f"ev.evaluate(s, {TOY!r}, {str(tmp_path)!r}, progress=False, plots=False)\n"
        "assert 'ray' not in sys.modules and 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_progress_line_without_tqdm(monkeypatch, capsys):
    from rlvr_envs.evaluation.runner import Progress

    monkeypatch.setitem(sys.modules, "tqdm", None)
    bar = Progress(total=4, initial=1, correct=1)
    for ok in (True, False, False):
        bar.update(ok)
    bar.close()
    err = capsys.readouterr().err
    assert "eval 4/4 acc=0.500" in err


def test_progress_bar_with_tqdm(capsys):
    pytest.importorskip("tqdm")
    from rlvr_envs.evaluation.runner import Progress

    bar = Progress(total=2, initial=0, correct=0)
    bar.update(True)
    bar.update(True)
    bar.close()
    assert "acc=1.000" in capsys.readouterr().err


def test_ray_runtime_env_names_this_checkout(monkeypatch, tmp_path):
    from pathlib import Path

    from rlvr_envs.evaluation import RayExecutor

    monkeypatch.setenv("RLVR_ENVS_DATA_DIR", str(tmp_path))
    env = RayExecutor()._runtime_env()["env_vars"]
    root = str(Path(__file__).resolve().parents[2])
    assert env["PYTHONPATH"].split(":")[0] == root
    assert env["RLVR_ENVS_DATA_DIR"] == str(tmp_path)
    assert RayExecutor(runtime_env={"working_dir": "."})._runtime_env() == {"working_dir": "."}


def test_chat_observations(tmp_path):
    suite = Suite(
        "chat",
        (SuiteEntry("rlvr/Arithmetic-v1", {"chat": True, "system_prompt": "Be exact."}, tasks=2),),
    )
    summary = evaluate(suite, toy_agents.always_right, tmp_path, progress=False, plots=False)
    assert summary["environments"]["rlvr/Arithmetic-v1"]["mean_reward"] == 1.0
    prompt = read_records(tmp_path / "samples.jsonl")[0]["prompt"]
    assert [m["role"] for m in prompt] == ["system", "user"]
