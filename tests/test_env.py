import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

from rlvr_envs import DatasetSource, Status, Task, TextEnv, Verdict

from .helpers import echo_env, echo_tasks


@pytest.mark.parametrize("chat", [False, True])
@pytest.mark.parametrize("max_turns", [1, 3])
def test_check_env_passes(chat, max_turns):
    check_env(
        echo_env(chat=chat, max_turns=max_turns, system_prompt="Be exact."), skip_render_check=True
    )


def test_same_seed_same_task_and_unseeded_resets_follow_the_seed():
    a, b = echo_env(), echo_env()
    assert a.reset(seed=11) == b.reset(seed=11)
    assert [a.reset()[0] for _ in range(5)] == [b.reset()[0] for _ in range(5)]
    seen = {echo_env().reset(seed=s)[1]["task_id"] for s in range(40)}
    assert len(seen) > 5


def test_reset_with_task_id_and_injected_task():
    env = echo_env()
    obs, info = env.reset(options={"task_id": "echo/3"})
    assert info["task_id"] == "echo/3" and obs == "Repeat exactly: δέλτα x"
    obs, info = env.reset(options={"task": {"prompt": "Say yes", "answer": "yes", "level": 2}})
    assert obs == "Say yes" and info["task_id"] == "injected" and info["metadata"] == {"level": 2}
    assert env.step("YES ")[1] == 1.0
    obs, _ = env.reset(options={"task": Task(id="t", prompt="P", answer="a")})
    assert obs == "P"


@pytest.mark.parametrize(
    "options, error",
    [
        ({"task_id": "nope"}, KeyError),
        ({"colour": "red"}, ValueError),
        ({"task": {"answer": "no prompt"}}, ValueError),
        ({"task": "not a mapping"}, TypeError),
        ({"task": {"prompt": "p"}, "task_id": "echo/1"}, ValueError),
    ],
)
def test_bad_reset_options_give_clear_errors(options, error):
    with pytest.raises(error):
        echo_env().reset(options=options)


def test_single_turn_step_contract():
    env = echo_env()
    env.reset(options={"task_id": "echo/0"})
    obs, reward, terminated, truncated, info = env.step("alpha")
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert obs == "Repeat exactly: alphaalpha"  # transcript = prompt + completion
    verdict = info["verdict"]
    assert verdict["status"] == "correct" and verdict["correct"] is True
    assert verdict["expected"] == "alpha" and verdict["elapsed_s"] >= 0
    assert set(verdict) >= {
        "reward",
        "correct",
        "status",
        "reason",
        "extracted",
        "expected",
        "elapsed_s",
        "components",
    }
    assert info["reward_components"] == {"exact": 1.0}
    with pytest.raises(gym.error.ResetNeeded):
        env.step("again")


def test_step_before_reset_is_an_error():
    with pytest.raises(gym.error.ResetNeeded):
        echo_env().step("x")


def test_multi_turn_feedback_then_truncation():
    env = echo_env(max_turns=3)
    obs0, _ = env.reset(options={"task_id": "echo/0"})
    obs1, r1, term1, trunc1, info1 = env.step("beta")
    assert (r1, term1, trunc1) == (0.0, False, False)
    assert obs1.startswith(obs0 + "beta") and "judged wrong" in obs1
    obs2, r2, term2, trunc2, _ = env.step("gamma")
    assert (term2, trunc2) == (False, False) and obs2.startswith(obs1 + "gamma")
    _, r3, term3, trunc3, info3 = env.step("delta")
    assert (r3, term3, trunc3) == (0.0, False, True)  # turn limit reached: truncated
    assert info3["turn"] == 3


def test_multi_turn_success_terminates_early_and_chat_transcript_grows():
    env = echo_env(max_turns=3, chat=True)
    obs0, _ = env.reset(options={"task_id": "echo/1"})
    obs1, *_ = env.step("nope")
    assert obs1[: len(obs0)] == obs0
    assert [m["role"] for m in obs1[len(obs0) :]] == ["assistant", "user"]
    assert obs1[len(obs0)]["content"] == "nope"
    obs2, reward, terminated, truncated, _ = env.step("béta")
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert obs2[-1] == {"role": "assistant", "content": "béta"}


def test_custom_feedback_and_ending_the_episode_from_feedback():
    calls = []

    def feedback(task, completion, verdict, turn):
        calls.append((task.id, completion, verdict.status, turn))
        return None if turn == 2 else f"Hint {turn}"

    env = echo_env(max_turns=5, feedback=feedback)
    env.reset(options={"task_id": "echo/0"})
    obs, _, terminated, truncated, _ = env.step("x")
    assert obs.endswith("Hint 1\n\n") and not terminated
    _, _, terminated, truncated, _ = env.step("y")
    assert terminated and not truncated
    assert calls == [("echo/0", "x", Status.WRONG, 1), ("echo/0", "y", Status.WRONG, 2)]


def test_chat_observation_has_system_prompt_and_template():
    env = echo_env(chat=True, system_prompt="You are terse.", template="Q: {prompt} (#{index})")
    obs, _ = env.reset(options={"task_id": "echo/2"})
    assert obs == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Q: Repeat exactly: γάμμα (#2)"},
    ]


def test_template_leaves_latex_braces_alone():
    env = echo_env(template="{prompt}\nPut the answer in \\boxed{}. Use \\frac{a}{b}.")
    obs, _ = env.reset(options={"task_id": "echo/0"})
    assert obs.endswith("in \\boxed{}. Use \\frac{a}{b}.")


@pytest.mark.parametrize(
    "action, status",
    [
        ("", Status.NO_ANSWER),
        ("x" * 1_000_001, Status.INVALID_INPUT),
        ("half \udcff surrogate", Status.INVALID_INPUT),
    ],
)
def test_bad_actions_get_a_verdict_not_a_crash(action, status):
    env = echo_env(max_turns=2)
    obs0, _ = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(action)
    assert reward == 0.0 and info["verdict"]["status"] == status.value
    if status is Status.INVALID_INPUT:
        assert terminated and obs == obs0  # the bad text is not put into the transcript


@pytest.mark.parametrize("action", [None, 42, b"bytes", ["list"]])
def test_non_string_action_is_a_type_error(action):
    env = echo_env()
    env.reset(seed=0)
    with pytest.raises(TypeError, match="completion text"):
        env.step(action)


def test_verifier_crash_is_an_error_verdict_not_a_wrong_answer():
    def broken(completion, task):
        raise RuntimeError("boom")

    env = TextEnv(DatasetSource(echo_tasks()), broken)
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step("alpha")
    assert reward == 0.0 and terminated
    assert info["verdict"]["status"] == "error" and "boom" in info["verdict"]["reason"]


@pytest.mark.parametrize(
    "result, status, reward",
    [(True, "correct", 1.0), (False, "wrong", 0.0), (0.5, "wrong", 0.5), (1, "correct", 1.0)],
)
def test_plain_python_verifiers(result, status, reward):
    env = TextEnv(DatasetSource(echo_tasks()), lambda completion, task: result)
    env.reset(seed=0)
    _, r, _, _, info = env.step("x")
    assert r == reward and info["verdict"]["status"] == status


def test_verifier_components_are_reported_by_name():
    def verifier(completion, task):
        return Verdict.make(Status.WRONG, reward=0.3, components={"format": 1.0, "answer": 0.0})

    env = TextEnv(DatasetSource(echo_tasks()), verifier)
    env.reset(seed=0)
    info = env.step("x")[-1]
    assert info["reward_components"] == {"format": 1.0, "answer": 0.0}


def test_render_is_text():
    env = echo_env(render_mode="ansi")
    assert "reset" in env.render()
    env.reset(options={"task_id": "echo/0"})
    env.step("alpha")
    text = env.render()
    assert "echo/0" in text and "alphaalpha" in text and "verdict: correct" in text
    assert echo_env().render() is None


@pytest.mark.parametrize(
    "kwargs, error",
    [({"max_turns": 0}, ValueError), ({"render_mode": "human"}, ValueError)],
)
def test_bad_constructor_arguments(kwargs, error):
    with pytest.raises(error):
        echo_env(**kwargs)


def test_bad_source_and_verifier():
    with pytest.raises(TypeError, match="source"):
        TextEnv([1, 2, 3], "exact")
    with pytest.raises(ValueError, match="unknown verifier"):
        TextEnv(DatasetSource(echo_tasks()), "no-such-verifier")
    with pytest.raises(ValueError, match="duplicate task id"):
        DatasetSource([Task("a", "p"), Task("a", "q")])
    with pytest.raises(ValueError, match="no tasks"):
        DatasetSource([])


def test_too_long_prompt_is_a_clear_error():
    env = TextEnv(DatasetSource([Task("long", "x" * 100)]), "exact", max_prompt_length=50)
    with pytest.raises(ValueError, match="max_prompt_length"):
        env.reset(seed=0)
