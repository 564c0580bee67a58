"""Trivial and degenerate completions earn nothing in any registered environment.

The environment list is read at run time from a fresh interpreter (what ``import rlvr_envs``
registers: the built-ins and any environment added to the package later), so a new environment is
covered without touching this file. Code environments run the completions through the sandbox.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import gymnasium as gym
import pytest

from rlvr_envs import DatasetSource, Task, TextEnv, register
from rlvr_envs.check import check_environment, run_check
from rlvr_envs.envs import BUILTINS
from rlvr_envs.trivial import (
    FAMILY_NAMES,
    ONE_MEGABYTE,
    TrivialCompletion,
    format_payouts,
    instructions_only,
    is_true_answer,
    probe_environment,
    training_kwargs,
    trivial_completions,
)
from tests.helpers import make_offline

TASKS_PER_ENV = 3


def registered_ids() -> list[str]:
    """Environment ids a user gets from ``import rlvr_envs`` in a new process."""
    code = "import json, rlvr_envs; print(json.dumps([i.id for i in rlvr_envs.list_envs()]))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # a few seconds for the 10 built-ins (dataset loading, the sandbox for code)
def test_no_registered_environment_pays_a_trivial_completion():
    ids = registered_ids()
    assert {entry[0] for entry in BUILTINS} <= set(ids)
    start = time.perf_counter()
    # Threads overlap the environments that wait (code in the sandbox); each has its own env.
    with ThreadPoolExecutor(4) as pool:
        probes = list(
            pool.map(lambda i: probe_environment(i, tasks=TASKS_PER_ENV, make=make_offline), ids)
        )
    elapsed = time.perf_counter() - start
    print(f"\n{format_payouts(probes)}\n{len(ids)} environments in {elapsed:.1f} s")
    unavailable = [p.env_id for p in probes if p.unavailable]
    assert len(unavailable) < len(ids), "no environment could be made"
    failures = [f"{p.env_id}: {failure}" for p in probes for failure in p.failures]
    assert not failures, "\n".join(failures)
    for probe in probes:
        if not probe.unavailable:
            assert probe.tried >= TASKS_PER_ENV * (len(FAMILY_NAMES) - 2), probe.env_id


# --- the family and the probe on small environments of known behaviour ---------------------------


def _pays_everything(**kwargs) -> TextEnv:
    tasks = [Task(id=f"t{i}", prompt=f"What is {i} + 0?", answer=str(i)) for i in range(3)]
    return TextEnv(DatasetSource(tasks, name="pays"), lambda completion, task: 1.0, **kwargs)


def _pays_true_answers(**kwargs) -> TextEnv:
    tasks = [Task(id=f"t{i}", prompt=f"What is {i} + 0?", answer=str(i)) for i in range(3)]
    return TextEnv(
        DatasetSource(tasks, name="exact"), "exact", max_turns=2, stop_on_correct=False, **kwargs
    )


TOY_ENVS = {
    "testorg/PaysEverything-v0": (_pays_everything, "test: pays every completion"),
    "testorg/PaysTrueAnswers-v0": (_pays_true_answers, "test: pays exact answers, two turns"),
}


@pytest.fixture(scope="module")
def toy_envs():
    """The toy environments, registered for this module only."""
    for env_id, (factory, description) in TOY_ENVS.items():
        register(env_id, factory, description=description, tasks="3", category="test")
    yield
    for env_id in TOY_ENVS:
        gym.registry.pop(env_id, None)  # list_envs() only reports ids Gymnasium still has


def test_family_covers_the_issue_list():
    task = Task(id="t", prompt="Write about rivers. Do not use any commas.", answer="x")
    other = Task(id="o", prompt="Other?", answer="y", solution="The other answer")
    family = {c.name: c.text for c in trivial_completions(task, other)}
    assert set(family) == set(FAMILY_NAMES)
    assert family["empty"] == "" and not family["whitespace"].strip()
    assert family["echo boxed"] == "\\boxed{" + task.prompt + "}"
    assert family["echo tags"] == f"<answer>{task.prompt}</answer>"
    assert family["instructions"] == "Do not use any commas."
    assert len(family["1MB repeat"]) == ONE_MEGABYTE
    assert family["other task"] == "The other answer"


def test_instructions_only_words_ifeval_instructions():
    task = Task(
        id="t",
        prompt="Write about rivers. In your entire response, refrain from commas.",
        answer={"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]},
    )
    assert "commas" in instructions_only(task) and "rivers" not in instructions_only(task)
    assert instructions_only(Task(id="t", prompt="One sentence only.")) is None


def test_true_answer_exemption():
    zero = Task(id="z", prompt="What is 0 + 0?", answer="0")
    assert is_true_answer(TrivialCompletion("zero", "0"), zero)
    assert is_true_answer(TrivialCompletion("zero", " \\boxed{0} "), zero)
    assert not is_true_answer(TrivialCompletion("one", "1"), zero)
    same = Task(id="s", prompt="What is 1 - 1?", answer="0", solution="\\boxed{0}")
    assert is_true_answer(TrivialCompletion("other task", "\\boxed{0}", source=same), zero)
    dict_task = Task(id="d", prompt="p", answer={"a": 1})
    assert not is_true_answer(TrivialCompletion("{}", "{}"), dict_task)


def test_probe_reports_every_payout(toy_envs):
    probe = probe_environment("testorg/PaysEverything-v0", tasks=2, max_failures=100)
    # Everything is paid but the 1 MB repetition (over the action length: invalid input) and the
    # true answer ("0" to "What is 0 + 0?").
    assert not probe.ok and probe.paid_count == probe.tried - probe.exempt - probe.tasks
    assert "1MB repeat" not in probe.paid and probe.exempt == 1
    assert probe.paid["echo"] == 2.0
    assert any("'echo'" in failure for failure in probe.failures)
    assert "2" in format_payouts([probe]).splitlines()[2]


def test_probe_exempts_true_answers_and_runs_multi_turn_episodes(toy_envs):
    probe = probe_environment("testorg/PaysTrueAnswers-v0", tasks=3)
    assert probe.ok, probe.failures
    assert probe.exempt >= 1  # "0" (and "1") are the answers of two of the tasks


def test_probe_of_an_unmakeable_environment_is_skipped():
    probe = probe_environment("testorg/NoSuchEnv-v0")
    assert probe.unavailable and probe.skipped
    assert "skipped" in format_payouts([probe])


def test_benchmarks_with_training_modes_are_probed_in_them():
    assert training_kwargs("rlvr/IFEval-v0") == {"for_training": True}
    assert training_kwargs("rlvr/Arithmetic-v0") == {}


def test_check_reports_trivial_payouts_as_failures(toy_envs):
    result = check_environment("testorg/PaysEverything-v0")
    assert result.trivial_paid > 0 and result.trivial_tried > result.trivial_paid
    out = __import__("io").StringIO()
    assert run_check(["testorg/PaysEverything-v0"], out=out) == 1
    text = out.getvalue()
    assert "FAIL testorg/PaysEverything-v0" in text
    fail_line = next(line for line in text.splitlines() if line.startswith("FAIL"))
    assert "echo boxed" in fail_line and "trivial completion 'empty'" in text


@pytest.mark.parametrize("env_id", ["rlvr/InstructionFollowing-v1", "rlvr/JSONFormat-v0"])
def test_check_passes_the_trivial_family_on_training_envs(env_id):
    result = check_environment(env_id, limit=20)
    assert result.trivial_tried and result.trivial_paid == 0, result.failures


def test_instruction_following_v0_is_retired():
    with pytest.raises(gym.error.DeprecatedEnv, match="InstructionFollowing-v1"):
        gym.make("rlvr/InstructionFollowing-v0")
