"""Hostile code through the python tool, on every backend: each episode's session contains it,
and a parallel episode neither sees its state nor suffers from it."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

import rlvr_envs  # noqa: F401
import sandbox
from sandbox import Limits
from sandbox.session import close_shared_pools

BACKENDS = [
    pytest.param("local", id="local"),
    pytest.param("bwrap", id="bwrap", marks=pytest.mark.bwrap),
    pytest.param("docker", id="docker", marks=pytest.mark.docker),
]
LIMITS = Limits(wall_time_s=1.0, cpu_time_s=8.0, memory_mb=256, max_processes=32)

FORK_BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
MEMORY_BOMB = "blocks = []\nwhile True:\n    blocks.append(bytearray(32 << 20))"
SPIN = "while True:\n    pass"
SNOOP = (
    "import glob, os\n"
    "hits = [p for p in glob.glob('/tmp/**', recursive=True) if 'episode-a' in p]\n"
    "for pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
    "    try:\n"
    "        if b'episode-a' in open(f'/proc/{pid}/environ', 'rb').read():\n"
    "            hits.append(pid)\n"
    "    except OSError:\n"
    "        pass\n"
    "print('found', hits, 'secret' in globals())"
)


def call(code: str) -> str:
    return f"<tool_call>{json.dumps({'name': 'python', 'arguments': {'code': code}})}</tool_call>"


@pytest.fixture(params=BACKENDS)
def envs(request):
    backend = request.param
    why = sandbox.available_backends()[backend]
    if why:
        pytest.skip(f"{backend} unavailable: {why}")
    pair = [
        gym.make("rlvr/Arithmetic-Python-v1", sandbox=backend, session_limits=LIMITS)
        for _ in range(2)
    ]
    for env in pair:
        env.reset(seed=0)
    yield pair
    for env in pair:
        env.close()
    close_shared_pools()


def last_response(obs: str) -> str:
    return obs.rsplit("<tool_response>\n", 1)[1].rsplit("\n</tool_response>", 1)[0]


def test_hostile_code_is_contained_per_episode(envs) -> None:
    a, b = envs
    a.step(call("secret = 'episode-a'\nopen('/tmp/episode-a.txt', 'w').write(secret)"))
    obs, *_ = b.step(call("mine = 1\n" + SNOOP))
    assert last_response(obs) == "found [] False"
    for bomb in (FORK_BOMB, SPIN):
        obs, _, terminated, _, info = a.step(call(bomb))
        assert "session restarted" in last_response(obs), last_response(obs)
        assert not terminated and info["tool_calls"][0]["kind"] == "ok"
    obs, *_ = a.step(call(MEMORY_BOMB))
    # Usually a MemoryError; on a loaded machine, reclaim near the memory limit can be slow
    # enough for the call's wall time to stop it first. Contained either way.
    stopped = ("MemoryError", "out of memory", "over the wall time limit")
    assert any(s in last_response(obs) for s in stopped), last_response(obs)
    obs, *_ = b.step(call("print(mine + 1)"))  # b's state went through it all untouched
    assert last_response(obs) == "2"
