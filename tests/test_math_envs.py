import gymnasium as gym
import numpy as np
import pytest

from rlvr_envs.envs.math import ALGEBRA_KINDS, ARITHMETIC_LEVELS, MULTIDIGIT_LEVEL, gsm8k_answer


def _reference_rate(env_id, **kwargs):
    env = gym.make(env_id, **kwargs).unwrapped
    tasks = env.source.tasks
    passed = [t.id for t in tasks if env.verify(t.solution, t).reward == 1.0]
    return env, tasks, passed


def _step(env, task, completion):
    env.reset(options={"task_id": task.id})
    return env.step(completion)[1]


@pytest.mark.slow
def test_gsm8k_references_score_one_and_perturbed_answers_zero(shared_data):
    env, tasks, passed = _reference_rate("rlvr/GSM8K-v1")
    assert len(tasks) == 1319
    assert len(passed) / len(tasks) >= 0.995, set(t.id for t in tasks) - set(passed)
    rng = np.random.default_rng(0)
    for task in tasks[:300]:
        for wrong in env.perturb(task, rng):
            assert _step(env, task, wrong) == 0.0, (task.id, wrong)


@pytest.mark.slow
def test_math500_references_score_one_and_perturbed_answers_zero(shared_data):
    env, tasks, passed = _reference_rate("rlvr/MATH500-v1")
    assert len(tasks) == 500
    assert len(passed) / len(tasks) >= 0.995, set(t.id for t in tasks) - set(passed)
    rng = np.random.default_rng(0)
    for task in tasks:
        for wrong in env.perturb(task, rng):
            assert _step(env, task, wrong) == 0.0, (task.id, task.answer, wrong)


def test_gsm8k_through_step_and_data_path(shared_data):
    env = gym.make("rlvr/GSM8K-v1", data_path=shared_data / "gsm8k_test.jsonl")
    task = env.unwrapped.source.tasks[0]
    obs, info = env.reset(options={"task_id": task.id})
    assert task.prompt in obs and "\\boxed{}" in obs
    _, reward, terminated, _, info = env.step(task.solution)
    assert reward == 1.0 and terminated
    assert info["verdict"]["expected"] == task.answer


def test_gsm8k_train_split_from_the_data_dir(shared_data):
    env = gym.make("rlvr/GSM8K-v1", split="train")
    assert env.unwrapped.source.num_tasks == 7473


def test_gsm8k_answer_parsing():
    assert gsm8k_answer("work <<2*3=6>>6\n#### 1,234") == "1234"
    with pytest.raises(ValueError, match="####"):
        gsm8k_answer("no final line")


def test_math500_metadata(shared_data):
    env = gym.make("rlvr/MATH500-v1")
    _, info = env.reset(seed=0)
    assert info["metadata"]["subject"] and info["metadata"]["level"] in range(1, 6)


@pytest.mark.parametrize("level", [*ARITHMETIC_LEVELS, MULTIDIGIT_LEVEL, "mixed"])
def test_arithmetic_references_pass_and_wrong_answers_fail(level):
    env = gym.make("rlvr/Arithmetic-v1", level=level).unwrapped
    rng = np.random.default_rng(0)
    for task in env.source.take(100, seed=1):
        assert env.verify(task.solution, task).reward == 1.0, task
        for wrong in env.perturb(task, rng):
            assert env.verify(wrong, task).reward == 0.0, (task, wrong)


@pytest.mark.parametrize("kind", ["linear", "quadratic", "simplify", "evaluate", "mixed"])
def test_algebra_references_pass_and_wrong_answers_fail(kind):
    env = gym.make("rlvr/Algebra-v1", kind=kind).unwrapped
    rng = np.random.default_rng(0)
    for task in env.source.take(40, seed=2):
        assert env.verify(task.solution, task).reward == 1.0, task
        for wrong in env.perturb(task, rng):
            assert env.verify(wrong, task).reward == 0.0, (task, wrong)


def test_procedural_task_ids_rebuild_the_same_task():
    env = gym.make("rlvr/Algebra-v1")
    obs, info = env.reset(seed=123)
    again, info2 = env.reset(options={"task_id": info["task_id"]})
    assert again == obs and info2["task_id"] == info["task_id"]
    with pytest.raises(KeyError):
        env.reset(options={"task_id": "arithmetic/L2:5"})
    with pytest.raises(KeyError):
        env.reset(options={"task_id": "algebra/mixed:notanumber"})


def test_arithmetic_level_one_is_one_digit_sums():
    env = gym.make("rlvr/Arithmetic-v1", level=1, template="{prompt}")
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        a, b = obs.removeprefix("What is ").removesuffix("?").split(" + ")
        assert 0 <= int(a) <= 9 and 0 <= int(b) <= 9


def test_bad_levels_and_kinds():
    with pytest.raises(ValueError, match="level"):
        gym.make("rlvr/Arithmetic-v1", level=9)
    with pytest.raises(ValueError, match="kind"):
        gym.make("rlvr/Algebra-v1", kind="calculus")


@pytest.mark.parametrize(
    "action, statuses",
    [
        ("", {"no_answer"}),
        ("x" * 1_000_000, {"invalid_input"}),
        ("\\boxed{4\udcff}", {"invalid_input"}),
        ("I think it is probably something.", {"no_answer", "wrong"}),
    ],
)
def test_bad_actions_on_math_envs(action, statuses, shared_data):
    for env_id in ["rlvr/Arithmetic-v1", "rlvr/GSM8K-v1"]:
        env = gym.make(env_id)
        env.reset(seed=0)
        _, reward, terminated, _, info = env.step(action)
        assert reward == 0.0 and terminated
        assert info["verdict"]["status"] in statuses
        with pytest.raises(TypeError):
            env.reset(seed=0)
            env.step(123)


# --- grading per environment: extraction mode, answer form, echoes (issue 14) ------------------

PROCEDURAL_VARIANTS = {
    "rlvr/Arithmetic-v1": [{"level": level} for level in (*ARITHMETIC_LEVELS, MULTIDIGIT_LEVEL)],
    "rlvr/Algebra-v1": [{"kind": kind} for kind in ALGEBRA_KINDS],
    # Tool variants: the same verifier behind ToolUse; an echo is no answer there either.
    "rlvr/Arithmetic-Python-v1": [{"level": MULTIDIGIT_LEVEL}],
    "rlvr/Arithmetic-Calculator-v1": [{"level": MULTIDIGIT_LEVEL}],
}


def _echoes(task) -> list[str]:
    """Ways to answer with the question's own expression."""
    expression = task.metadata["expression"]
    return [
        f"\\boxed{{{expression}}}",
        f"The answer is ${expression}$.",
        f"<answer>{expression}</answer>",
        f"Final Answer: \\boxed{{({expression})}}",
        expression,
    ]


def test_every_procedural_math_environment_is_covered_by_the_echo_attack():
    from rlvr_envs.check import latest_versions
    from rlvr_envs.registry import list_envs

    procedural = [
        info.id for info in list_envs() if info.category == "math" and info.tasks == "procedural"
    ]
    assert set(latest_versions(procedural)) == set(PROCEDURAL_VARIANTS)


@pytest.mark.parametrize("mode", ["strict", "lenient"])
@pytest.mark.parametrize(
    "env_id, kwargs",
    [
        pytest.param(env_id, kwargs, id=f"{env_id[5:]}-{next(iter(kwargs.values()))}")
        for env_id, variants in PROCEDURAL_VARIANTS.items()
        for kwargs in variants
    ],
)
def test_echo_attack_scores_zero(env_id, kwargs, mode):
    env = gym.make(env_id, mode=mode, **kwargs).unwrapped
    paid = []
    for task in env.source.take(25, seed=7):
        assert env.verify(task.solution, task).reward == 1.0, task
        for echo in _echoes(task):
            verdict = env.verify(echo, task)
            if verdict.reward != 0.0:
                paid.append((task.prompt, echo, verdict.status.value))
    assert paid == []


def test_the_v0_environments_keep_their_grading_and_paid_echoes():
    # Why -v1 exists: the same attack on the -v0 grading is paid (kept for reproducing numbers).
    with pytest.warns(DeprecationWarning, match="out of date"):
        old = gym.make("rlvr/Arithmetic-v0", level=1).unwrapped
    tasks = old.source.take(20, seed=7)
    assert all(old.verify(f"\\boxed{{{t.metadata['expression']}}}", t).correct for t in tasks)
    new = gym.make("rlvr/Arithmetic-v1", level=1).unwrapped
    verdicts = [new.verify(f"\\boxed{{{t.metadata['expression']}}}", t) for t in tasks]
    assert {v.status.value for v in verdicts} == {"wrong_form"}
    assert all(v.reason == "unevaluated expression: the task asks for a number" for v in verdicts)


@pytest.mark.parametrize(
    "env_id, kwargs, mode, answer_form",
    [
        ("rlvr/Arithmetic-v1", {}, "strict", "number"),
        ("rlvr/Algebra-v1", {"kind": "simplify"}, "strict", "simplified"),
        ("rlvr/Algebra-v1", {"kind": "evaluate"}, "strict", "number"),
        ("rlvr/GSM8K-v1", {}, "lenient", "number"),
        ("rlvr/GSM8K-v1", {"split": "train"}, "strict", "number"),
        ("rlvr/MATH500-v1", {}, "lenient", "any"),
        ("rlvr/Arithmetic-v0", {}, "strict", "any"),
        ("rlvr/MATH500-v0", {}, "strict", "any"),
    ],
)
def test_each_environment_says_how_it_grades(env_id, kwargs, mode, answer_form, shared_data):
    env = gym.make(env_id, **kwargs)
    env.reset(seed=0)
    _, _, _, _, info = env.step("no idea, sorry")
    details = info["verdict"]["details"]
    assert (details["mode"], details["answer_form"]) == (mode, answer_form)
    assert info["reward_components"].keys() == {"math"}


def test_environments_take_mode_and_answer_form(shared_data):
    env = gym.make("rlvr/Arithmetic-v1", level=1, answer_form="any", mode="lenient").unwrapped
    task = env.source.take(1, seed=0)[0]
    assert env.verify(f"so it is ${task.metadata['expression']}$", task).correct
    with pytest.raises(ValueError, match="answer_form"):
        gym.make("rlvr/Arithmetic-v1", answer_form="tidy")
    with pytest.raises(ValueError, match="mode"):
        gym.make("rlvr/GSM8K-v1", mode="loose")
    gsm = gym.make("rlvr/GSM8K-v1", verifier_options={"answer_form": "any"}).unwrapped
    assert gsm.verifier.options["answer_form"] == "any"


def test_math500_refuses_echoes_of_computations(shared_data):
    env = gym.make("rlvr/MATH500-v1").unwrapped
    task = next(t for t in env.source.tasks if "$\\dbinom{" in t.prompt and t.answer.isdigit())
    echo = task.prompt[task.prompt.index("$\\dbinom{") :].split("$")[1]
    verdict = env.verify(f"\\boxed{{{echo}}}", task)
    assert verdict.status.value == "wrong_form", (task.prompt, echo, verdict)
    assert env.verify(f"\\boxed{{{task.answer}}}", task).correct
