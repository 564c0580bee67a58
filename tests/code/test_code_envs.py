"""HumanEval, MBPP and CodeIO environments: references pass, perturbations fail, repair works."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rlvr_envs.envs.code import fenced

from .verdicts import decided

# MBPP items whose own reference solution cannot pass, with the reason (subset="full").
# Their trusted setup code builds objects of a class that only the solution defines (``Node``)
# and passes them to it: the tests' own objects are not plain data, so the solution cannot be run
# apart from the tests; the verdict is ``error``, never a pass. (Objects the *solution* makes,
# like mbpp/601's ``Pair(...)`` in the asserts, are handles the tests can pass back: it passes.)
MBPP_FULL_KNOWN_FAILURES = {
    "mbpp/367": "setup code builds Node objects of the solution's class",
    "mbpp/927": "setup code builds Node objects of the solution's class",
}


def _reference_results(env_id, **kwargs):
    env = gym.make(env_id, **kwargs).unwrapped
    tasks = env.source.tasks
    verdicts = {t.id: env.verify(t.solution, t) for t in tasks}
    return env, tasks, verdicts


def _same_in_a_batch(env, answers, tasks, one_by_one) -> None:
    """``verify_batch`` over the whole suite decides exactly as ``verify`` did one by one."""
    batch = env.verifier.verify_batch(answers, tasks)
    differ = [
        (task.id, decided(a), decided(b))
        for task, a, b in zip(tasks, one_by_one, batch)
        if decided(a) != decided(b)
    ]
    assert not differ, differ


def _perturbed(env, tasks):
    rng = np.random.default_rng(0)
    pairs = [(wrong, task) for task in tasks for wrong in env.perturb(task, rng)]
    return [w for w, _ in pairs], [t for _, t in pairs]


@pytest.mark.slow
def test_humaneval_canonical_solutions_all_pass_and_perturbed_fail(shared_data, local_box):
    env, tasks, verdicts = _reference_results("rlvr/HumanEval-v0", sandbox=local_box)
    assert len(tasks) == 164
    failed = {k: v.reason for k, v in verdicts.items() if not v.correct}
    assert not failed
    _same_in_a_batch(env, [t.solution for t in tasks], tasks, list(verdicts.values()))
    wrongs, wrong_tasks = _perturbed(env, tasks)
    wrong_verdicts = [env.verify(w, t) for w, t in zip(wrongs, wrong_tasks)]
    for wrong, task, verdict in zip(wrongs, wrong_tasks, wrong_verdicts):
        assert verdict.reward == 0.0, (task.id, wrong)
    _same_in_a_batch(env, wrongs, wrong_tasks, wrong_verdicts)


@pytest.mark.slow
def test_mbpp_sanitized_reference_solutions_all_pass(shared_data, local_box):
    env, tasks, verdicts = _reference_results("rlvr/MBPP-v0", sandbox=local_box)
    assert len(tasks) == 427
    assert {k: v.reason for k, v in verdicts.items() if not v.correct} == {}
    _same_in_a_batch(env, [t.solution for t in tasks], tasks, list(verdicts.values()))
    wrongs, wrong_tasks = _perturbed(env, tasks[:100])
    wrong_verdicts = [env.verify(w, t) for w, t in zip(wrongs, wrong_tasks)]
    for wrong, task, verdict in zip(wrongs, wrong_tasks, wrong_verdicts):
        assert verdict.reward == 0.0, (task.id, wrong)
    _same_in_a_batch(env, wrongs, wrong_tasks, wrong_verdicts)


@pytest.mark.slow
def test_mbpp_full_reference_solutions_pass_except_listed(shared_data, local_box):
    env, tasks, verdicts = _reference_results("rlvr/MBPP-v0", subset="full", sandbox=local_box)
    assert len(tasks) == 974
    failed = {k: v.reason for k, v in verdicts.items() if not v.correct}
    assert set(failed) == set(MBPP_FULL_KNOWN_FAILURES), failed


def test_humaneval_episode(shared_data, local_box):
    env = gym.make("rlvr/HumanEval-v0", sandbox=local_box)
    obs, info = env.reset(options={"task_id": "HumanEval/0"})
    assert "def has_close_elements" in obs and "```python" in obs
    task = env.unwrapped.task
    _, reward, terminated, _, info = env.step(task.solution)
    assert reward == 1.0 and terminated and info["verdict"]["status"] == "correct"
    env.reset(options={"task_id": "HumanEval/0"})
    body = "    return False\n"  # completion style: the prompt is prepended
    _, reward, _, _, info = env.step(body)
    assert reward == 0.0 and info["verdict"]["status"] == "wrong"


def test_codeio_procedural_references_pass(local_box):
    env = gym.make("rlvr/CodeIO-v0", sandbox=local_box).unwrapped
    families = set()
    for task in env.source.take(25, seed=3):
        families.add(task.metadata["family"])
        assert env.verify(task.solution, task).correct, task
        for wrong in env.perturb(task, np.random.default_rng(0)):
            assert env.verify(wrong, task).reward == 0.0
    assert len(families) >= 4


def test_codeio_from_jsonl(tmp_path, local_box):
    path = tmp_path / "tasks.jsonl"
    path.write_text(
        '{"id": "double", "prompt": "Print twice the integer read.", "solution": "print(2*int(input()))", '
        '"tests": [{"stdin": "2\\n", "stdout": "4\\n"}, {"stdin": "-5", "stdout": "-10"}]}\n'
    )
    env = gym.make("rlvr/CodeIO-v0", data_path=path, sandbox=local_box)
    env.reset(options={"task_id": "double"})
    assert env.step(fenced("print(2 * int(input()))"))[1] == 1.0
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x", "tests": [{"input": 1}]}\n')
    with pytest.raises(ValueError, match="stdin"):
        gym.make("rlvr/CodeIO-v0", data_path=bad)


def test_verifier_options_reach_the_code_verifier(tmp_path, local_box):
    path = tmp_path / "tasks.jsonl"
    path.write_text(
        '{"id": "sq", "prompt": "Print the square of the integer read.", "solution": "", '
        '"tests": [{"stdin": "2", "stdout": "4"}, {"stdin": "3", "stdout": "9"}]}\n'
    )
    env = gym.make(
        "rlvr/CodeIO-v0",
        data_path=path,
        sandbox=local_box,
        verifier_options={"reward": "fraction"},
    )
    env.reset(options={"task_id": "sq"})
    assert env.step(fenced("print(4)"))[1] == 0.5  # one of two cases: half the reward


def test_multi_turn_repair(local_box):
    env = gym.make("rlvr/CodeIO-v0", max_turns=3, sandbox=local_box)
    obs, _ = env.reset(seed=0)
    task = env.unwrapped.task
    obs1, reward, terminated, truncated, info = env.step(fenced("print('nope')"))
    assert (reward, terminated, truncated) == (0.0, False, False)
    feedback = obs1[len(obs) + len(fenced("print('nope')")) :]
    assert "did not pass" in feedback and "case 0" in feedback
    obs2, reward, terminated, truncated, _ = env.step(fenced("raise RuntimeError('boom')"))
    assert not terminated and "RuntimeError" in obs2[len(obs1) :]
    _, reward, terminated, truncated, _ = env.step(task.solution)
    assert reward == 1.0 and terminated and not truncated


def test_repair_ends_at_the_turn_limit(local_box):
    env = gym.make("rlvr/CodeIO-v0", max_turns=2, sandbox=local_box, chat=True)
    env.reset(seed=1)
    env.step(fenced("print(0)"))
    _, reward, terminated, truncated, _ = env.step(fenced("print(1)"))
    assert reward == 0.0 and truncated and not terminated


def test_vectorised_verification_runs_in_parallel(shared_data, local_box):
    envs = gym.make_vec(
        "rlvr/HumanEval-v0", num_envs=4, vectorization_mode="vector_entry_point", sandbox=local_box
    )
    try:
        obs, infos = envs.reset(seed=[0, 1, 2, 3])
        solutions = [envs.envs[i].unwrapped.task.solution for i in range(4)]
        _, rewards, terminated, _, infos = envs.step(solutions)
        assert list(rewards) == [1.0] * 4 and terminated.all()
    finally:
        envs.close()
