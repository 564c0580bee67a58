"""RemoteEnv: a Gymnasium client of the server that behaves like the local environment."""

from __future__ import annotations

import signal
import time

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

from rlvr_envs.remote import (
    RemoteConnectionError,
    RemoteEnv,
    RemoteEnvError,
    RemoteResetNeeded,
    RemoteTimeoutError,
    RemoteValidationError,
)
from rlvr_envs.server import ServerConfig

from .conftest import serve_in_thread

ARITH = "rlvr/Arithmetic-v0"


@pytest.fixture(scope="module")
def server_url():
    with serve_in_thread(ServerConfig(env_id=ARITH)) as (url, _):
        yield url


def test_check_env_passes(server_url):
    env = RemoteEnv(server_url)
    check_env(env, skip_render_check=True)
    env.close()


def test_episodes_equal_the_local_ones(server_url):
    local, remote = gym.make(ARITH), RemoteEnv(server_url)
    for seed in (0, 1, 2):
        assert remote.reset(seed=seed) == local.reset(seed=seed)
        for completion in ("\\boxed{3}", "no answer here"):
            local.reset(seed=seed)
            remote.reset(seed=seed)
            assert remote.step(completion) == local.step(completion)
    assert remote.state()["env_id"] == ARITH
    remote.close()
    remote.close()  # idempotent


def test_make_vec_of_remote_envs(server_url):
    vector = gym.make_vec("rlvr_envs.remote:rlvr/Remote-v0", num_envs=3, url=server_url)
    local = gym.make_vec(ARITH, num_envs=3)
    observations, _ = vector.reset(seed=11)
    assert list(observations) == list(local.reset(seed=11)[0])
    _, rewards, terminated, truncated, infos = vector.step(["\\boxed{1}"] * 3)
    assert rewards.shape == (3,) and terminated.all() and not truncated.any()
    assert set(infos["verdict"]["status"]) <= {"wrong", "correct"}
    vector.close()
    local.close()


def test_server_errors_become_typed_exceptions(server_url):
    env = RemoteEnv(server_url)
    with pytest.raises(RemoteResetNeeded):
        env.step("too early")
    with pytest.raises(RemoteValidationError, match="colour"):
        env.reset(options={"colour": "red"})
    with pytest.raises(TypeError):
        env.step(42)
    env.reset(seed=0)  # the session survived
    env.close()


def test_bad_urls_and_refused_connections_fail_fast():
    with pytest.raises(ValueError, match="URL"):
        RemoteEnv("ftp://example")
    started = time.monotonic()
    with pytest.raises(RemoteConnectionError, match="cannot reach"):
        RemoteEnv("http://127.0.0.1:9", connect_timeout_s=2)
    assert time.monotonic() - started < 3


def test_a_token_is_required_and_sent():
    with serve_in_thread(ServerConfig(env_id=ARITH, token="tok")) as (url, _):
        with pytest.raises(RemoteEnvError, match="bearer token") as refused:
            RemoteEnv(url, token="")
        assert refused.value.code == "UNAUTHORIZED"
        env = RemoteEnv(url, token="tok")
        assert env.reset(seed=0)[0]
        env.close()


def test_capacity_is_reported(server_url):
    with serve_in_thread(ServerConfig(env_id=ARITH, max_sessions=1)) as (url, _):
        first = RemoteEnv(url)
        second = RemoteEnv(url)
        with pytest.raises(RemoteEnvError) as full:
            second.reset()
        assert full.value.code == "CAPACITY_REACHED"
        first.close()
        second.close()


@pytest.mark.slow  # a server in its own process
def test_a_killed_server_fails_fast_and_reconnects_fail_clearly(server_process):
    server = server_process("--env", ARITH)
    env = RemoteEnv(server.url, timeout_s=30)
    env.reset(seed=0)
    server.proc.kill()
    server.proc.wait()
    started = time.monotonic()
    with pytest.raises(RemoteConnectionError, match="lost"):
        env.step("\\boxed{1}")
    with pytest.raises(RemoteConnectionError, match="cannot connect"):
        env.reset()  # tries to reconnect once
    with pytest.raises(RemoteConnectionError, match="reset"):
        env.step("\\boxed{1}")
    assert time.monotonic() - started < 5


@pytest.mark.slow  # a server in its own process
def test_a_hung_server_times_out(server_process):
    server = server_process("--env", ARITH)
    env = RemoteEnv(server.url, timeout_s=0.5)
    env.reset(seed=0)
    server.signal(signal.SIGSTOP)
    started = time.monotonic()
    with pytest.raises(RemoteTimeoutError, match="did not answer"):
        env.step("\\boxed{1}")
    assert time.monotonic() - started < 2
    server.signal(signal.SIGCONT)
    env.reset(seed=0)  # a new session on the revived server
    env.close()
