"""Vector steps and rollout batches hand their verifications to a batch verifier in one call."""

from __future__ import annotations

import threading
import time

import gymnasium as gym
import pytest

from rlvr_envs import DatasetSource, Status, TextEnv, Verdict
from rlvr_envs.agent import CallableAgent
from rlvr_envs.batching import BatchWindow
from rlvr_envs.rollout import collect_rollouts
from rlvr_envs.vector import ThreadedVectorEnv

from .helpers import echo_tasks


class BatchExact:
    """Whole-text match that can verify many completions at once, and counts its calls."""

    def __init__(self, key: str = "exact", log: list | None = None) -> None:
        self.key = key
        self.log = log if log is not None else []

    def __call__(self, completion, task):
        self.log.append(("one", 1))
        return self._judge(completion, task)

    def batch_key(self):
        return (BatchExact, self.key)

    def verify_batch(self, completions, tasks):
        if any(c == "boom" for c in completions):
            raise RuntimeError("batch verifier failed")
        self.log.append((self.key, len(completions)))
        return [self._judge(c, t) for c, t in zip(completions, tasks)]

    @staticmethod
    def _judge(completion, task):
        if completion == "boom":
            raise RuntimeError("this completion breaks the verifier")
        return Verdict.make(Status.CORRECT if completion == task.answer else Status.WRONG)


def _env(log: list, key: str = "exact") -> TextEnv:
    return TextEnv(DatasetSource(echo_tasks(), name="echo"), BatchExact(key, log))


def test_a_vector_step_verifies_in_one_batch() -> None:
    log: list = []
    envs = ThreadedVectorEnv([lambda: _env(log) for _ in range(6)])
    try:
        envs.reset(seed=list(range(6)))
        answers = [env.unwrapped.task.answer for env in envs.envs]
        answers[2] = "wrong"
        _, rewards, terminated, _, infos = envs.step(answers)
        assert list(rewards) == [1, 1, 0, 1, 1, 1] and terminated.all()
        assert log == [("exact", 6)]
    finally:
        envs.close()


def test_steps_that_verify_nothing_or_otherwise_do_not_hold_the_batch() -> None:
    log: list = []
    window = BatchWindow()
    tasks = echo_tasks(4)
    other = TextEnv(DatasetSource(tasks, name="echo"), "exact")  # not batchable: called directly

    def step(k: int):
        if k == 0:
            return None  # a step that verifies nothing (an autoreset, an invalid action)
        if k == 1:
            return other.verify(tasks[1].answer, tasks[1])
        time.sleep(0.01 * k)
        return _env(log).verify(tasks[k].answer, tasks[k])

    results: list = [None] * 4
    threads = [
        threading.Thread(target=lambda k=k: results.__setitem__(k, window.run(step, k)))
        for k in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results[0] is None and all(r.correct for r in results[1:])
    assert log == [("exact", 2)] and window.batches == [2]


def test_a_failing_batch_falls_back_to_one_by_one() -> None:
    log: list = []
    envs = ThreadedVectorEnv([lambda: _env(log) for _ in range(3)])
    try:
        envs.reset(seed=[0, 1, 2])
        answers = [env.unwrapped.task.answer for env in envs.envs]
        answers[1] = "boom"
        _, rewards, _, _, infos = envs.step(answers)
        assert list(rewards) == [1, 0, 1]
        assert infos["verdict"]["status"][1] == "error"  # that completion alone
        assert [kind for kind, _ in log] == ["one", "one", "one"]
    finally:
        envs.close()


def test_verifiers_of_different_kinds_get_their_own_batches() -> None:
    log: list = []
    makers = [lambda: _env(log, "a"), lambda: _env(log, "b")] * 2
    envs = ThreadedVectorEnv(makers)
    try:
        envs.reset(seed=[0, 1, 2, 3])
        envs.step([env.unwrapped.task.answer for env in envs.envs])
        assert sorted(log) == [("a", 2), ("b", 2)]
    finally:
        envs.close()


def test_rollout_batches_verify_together() -> None:
    log: list = []
    tasks = {t.prompt: t.answer for t in echo_tasks()}
    batch = collect_rollouts(
        CallableAgent(lambda observation: tasks[observation]),
        lambda: _env(log),
        num_tasks=3,
        group_size=2,
        workers=6,
    )
    assert batch.rewards == [1.0] * 6
    assert sum(n for _, n in log) == 6 and max(n for _, n in log) > 1, log
    log.clear()  # fewer threads than steps: batches of what runs at once, nothing waits forever
    batch = collect_rollouts(
        CallableAgent(lambda observation: tasks[observation]),
        lambda: _env(log),
        num_tasks=4,
        group_size=2,
        workers=2,
    )
    assert batch.rewards == [1.0] * 8 and sum(n for _, n in log) == 8, log


@pytest.mark.usefixtures("shared_data")
def test_code_environments_step_through_verify_batch(monkeypatch) -> None:
    sandbox = pytest.importorskip("sandbox")
    if sandbox.available_backends().get("local"):
        pytest.skip("local sandbox unavailable")
    from rlvr_envs.verifiers.code import CodeVerifier

    calls = []
    batch = CodeVerifier.verify_batch

    def counting(self, completions, tasks):
        calls.append(len(completions))
        return batch(self, completions, tasks)

    monkeypatch.setattr(CodeVerifier, "verify_batch", counting)
    box = sandbox.get_sandbox("local")
    envs = gym.make_vec("rlvr/HumanEval-v0", num_envs=4, sandbox=box)
    try:
        envs.reset(seed=[0, 1, 2, 3])
        solutions = [env.unwrapped.task.solution for env in envs.envs]
        _, rewards, _, _, infos = envs.step(solutions)
        assert list(rewards) == [1.0] * 4 and calls == [4]
        assert all(infos["verdict"]["details"]["timings"]["sandbox_s"] > 0)
    finally:
        envs.close()
