"""Interoperability with openenv-core itself: ``openenv validate`` and ``GenericEnvClient``.

Run with ``-s`` to see the validator's report and the load figures.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time

import gymnasium as gym
import pytest

import rlvr_envs  # noqa: F401  (registers the environments)

ARITH = "rlvr/Arithmetic-v0"

# Importing openenv-core takes seconds, so the module imports it only when a test runs, and
# every test here is marked slow (they all run in `pytest -m ""` and CI).
pytestmark = pytest.mark.slow


def generic_client(url: str):
    """openenv-core's GenericEnvClient for ``url``."""
    module = pytest.importorskip("openenv.core.generic_client")
    return module.GenericEnvClient(base_url=url)


def test_openenv_validate_passes(server_process):
    server = server_process("--env", ARITH)
    run = subprocess.run(
        [sys.executable, "-m", "openenv.cli", "validate", "--url", server.url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    print(f"$ openenv validate --url {server.url}\n{run.stdout}{run.stderr}")
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["passed"] is True and report["standard_profile"] == "openenv-http/1.x"
    assert report["summary"]["failed_criteria"] == []


def answers(seeds) -> dict[int, str]:
    """The right completion for each seed's task, from a local environment."""
    env = gym.make(ARITH)
    out = {}
    for seed in seeds:
        env.reset(seed=seed)
        out[seed] = f"\\boxed{{{env.unwrapped.task.answer}}}"
    return out


async def run_session(
    url: str, seed: int, completion: str, episodes: int, latencies: list, ready=None
) -> list[float]:
    """Connect, wait for every session to be connected, then play ``episodes`` episodes."""
    async with generic_client(url) as client:
        await client.reset(seed=seed)
        if ready is not None:
            await ready()
        rewards = []
        for _ in range(episodes):
            result = await client.reset(seed=seed)
            assert result.observation["prompt"] and not result.done
            started = time.perf_counter()
            result = await client.step({"message": completion})
            latencies.append(time.perf_counter() - started)
            assert result.done and result.observation["verdict"]["status"] == "correct"
            rewards.append(result.reward)
        state = await client.state()
        assert state["step_count"] == 1 and state["env_id"] == ARITH
        return rewards


def test_generic_env_client_runs_episodes(server_process):
    server = server_process("--env", ARITH)
    expected = answers([3])
    latencies: list[float] = []
    rewards = asyncio.run(run_session(server.url, 3, expected[3], 3, latencies))
    assert rewards == [1.0, 1.0, 1.0]


def test_256_concurrent_generic_env_client_sessions(server_process):
    sessions, episodes = 256, 8
    server = server_process("--env", ARITH, "--max-sessions", str(sessions))
    expected = answers(range(sessions))
    latencies: list[float] = []
    started = 0.0

    async def main():
        connected = asyncio.Barrier(sessions)

        async def ready():
            nonlocal started
            await connected.wait()  # time the stepping only, with all sessions open
            started = started or time.perf_counter()

        return await asyncio.gather(
            *(
                run_session(server.url, i, expected[i], episodes, latencies, ready)
                for i in range(sessions)
            )
        )

    results = asyncio.run(main())
    elapsed = time.perf_counter() - started
    assert len(results) == sessions and all(r == [1.0] * episodes for r in results)
    latencies.sort()
    p50 = statistics.median(latencies) * 1e3
    p99 = latencies[int(0.99 * len(latencies))] * 1e3
    print(
        f"\n{sessions} concurrent GenericEnvClient sessions, {len(latencies)} steps in "
        f"{elapsed:.1f} s ({len(latencies) / elapsed:.0f} steps/s, each after a reset, no think "
        f"time): step latency p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )


def test_a_killed_server_makes_generic_clients_fail_fast(server_process):
    server = server_process("--env", ARITH)

    async def main():
        clients = [generic_client(server.url) for _ in range(8)]
        for client in clients:
            await client.connect()
            await client.reset(seed=1)
        server.proc.kill()
        server.proc.wait()
        started = time.perf_counter()
        outcomes = await asyncio.gather(
            *(c.step({"message": "\\boxed{1}"}) for c in clients), return_exceptions=True
        )
        return outcomes, time.perf_counter() - started

    outcomes, elapsed = asyncio.run(main())
    assert all(isinstance(o, Exception) for o in outcomes), outcomes
    from websockets.exceptions import ConnectionClosed

    assert all(isinstance(o, (ConnectionClosed, ConnectionError)) for o in outcomes), outcomes
    assert elapsed < 2.0
    print(f"\n8 clients failed in {elapsed * 1e3:.0f} ms with: {outcomes[0]!r}")
