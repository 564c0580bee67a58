"""The rollout engine's options where training and evaluation differ: seeds, faults, streaming."""

from __future__ import annotations

import threading
from typing import Any

import gymnasium as gym
import pytest

from rlvr_envs.agent import CallableAgent
from rlvr_envs.rollout import AGENT_ERROR, Episode, RolloutRunner, collect_rollouts

from .envs import WORDS, Faulty, word_env


def seeded(observation: Any, seed: int | None = None) -> str:
    return f"{observation}|{seed}"


def episodes(count: int, **fields: Any) -> list[Episode]:
    return [
        Episode(index=i, task_id=f"word/{i % len(WORDS)}", sample_seed=100 + i, **fields)
        for i in range(count)
    ]


def test_one_seed_per_sample_whatever_the_batch() -> None:
    agent = CallableAgent(seeded)
    with RolloutRunner(word_env) as runner:
        one = list(runner.run(agent, episodes(6), generation_batch_size=1))
        all_at_once = list(runner.run(agent, episodes(6), generation_batch_size=6))
        backwards = list(runner.run(agent, episodes(6)[::-1], generation_batch_size=4))
    by_index = [{e.index: e.completions for e in run} for run in (one, all_at_once, backwards)]
    assert by_index[0] == by_index[1] == by_index[2]
    assert by_index[0][3] == [f"Say the word {WORDS[3]}.|103"]


def test_later_turns_get_their_own_seeds() -> None:
    make = lambda: word_env(max_turns=3)  # noqa: E731
    with RolloutRunner(make) as runner:
        (episode,) = runner.run(CallableAgent(lambda o, seed: str(seed)), episodes(1))
    assert episode.completions == ["100", str(100 + 7919), str(100 + 2 * 7919)]


def test_call_seeding_gives_one_seed_per_agent_call() -> None:
    seen: list[int] = []

    def record(observations, seeds=None, seed=None):
        seen.append(seed)
        return ["x"] * len(observations)

    collect_rollouts(
        CallableAgent(record, batched=True), word_env, num_tasks=2, group_size=2, seed=3
    )
    assert seen == [(3 * 1_000_003 + 1) % 2**63]


def test_only_the_sampling_settings_given_are_passed_on() -> None:
    seen: dict[str, Any] = {}

    class Agent:
        def act(self, observations, **sampling):
            seen.update(sampling)
            return ["x"] * len(observations)

    collect_rollouts(Agent(), word_env, num_tasks=1, max_tokens=7)
    assert seen == {"max_new_tokens": 7, "seed": 1}  # the agent's own temperature etc. stay


def test_an_agent_error_on_one_input_is_recorded_without_failing_the_others() -> None:
    def picky(observation: str) -> str:
        if "fig" in observation:
            raise ValueError("prompt too long for the context")
        return observation.removeprefix("Say the word ").rstrip(".")

    with RolloutRunner(word_env) as runner:
        done = list(runner.run(CallableAgent(picky), episodes(6), on_error="record"))
        with pytest.raises(ValueError, match="too long"):
            list(runner.run(CallableAgent(picky), episodes(6)))
    bad = [e for e in done if not e.valid]
    assert [e.task_id for e in bad] == ["word/3"] and bad[0].completions == []
    assert bad[0].verdicts[-1]["status"] == AGENT_ERROR
    assert "agent raised ValueError: prompt too long" in bad[0].fault
    assert all(e.correct for e in done if e.valid)


def test_a_non_text_answer_is_an_agent_error() -> None:
    class Confused:
        def act(self, observations, **sampling):
            return [None] * len(observations)

    with RolloutRunner(word_env) as runner:
        (episode,) = runner.run(Confused(), episodes(1), on_error="record")
        with pytest.raises(TypeError, match="NoneType, not a str"):
            list(runner.run(Confused(), episodes(1)))
    assert "returned a NoneType, not a str" in episode.fault


def test_a_failed_environment_is_replaced_and_its_episode_reported() -> None:
    made: list[Any] = []

    def make():
        made.append(Faulty(word_env(), "apple"))
        return made[-1]

    say = CallableAgent(lambda o: o.removeprefix("Say the word ").rstrip("."))
    with RolloutRunner(make, num_envs=1) as runner:
        done = list(runner.run(say, episodes(3), on_error="record"))
    assert [e.valid for e in done] == [False, True, True]
    assert done[0].verdicts[-1]["status"] == "error" and done[0].turn_rewards == [0.0]
    assert "environment raised RuntimeError: the grader crashed" in done[0].fault
    assert len(made) == 2  # the broken one was closed, a fresh one took its slot


def test_verifier_faults_make_an_episode_invalid() -> None:
    episode = Episode(index=0, verdicts=[{"status": "sandbox_error", "reason": "no sandbox"}])
    assert not episode.valid and episode.fault == "no sandbox"
    assert Episode(index=1, verdicts=[{"status": "wrong"}]).valid


def test_episodes_stream_out_as_they_end() -> None:
    gate = threading.Event()

    class Gated(gym.Wrapper):
        def step(self, action):
            if "apple" in action:
                assert gate.wait(timeout=10)
            return self.env.step(action)

    say = CallableAgent(lambda o: o.removeprefix("Say the word ").rstrip("."))
    with RolloutRunner(lambda: Gated(word_env()), num_envs=2) as runner:
        stream = runner.run(say, episodes(3), generation_batch_size=1)
        first = next(stream)  # word/0 (apple) is still being verified
        gate.set()
        rest = list(stream)
    assert first.task_id != "word/0" and {e.task_id for e in rest} >= {"word/0"}


def test_an_agent_that_stops_the_run_keeps_what_was_being_verified() -> None:
    calls = {"n": 0}

    def dies(observation: str) -> str:
        calls["n"] += 1
        if calls["n"] > 2:
            raise ConnectionError("server went away")
        return observation.removeprefix("Say the word ").rstrip(".")

    finished = []
    with RolloutRunner(word_env) as runner:
        with pytest.raises(ConnectionError):
            for episode in runner.run(
                CallableAgent(dies), episodes(6), generation_batch_size=1, on_error="record"
            ):
                finished.append(episode)
    assert len(finished) == 2 and all(e.correct for e in finished)


def test_text_mode_counts_tokens_and_says_how() -> None:
    with RolloutRunner(word_env) as runner:
        (approx,) = runner.run(CallableAgent(lambda o: "abcdefgh"), episodes(1))
        (exact,) = runner.run(CallableAgent(lambda o: ("abcdefgh", 3)), episodes(1))
    assert (approx.num_generated_tokens, approx.tokens_source) == (2, "approximate")
    assert (exact.num_generated_tokens, exact.tokens_source) == (3, "agent")


def test_run_checks_its_arguments() -> None:
    with RolloutRunner(word_env) as runner:
        with pytest.raises(ValueError, match="unique"):
            runner.run(CallableAgent(seeded), [Episode(index=0), Episode(index=0)])
        with pytest.raises(ValueError, match="seeding"):
            runner.run(CallableAgent(seeded), episodes(1), seeding="batch")
        with pytest.raises(ValueError, match="on_error"):
            runner.run(CallableAgent(seeded), episodes(1), on_error="ignore")
