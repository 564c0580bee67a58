"""Verification overlaps generation for real: a round is generated in sub-batches and earlier ones
are verified while later ones generate, which the step log's timings show."""

from __future__ import annotations

import contextlib
import json
import threading
import time

import numpy as np
import pytest

from agents.grpo import GRPOConfig, TaskSplit, train
from agents.grpo.rollouts import collect_groups, generation_batch_size
from rlvr_envs.rollout import RolloutRunner

from . import envs
from .conftest import quick_config

DELAY = 0.02  # seconds per verification, and per generated completion


class SlowAgent:
    """A text agent that takes DELAY seconds per completion and records when it ran."""

    def __init__(self) -> None:
        self.intervals: list[tuple[float, float]] = []
        self.thread = threading.get_ident()

    def act(self, observations, seeds=None, **sampling):
        assert threading.get_ident() == self.thread  # generation stays on the caller's thread
        start = time.perf_counter()
        time.sleep(DELAY * len(observations))
        self.intervals.append((start, time.perf_counter()))
        return [str(i % 3) for i in range(len(observations))]


def _collect(sub_batch: int | None):
    import gymnasium

    config = GRPOConfig(
        env="grpotest/Slow-v0",
        batch_size=32,
        group_size=4,
        generation_batch_size=sub_batch,
        dynamic_sampling=False,
    )
    split = TaskSplit(gymnasium.make("grpotest/Slow-v0"), eval_tasks=0, eval_seed=0)
    agent = SlowAgent()
    envs.VERIFY_INTERVALS.clear()
    with RolloutRunner("grpotest/Slow-v0", env_kwargs={"delay": DELAY}, workers=1) as runner:
        collected = collect_groups(
            runner, agent, split, config, np.random.default_rng(0), contextlib.nullcontext
        )
    return collected, agent.intervals, list(envs.VERIFY_INTERVALS)


def _overlap(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b)


def test_sub_batches_are_verified_while_later_ones_generate():
    collected, generating, verifying = _collect(8)
    timings = collected.timings()
    assert collected.generation_calls == 4 and len(verifying) == 32
    generate, verify = timings["time_generate_s"], timings["time_verify_busy_s"]
    assert generate >= 32 * DELAY and verify >= 32 * DELAY
    # One verifier thread: without overlap the wall time would be generate + verify.
    assert timings["time_collect_s"] < 0.8 * (generate + verify), timings
    assert timings["time_overlap_s"] > 0.2 * verify, timings
    assert _overlap(generating, verifying) > 0.2 * generate  # seen from both sides' clocks


def test_one_call_per_round_cannot_overlap():
    collected, generating, verifying = _collect(32)
    timings = collected.timings()
    assert collected.generation_calls == 1
    assert _overlap(generating, verifying) == 0.0
    assert timings["time_collect_s"] >= 0.95 * (
        timings["time_generate_s"] + timings["time_verify_busy_s"]
    )


def test_one_call_per_round_unless_sub_batches_are_asked_for():
    config = GRPOConfig(batch_size=64, group_size=8)
    assert generation_batch_size(config, 64) == 64
    config.generation_batch_size = 12
    assert generation_batch_size(config, 64) == 12
    assert generation_batch_size(config, 8) == 8


def test_the_step_log_shows_the_overlap(tmp_path, tiny_path):
    config = quick_config(
        tmp_path, tiny_path, env="grpotest/Slow-v0", env_kwargs={"delay": DELAY}, steps=2
    )
    config.eval_tasks, config.env_workers, config.generation_batch_size = 0, 1, 4
    config.dynamic_sampling, config.no_signal_patience = False, 5
    train(config, log=lambda message: None)
    for line in (tmp_path / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        assert record["generation_calls"] == 4  # 16 completions in sub-batches of one group
        assert record["time_verify_busy_s"] >= 16 * DELAY
        # The tiny model generates in a fraction of the verifiers' time, so the overlap it can
        # hide is small; the strict wall < generate + verify proof is the SlowAgent test above.
        serial = sum(
            record[k] for k in ("time_generate_s", "time_verify_busy_s", "time_reset_busy_s")
        )
        assert record["time_collect_s"] < serial
        assert record["time_overlap_s"] == pytest.approx(serial - record["time_collect_s"])
        assert record["time_overlap_s"] > 0
