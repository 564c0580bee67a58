"""Version pinning: a procedural environment's first tasks per seed cannot change under its id."""

from __future__ import annotations

import dataclasses
import json

import gymnasium as gym
import pytest

from rlvr_envs import register
from rlvr_envs.envs.procedural import FAMILIES

from .golden import GOLDEN_PATH, add_missing, changed, load_golden, procedural_ids

GOLDEN = load_golden()
NATIVE_AND_BUILTIN = [e for e in procedural_ids() if "/rg-" not in e]
REASONING_GYM = [e for e in procedural_ids() if "/rg-" in e]


def test_every_procedural_environment_has_golden_tasks():
    missing = sorted(set(procedural_ids()) - set(GOLDEN))
    assert not missing, f"no golden tasks for {missing}: run python -m tests.procedural.golden"


@pytest.mark.parametrize("env_id", NATIVE_AND_BUILTIN)
def test_golden_tasks_are_unchanged(env_id):
    assert changed(env_id, GOLDEN) is None


@pytest.mark.slow
@pytest.mark.parametrize("env_id", REASONING_GYM)
def test_reasoning_gym_golden_tasks_are_unchanged(env_id):
    """Fails when a reasoning-gym upgrade changes a generator: pin the version or bump ids."""
    pytest.importorskip("reasoning_gym")
    assert changed(env_id, GOLDEN) is None


def test_a_generator_change_fails_until_the_version_is_bumped(monkeypatch, tmp_path):
    golden_file = tmp_path / "golden.json"
    golden_file.write_text(GOLDEN_PATH.read_text())
    golden = load_golden(golden_file)
    assert changed("rlvr/Countdown-v0", golden) is None

    # Someone widens Countdown's level-3 number range in place, behind the same id: caught.
    family = FAMILIES["countdown"]
    levels = {**family.levels, 3: {**family.levels[3], "max_number": 30}}
    monkeypatch.setitem(FAMILIES, "countdown", dataclasses.replace(family, levels=levels))
    message = changed("rlvr/Countdown-v0", golden)
    assert message and "needs a new version" in message

    # The changed generator under a new id has no golden tasks yet, so the suite asks for them;
    # pinning adds the new id and leaves the old one's tasks as they were.
    register(
        "rlvr/Countdown-v1",
        "rlvr_envs.envs.procedural:make_family_env",
        tasks="procedural",
        kwargs={"family": "countdown"},
    )
    try:
        assert "rlvr/Countdown-v1" in procedural_ids() and "rlvr/Countdown-v1" not in golden
        added = add_missing(["rlvr/Countdown-v0", "rlvr/Countdown-v1"], golden_file)
        assert added == ["rlvr/Countdown-v1"]
        updated = load_golden(golden_file)
        assert updated["rlvr/Countdown-v0"] == golden["rlvr/Countdown-v0"]
        assert changed("rlvr/Countdown-v1", updated) is None
    finally:
        del gym.registry["rlvr/Countdown-v1"]


def test_the_golden_file_is_plain_sorted_json():
    data = json.loads(GOLDEN_PATH.read_text())
    assert list(data["envs"]) == sorted(data["envs"]) and data["seeds"] == [0, 1, 2]
