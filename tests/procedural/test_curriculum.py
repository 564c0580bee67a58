"""rlvr_envs.wrappers.Curriculum: scripted agents of known skill drive it where it should go."""

from __future__ import annotations

import json
import uuid

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rlvr_envs  # noqa: F401 - registers the environments
from rlvr_envs.wrappers import Curriculum, CurriculumStats

LEVELS = [1, 2, 3, 4, 5]


def _curriculum(**kwargs) -> Curriculum:
    kwargs.setdefault("stats", uuid.uuid4().hex)  # private statistics for each test
    kwargs.setdefault("window", 16)
    return Curriculum("rlvr/Arithmetic-v1", "level", LEVELS, **kwargs)


def run(env: Curriculum, skill, episodes: int, seed: int = 0) -> list[int]:
    """Play ``episodes`` episodes; ``skill(level, rng)`` says whether the agent gets it right."""
    rng = np.random.default_rng(seed)
    difficulties = []
    for episode in range(episodes):
        _, info = env.reset(seed=seed * 100_000 + episode)
        difficulties.append(info["difficulty"])
        right = skill(info["difficulty"], rng)
        env.step(env.task.solution if right else "The answer is \\boxed{-999999}.")
    return difficulties


def perfect(level, rng):
    return True


def failing(level, rng):
    return False


def graded(level, rng):
    """Sure of levels 1-2, a coin flip at level 3, hopeless above."""
    return rng.random() < {1: 1.0, 2: 0.95, 3: 0.5, 4: 0.05, 5: 0.0}[level]


def test_a_perfect_agent_reaches_the_top_level():
    env = _curriculum(easier_mix=0.0)
    difficulties = run(env, perfect, 200)
    assert env.difficulty == 5 and difficulties[-1] == 5
    assert difficulties == sorted(difficulties)  # it only ever moved up
    # each move waited for min_episodes (window // 2) outcomes at the level it left
    assert difficulties.index(5) == 4 * 8


def test_a_failing_agent_stays_at_the_bottom():
    env = _curriculum()
    difficulties = run(env, failing, 200)
    assert set(difficulties) == {1} and env.difficulty == 1


def test_an_agent_that_is_right_half_the_time_settles_in_between():
    env = _curriculum(easier_mix=0.0)
    difficulties = run(env, graded, 600, seed=1)
    late = difficulties[200:]
    assert 2 <= min(late) and max(late) <= 4  # never back to the bottom, never the top
    assert np.mean(late) == pytest.approx(3, abs=0.5)
    summary = env.stats.summary()
    assert 0.2 <= summary["recent_success"]["3"] <= 0.8


def test_a_constant_fifty_percent_agent_stays_where_its_success_is_in_the_band():
    env = _curriculum(start=2, window=32)
    difficulties = run(env, lambda level, rng: rng.random() < 0.5, 400, seed=3)
    assert env.difficulty == 3
    assert set(difficulties) <= {1, 2, 3}


def test_easier_values_are_mixed_in_at_the_configured_rate():
    env = _curriculum(easier_mix=0.3, start=4)
    infos = [env.reset(seed=s)[1] for s in range(2000)]
    reviews = [i for i in infos if i["difficulty_review"]]
    assert 0.25 < len(reviews) / len(infos) < 0.35
    assert {i["difficulty"] for i in reviews} == {1, 2, 3, 4}
    assert all(i["difficulty"] == 5 for i in infos if not i["difficulty_review"])


def test_review_episodes_do_not_move_the_current_level():
    stats = CurriculumStats(LEVELS, window=4, start=2)
    for _ in range(50):
        stats.record(0, False)  # a hard time at an easier value
    assert stats.current == 2


def test_info_reports_the_difficulty_at_reset_and_step():
    env = _curriculum(start=1)
    _, info = env.reset(seed=0)
    assert info["difficulty"] == 2 and info["metadata"]["level"] == 2
    _, _, _, _, info = env.step("no idea")
    assert info["difficulty"] == 2 and info["verdict"]["reward"] == 0.0


def test_the_same_seed_keeps_its_difficulty_after_the_level_moves():
    env = _curriculum(easier_mix=0.0)
    observation, info = env.reset(seed=42)
    run(env, perfect, 8)  # eight successes: level 1 -> 2
    assert env.difficulty == 2
    again, info_again = env.reset(seed=42)  # a GRPO group member reset with the group's seed
    assert again == observation and info_again["difficulty"] == info["difficulty"] == 1
    _, fresh = env.reset(seed=43)
    assert fresh["difficulty"] == 2


def test_state_survives_a_restart(tmp_path):
    env = _curriculum(easier_mix=0.0)
    run(env, perfect, 17)
    saved = tmp_path / "curriculum.json"
    saved.write_text(json.dumps(env.state_dict()))
    resumed = _curriculum(easier_mix=0.0)
    assert resumed.difficulty == 1
    resumed.load_state_dict(json.loads(saved.read_text()))
    assert resumed.difficulty == env.difficulty == 3
    assert resumed.stats.summary() == env.stats.summary()
    with pytest.raises(ValueError, match="over"):
        Curriculum("rlvr/Arithmetic-v1", "level", [1, 2], stats=uuid.uuid4().hex).load_state_dict(
            env.state_dict()
        )


@pytest.mark.parametrize("mode", [None, "sync"])
def test_make_vec_sub_environments_share_their_statistics(mode):
    kwargs = {} if mode is None else {"vectorization_mode": mode}
    name = uuid.uuid4().hex
    envs = gym.make_vec(
        "rlvr/Curriculum-v0",
        num_envs=4,
        env_id="rlvr/Arithmetic-v1",
        window=8,
        stats=name,
        **kwargs,
    )
    try:
        envs.reset(seed=list(range(4)))
        for _ in range(3):  # 12 successes, spread over the four sub-environments
            _, _, _, _, infos = envs.step(["\\boxed{0}"] * 4)  # wrong unless the sum is 0
            envs.reset()
        subs = envs.envs
        stats = {id(sub.unwrapped.stats) for sub in subs}
        assert len(stats) == 1
        assert sum(subs[0].unwrapped.stats.summary()["episodes"].values()) == 12
    finally:
        envs.close()


def test_same_arguments_share_statistics_by_default_and_names_separate_them():
    a = Curriculum("rlvr/Sorting-v0", "level", [1, 2, 3], window=7)
    b = Curriculum("rlvr/Sorting-v0", "level", [1, 2, 3], window=7)
    c = Curriculum("rlvr/Sorting-v0", "level", [1, 2, 3], window=7, stats="another run")
    assert a.stats is b.stats and c.stats is not a.stats
    shared = CurriculumStats([1, 2, 3])
    d = Curriculum("rlvr/Sorting-v0", "level", [1, 2, 3], stats=shared)
    assert d.stats is shared


def test_the_registered_curriculum_passes_check_env_and_builds_any_family():
    env = gym.make("rlvr/Curriculum-v0", env_id="rlvr/Countdown-v0", stats=uuid.uuid4().hex)
    check_env(env.unwrapped)
    _, info = env.reset(seed=0)
    assert info["difficulty"] == 1 and set(info["metadata"]) >= {"numbers", "target"}
    chat = gym.make("rlvr/Curriculum-v0", chat=True, stats=uuid.uuid4().hex)
    check_env(chat.unwrapped)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="target"):
        _curriculum(target=(0.8, 0.2))
    with pytest.raises(ValueError, match="at least one"):
        Curriculum("rlvr/Arithmetic-v1", "level", [], stats=uuid.uuid4().hex)
    with pytest.raises(ValueError, match="chosen by the curriculum"):
        _curriculum(level=3)
    with pytest.raises(ValueError, match="give the values"):
        gym.make("rlvr/Curriculum-v0", param="kind")
    with pytest.raises(gym.error.ResetNeeded):
        _curriculum().step("x")
