import threading
import time

import gymnasium as gym
import pytest

from rlvr_envs import DatasetSource, Task, TextEnv, register
from rlvr_envs.vector import ThreadedVectorEnv

from .helpers import echo_env


def test_make_vec_defaults_to_threads_and_matches_sync():
    threaded = gym.make_vec("rlvr/Arithmetic-v1", num_envs=4)
    sync = gym.make_vec("rlvr/Arithmetic-v1", num_envs=4, vectorization_mode="sync")
    try:
        assert isinstance(threaded, ThreadedVectorEnv)
        seeds = [3, 3, 4, 5]
        obs_t, _ = threaded.reset(seed=seeds)
        obs_s, _ = sync.reset(seed=seeds)
        assert obs_t == obs_s
        actions = ["\\boxed{1}", "\\boxed{2}", "", "x" * 10]
        step_t, step_s = threaded.step(actions), sync.step(actions)
        assert step_t[0] == step_s[0] and (step_t[1] == step_s[1]).all()
        assert list(step_t[4]["verdict"]["status"]) == list(step_s[4]["verdict"]["status"])
        # Next-step autoreset: the following step resets the finished sub-environments.
        obs_t2, rewards, terminated, truncated, _ = threaded.step(actions)
        assert not terminated.any() and (rewards == 0).all()
    finally:
        threaded.close()
        sync.close()


def test_steps_really_run_concurrently():
    active, peak, lock = [0], [0], threading.Lock()

    def slow_verifier(completion, task):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.2)
        with lock:
            active[0] -= 1
        return True

    register(
        "testorg/Slow-v0",
        lambda: TextEnv(DatasetSource([Task("t", "p")]), slow_verifier),
        description="slow",
        tasks="1",
    )
    envs = gym.make_vec("testorg/Slow-v0", num_envs=4)
    try:
        envs.reset(seed=0)
        start = time.perf_counter()
        envs.step(["a"] * 4)
        assert time.perf_counter() - start < 0.6 and peak[0] == 4
    finally:
        envs.close()


def test_same_step_autoreset_is_refused():
    with pytest.raises(ValueError, match="autoreset"):
        ThreadedVectorEnv([echo_env], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
