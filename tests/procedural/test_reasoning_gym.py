"""reasoning-gym generators as environments, against the real ``reasoning_gym`` package."""

from __future__ import annotations

import importlib.metadata
import io
import time

import gymnasium as gym
import pytest

pytest.importorskip("reasoning_gym")

from reasoning_gym.factory import DATASETS, create_dataset  # noqa: E402

import rlvr_envs  # noqa: E402, F401 - registers the environments
from rlvr_envs.check import check_environment, run_check  # noqa: E402
from rlvr_envs.integrations import rg_scoring  # noqa: E402
from rlvr_envs.integrations.reasoning_gym import (  # noqa: E402
    GENERATORS,
    GUARDED,
    ISOLATED,
    NO_REFERENCE,
    REGISTERED,
    RG_VERSION,
    UNAVAILABLE,
    ReasoningGymUnavailable,
    env_id,
    reasoning_gym_env,
)

RG_IDS = [env_id(n) for n in REGISTERED]
FAST = ["chain_sum", "spell_backward", "number_sorting", "family_relationships", "maze"]


def _env(name: str, **kwargs):
    env = gym.make(env_id(name), **kwargs)
    env.reset(seed=0)
    return env, env.unwrapped.task


def test_the_catalogue_is_the_installed_package():
    assert importlib.metadata.version("reasoning_gym") == RG_VERSION
    assert sorted(GENERATORS) == sorted(DATASETS)
    assert len(REGISTERED) == len(GENERATORS) - len(UNAVAILABLE) >= 90
    for name, reason in UNAVAILABLE.items():
        assert env_id(name) not in gym.registry and len(reason) > 30
        with pytest.raises(ReasoningGymUnavailable, match="not available"):
            reasoning_gym_env(name)
    assert all(env_id(n) in gym.registry for n in REGISTERED)


def test_config_fields_pass_through_and_name_the_task_ids():
    env = gym.make("rlvr/rg-chain_sum-v0", min_terms=5, max_terms=5, min_digits=1, max_digits=1)
    prompt, info = env.reset(seed=3)
    assert prompt.count("+") + prompt.count("-") >= 4
    assert "/default:" not in info["task_id"] and info["task_id"].startswith("rg-chain_sum/")
    plain = gym.make("rlvr/rg-chain_sum-v0")
    assert plain.reset(seed=3)[1]["task_id"].startswith("rg-chain_sum/default:")
    with pytest.raises(TypeError, match="no_such_field"):
        gym.make("rlvr/rg-chain_sum-v0", no_such_field=1)


@pytest.mark.parametrize("name", FAST)
def test_the_same_seed_gives_the_same_task_as_the_generator_itself(name):
    a, b = gym.make(env_id(name)), gym.make(env_id(name), chat=True)
    prompt, info = a.reset(seed=11)
    messages, info_b = b.reset(seed=11)
    assert info["task_id"] == info_b["task_id"] and messages[-1]["content"] == prompt
    index = info["metadata"]["source_index"]
    direct = create_dataset(name, seed=0, size=100_000)[index]
    assert prompt.startswith(direct["question"])
    rebuilt = a.unwrapped.source.get(info["task_id"]).answer
    assert rebuilt.entry == direct and rebuilt == direct["answer"]
    with pytest.raises(KeyError):
        a.unwrapped.source.get(f"rg-{name}/default:100000")
    with pytest.raises(KeyError):
        a.unwrapped.source.get("arithmetic/L1:3")


def test_verdicts_statuses_and_details():
    env, task = _env("spell_backward")
    word = task.answer.entry["answer"]
    v = env.unwrapped.verify(f"thinking...\n<answer>{word}</answer>", task)
    assert v.correct and v.details["rg_score"] == 1.0 and v.expected == word
    v = env.unwrapped.verify(f"<answer>{word[:-1]}</answer>", task)
    assert v.status.value == "wrong" and v.reward == 0.0 and 0 < v.details["rg_score"] < 1
    assert env.unwrapped.verify(word, task).status.value == "no_answer"  # no tags
    partial, _ = _env("spell_backward", partial_credit=True)
    v = partial.unwrapped.verify(f"<answer>{word[:-1]}</answer>", task)
    assert v.status.value == "wrong" and 0 < v.reward == v.details["rg_score"] < 1
    boxed, _ = _env("spell_backward", answer_format="boxed")
    assert "\\boxed{}" in boxed.unwrapped.renderer.render(task)
    assert boxed.unwrapped.verify(f"so \\boxed{{{word}}}", task).correct
    assert boxed.unwrapped.verify(f"<answer>{word}</answer>", task).status.value == "no_answer"


def test_step_returns_the_verdict():
    env = gym.make("rlvr/rg-chain_sum-v0")
    env.reset(seed=1)
    answer = str(env.unwrapped.task.answer)
    _, reward, terminated, truncated, info = env.step(f"<answer>{answer}</answer>")
    assert reward == 1.0 and terminated and not truncated
    assert info["reward_components"] == {"reasoning_gym": 1.0}


@pytest.mark.parametrize("name", sorted(n for n, g in GUARDED.items() if g == "literal"))
@pytest.mark.parametrize(
    "attack",
    [
        "__import__('os').system('touch /tmp/rlvr_rg_pwned')",
        "open('/etc/passwd').read()",
        "[x for x in ().__class__.__base__.__subclasses__()]",
        "9**9**9**9",
        "'a'*10**10",
        "(lambda: 1)()",
    ],
)
def test_answers_that_eval_would_run_never_reach_eval(name, attack, tmp_path):
    env, task = _env(name)
    v = env.unwrapped.verify(f"<answer>{attack}</answer>", task)
    assert v.status.value == "wrong" and "never contain" in v.reason
    assert env.unwrapped.verify(task.solution, task).correct  # real answers still pass


@pytest.mark.parametrize(
    "attack",
    [
        "__import__('os').system('id')",
        "x.__class__",
        "exec",
        "Symbol('x')",
        "x[0]",
        "1 if 1 else 0",
    ],
)
def test_sympy_scored_answers_are_limited_to_math(attack):
    env, task = _env("simple_integration")
    v = env.unwrapped.verify(f"<answer>{attack}</answer>", task)
    assert v.status.value == "wrong", v.reason


def test_lenient_scorers_are_made_strict():
    env, task = _env("puzzle24")  # its scorer accepted any expression worth 24
    assert env.unwrapped.verify("<answer>6*4*1*1</answer>", task).reward == 0.0 or sorted(
        task.answer.entry["metadata"]["numbers"]
    ) == [1, 1, 4, 6]
    env, task = _env("coin_flip")  # its prefix credit gave 1.0 to "0" for 0.3125
    if not task.answer.startswith("0."):
        pytest.skip("needs a probability below 1")
    v = env.unwrapped.verify("<answer>0</answer>", task)
    assert v.reward == 0.0 and "not the probability" in v.reason


def test_an_empty_answer_is_scored_when_the_empty_answer_is_right():
    env = gym.make("rlvr/rg-rubiks_cube-v0").unwrapped
    task = env.source.get("rg-rubiks_cube/default:93507")  # scrambled by L R L' R': solved
    assert task.answer.entry["metadata"]["example_correct_answer"] == "" == task.answer
    assert env.verify("<answer></answer>", task).correct
    assert env.verify("<answer>  </answer>", task).correct
    other = env.source.get("rg-rubiks_cube/default:1")
    assert env.verify("<answer></answer>", other).reward == 0.0


@pytest.mark.parametrize("name", sorted(set(REGISTERED) - ISOLATED))
def test_a_megabyte_answer_never_reaches_the_scorer(name):
    env, task = _env(name)
    start = time.perf_counter()
    v = env.unwrapped.verify("<answer>" + "1" * (1 << 20) + "</answer>", task)
    assert time.perf_counter() - start < 1.0
    assert v.status.value == "invalid_input"


def test_check_passes_on_some_generators_and_skips_those_without_references():
    out = io.StringIO()
    assert run_check([env_id(n) for n in FAST], limit=10, out=out) == 0
    assert "rlvr/rg-maze-v0" in out.getvalue()
    for name in NO_REFERENCE:
        assert check_environment(env_id(name), limit=3).skipped == "no reference solutions"


@pytest.mark.slow
def test_a_scorer_that_runs_away_is_a_timeout_and_the_worker_comes_back():
    env, task = _env("simple_integration", timeout_s=2.0)
    assert env.unwrapped.verify(task.solution, task).correct  # starts the worker
    start = time.perf_counter()
    v = env.unwrapped.verify("<answer>(9**9)**(9**9)**9</answer>", task)
    assert v.status.value == "timeout" and time.perf_counter() - start < 10
    assert env.unwrapped.verify(task.solution, task).correct  # a fresh worker
    rg_scoring.scorer_pool().close()


@pytest.mark.slow
def test_trivial_completions_earn_nothing_unless_they_are_the_answer():
    for env_name in REGISTERED:
        env = gym.make(env_id(env_name)).unwrapped
        for seed in range(3):
            prompt, _ = env.reset(seed=seed)
            task = env.task
            for text in ["0", "", "{}", prompt, "True", "yes", "[]"]:
                for completion in (text, f"<answer>{text}</answer>", f"\\boxed{{{text}}}"):
                    v = env.verify(completion, task)
                    if v.reward > 0:
                        assert task.solution is not None and v.extracted is not None
                        assert env.verify(task.solution, task).correct
                        reference = str(task.answer)
                        assert rg_same(text, reference), (env_name, text[:40], reference)


def rg_same(text: str, reference: str) -> bool:
    """The trivial text is the true answer, up to case, spacing and number spelling."""
    from rlvr_envs.integrations.reasoning_gym import _same_answer

    return _same_answer(text, reference)


@pytest.mark.slow
def test_rlvr_envs_check_passes_on_every_registered_generator():
    out = io.StringIO()
    status = run_check(RG_IDS, limit=8, out=out)
    assert status == 0, out.getvalue()


def test_a_worker_that_cannot_start_is_an_infrastructure_error(monkeypatch):
    from rlvr_envs.integrations import reasoning_gym as rg

    monkeypatch.setattr(rg_scoring, "STARTUP_S", 0.0)  # no worker is ever ready in time
    pool = rg_scoring.ScorerPool(max_workers=1)
    monkeypatch.setattr(rg, "scorer_pool", lambda: pool)
    env, task = _env("simple_integration")
    v = env.unwrapped.verify(task.solution, task)
    assert v.status.value == "error" and "did not start" in v.reason
    pool.close()


def test_an_item_the_generator_fails_on_is_skipped_the_same_way_every_time(monkeypatch):
    env = gym.make("rlvr/rg-chain_sum-v0", size=50, min_terms=2, max_terms=2)
    dataset = env.unwrapped.source.dataset
    real = type(dataset).__getitem__

    def flaky(self, index):
        if index % 2 == 0:
            raise RuntimeError("Could not find suitable path cell after 1000 attempts")
        return real(self, index)

    monkeypatch.setattr(type(dataset), "__getitem__", flaky)
    first = [env.reset(seed=s)[1]["metadata"]["source_index"] for s in range(20)]
    again = [env.reset(seed=s)[1]["metadata"]["source_index"] for s in range(20)]
    assert first == again and all(index % 2 == 1 for index in first)
    with pytest.raises(RuntimeError, match="suitable path|failed"):
        env.unwrapped.source.get(f"{env.unwrapped.source._prefix}2")


def test_every_special_case_names_a_registered_generator():
    from rlvr_envs.integrations import reasoning_gym as rg

    named = set(rg.GUARDED) | rg.ISOLATED | rg.MULTI_SOLUTION | set(rg.STRICTER)
    named |= set(rg.REFERENCE_IN_METADATA) | rg.NO_REFERENCE | set(rg.SIZE_LIMITS)
    assert named <= set(REGISTERED), named - set(REGISTERED)
