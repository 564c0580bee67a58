import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import rlvr_envs
from rlvr_envs import list_envs, register_dataset_env

from .helpers import make_offline

ALL_IDS = [info.id for info in list_envs()]
MATH_IDS = [info.id for info in list_envs() if info.category == "math"]


def test_builtins_are_registered_with_descriptions():
    assert {"rlvr/Arithmetic-v0", "rlvr/Algebra-v0", "rlvr/GSM8K-v0", "rlvr/MATH500-v0"} <= set(
        ALL_IDS
    )
    for info in list_envs():
        assert info.description and info.tasks


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_every_registered_env_passes_check_env(env_id, shared_data):
    env = make_offline(env_id)
    check_env(env.unwrapped)
    env.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_every_registered_env_passes_check_env_in_chat_mode(env_id, shared_data):
    env = make_offline(env_id, chat=True, system_prompt="You are a careful solver.")
    check_env(env.unwrapped)
    env.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("env_id", MATH_IDS)
def test_make_vec(env_id, mode, shared_data):
    envs = gym.make_vec(env_id, num_envs=8, vectorization_mode=mode)
    try:
        obs, infos = envs.reset(seed=[7] * 4 + [8] * 4)
        assert len(obs) == 8 and len(set(obs[:4])) == 1
        single = gym.make(env_id)
        assert obs[0] == single.reset(seed=7)[0]
        _, rewards, terminated, truncated, infos = envs.step(["The answer is \\boxed{0}"] * 8)
        assert terminated.all() and not truncated.any()
        assert set(infos["verdict"]["status"]) <= {"correct", "wrong"}
    finally:
        envs.close()


def test_register_dataset_env_from_jsonl_end_to_end(test_data):
    register_dataset_env(
        "testorg/Sums-v0",
        data=test_data / "sums.jsonl",
        prompt_field="problem",
        answer_field="answer",
        solution_field="worked",
        verifier="math",
        description="three sums",
    )
    info = rlvr_envs.env_info("testorg/Sums-v0")
    assert info.tasks == "3" and info.description == "three sums"
    assert "testorg/Sums-v0" in [i.id for i in list_envs()]
    env = gym.make("testorg/Sums-v0")
    check_env(env.unwrapped)
    obs, info = env.reset(options={"task_id": "testorg/Sums-v0/1"})
    assert "half of 7" in obs and "\\boxed{}" in obs
    assert env.step("so it is \\boxed{3.5}")[1] == 1.0
    env.reset(options={"task_id": "testorg/Sums-v0/0"})
    assert env.step("\\boxed{41}")[1] == 0.0
    vec = gym.make_vec("testorg/Sums-v0", num_envs=2, vectorization_mode="async")
    vec.reset(seed=0)
    vec.close()


def test_register_dataset_env_from_a_list_with_the_exact_verifier(test_data):
    rows = [{"q": "Capital of Italy?", "a": "Rome"}, {"q": "Capital of Peru?", "a": "Lima"}]
    register_dataset_env(
        "testorg/Capitals-v0",
        data=rows,
        prompt_field="q",
        answer_field="a",
        verifier="exact",
        template="{prompt}",
    )
    env = gym.make("testorg/Capitals-v0", chat=True)
    obs, info = env.reset(options={"task_id": "testorg/Capitals-v0/1"})
    assert obs == [{"role": "user", "content": "Capital of Peru?"}]
    assert env.step("lima")[1] == 1.0


def test_register_dataset_env_with_ids_metadata_and_a_custom_verifier(test_data):
    register_dataset_env(
        "testorg/CapitalsFile-v0",
        data=str(test_data / "capitals.jsonl"),
        prompt_field="question",
        answer_field="gold",
        id_field="qid",
        verifier=lambda completion, task: task.answer.lower() in completion.lower(),
    )
    env = gym.make("testorg/CapitalsFile-v0")
    _, info = env.reset(options={"task_id": "c3"})
    assert info["metadata"] == {"region": "Africa"}
    assert env.step("It is Nairobi.")[1] == 1.0


def test_register_dataset_env_reports_missing_fields_at_registration(test_data):
    with pytest.raises(KeyError, match="answer field 'solution'"):
        register_dataset_env(
            "testorg/Broken-v0",
            data=test_data / "sums.jsonl",
            prompt_field="problem",
            answer_field="solution",
        )
    assert "testorg/Broken-v0" not in gym.registry


def test_hub_dataset_env_registers_lazily_and_fails_clearly_offline():
    register_dataset_env(
        "testorg/Hub-v0", data="someone/some-dataset", prompt_field="q", answer_field="a"
    )
    assert rlvr_envs.env_info("testorg/Hub-v0").tasks == "hub: someone/some-dataset"
    with pytest.raises(rlvr_envs.data.DataError, match="data_path"):
        gym.make("testorg/Hub-v0")
