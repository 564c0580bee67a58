"""Stable-Baselines3 integration: its env checker, its vector envs, and PPO learning."""

import string
import sys
from pathlib import Path

import gymnasium as gym
import pytest

pytest.importorskip("stable_baselines3")

from gymnasium.utils.env_checker import check_env as gym_check_env  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.env_checker import check_env as sb3_check_env  # noqa: E402

from agents.sb3 import TokenFeatures, evaluate_reward, make_token_vec_env  # noqa: E402
from rlvr_envs import list_envs  # noqa: E402
from rlvr_envs.wrappers import CharTokenizer, TokenLevel  # noqa: E402

from ..helpers import make_offline  # noqa: E402

WIDE = CharTokenizer(string.printable + "−°πθ√≤≥×÷·…’“”–—é")
ALL_IDS = [info.id for info in list_envs(namespace="rlvr")]


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_sb3_and_gymnasium_checkers_pass_on_every_wrapped_env(env_id, shared_data):
    env = TokenLevel(make_offline(env_id), WIDE, max_prompt_tokens=16384, max_new_tokens=8)
    sb3_check_env(env, warn=True)
    gym_check_env(env, skip_render_check=True)


@pytest.mark.parametrize("subprocess", [False, True])
def test_vec_envs(subprocess):
    vec = make_token_vec_env(
        "rlvr/Arithmetic-v1",
        CharTokenizer("0123456789 +-*/?=Whatis"),
        n_envs=2,
        subprocess=subprocess,
        seed=0,
        env_kwargs={"level": 1, "template": "{prompt}"},
        max_prompt_tokens=16,
        max_new_tokens=2,
        allowed_tokens=list("0123456789"),
    )
    obs = vec.reset()
    assert obs["tokens"].shape == (2, 18)
    finished = 0
    for _ in range(4):
        obs, rewards, dones, infos = vec.step([3, 10])
        finished += int(dones.sum())
        assert all(r in (0.0, 1.0) for r in rewards)
    assert finished >= 2 and all("episode" in i for i, d in zip(infos, dones) if d)
    vec.close()


def test_token_features_embed_ids():
    env = TokenLevel(
        gym.make("rlvr/Arithmetic-v1", level=1, template="{prompt}"),
        CharTokenizer("0123456789 +?Whatis"),
        max_prompt_tokens=16,
        max_new_tokens=2,
    )
    model = PPO(
        "MultiInputPolicy",
        env,
        n_steps=16,
        batch_size=16,
        device="cpu",
        policy_kwargs={"features_extractor_class": TokenFeatures},
    )
    assert model.policy.features_extractor.features_dim == 18 * 16
    model.learn(32)
    assert 0.0 <= evaluate_reward(env, model, episodes=5) <= 1.0


@pytest.mark.slow
def test_ppo_example_beats_a_random_policy():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
    import sb3_ppo_arithmetic

    result = sb3_ppo_arithmetic.run(40_000, seed=0, n_envs=8, eval_episodes=200)
    assert result["random_policy_reward"] < 0.05
    assert result["trained_policy_reward"] > result["random_policy_reward"] + 0.1, result
