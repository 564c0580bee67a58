"""The collect phase of a GRPO step: G completions per task through the rollout engine, faults
dropped, and (dynamic sampling) groups without a learning signal replaced by fresh tasks."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlvr_envs.rollout import Episode, RolloutRunner

from .config import GRPOConfig
from .logs import pearson
from .split import TaskSplit


@dataclass
class Collected:
    """One step's rollouts: the groups kept for the update and everything that was sampled."""

    kept: list[list[Episode]] = field(default_factory=list)
    sampled: list[Episode] = field(default_factory=list)
    rounds: int = 0
    zero_variance: int = 0
    too_few_valid: int = 0  # groups with under 2 completions left after faults
    heldout_dropped: int = 0  # groups whose prompt turned out to be held out (no task source)
    generate_s: float = 0.0
    collect_s: float = 0.0
    verify_busy_s: float = 0.0  # summed environment step (verification) time
    reset_busy_s: float = 0.0  # summed environment reset time
    generation_calls: int = 0

    @property
    def episodes(self) -> list[Episode]:
        """The kept episodes, group after group."""
        return [e for group in self.kept for e in group]

    def record(self, step: int, group_size: int) -> dict[str, Any]:
        """The rollout half of the step's log line."""
        sampled = self.sampled
        rewards = [e.reward for e in sampled if e.valid]
        lengths = [e.num_generated_tokens for e in sampled if e.valid]
        groups = len(sampled) // group_size
        generated = sum(e.num_generated_tokens for e in sampled)
        return {
            "step": step,
            "reward_mean": float(np.mean(rewards)) if rewards else None,
            "reward_std": float(np.std(rewards)) if rewards else None,
            "zero_variance_fraction": self.zero_variance / max(groups, 1),
            "groups_sampled": groups,
            "groups_kept": len(self.kept),
            "groups_too_few_valid": self.too_few_valid,
            "groups_heldout_dropped": self.heldout_dropped,
            "sampling_rounds": self.rounds,
            "faults": sum(not e.valid for e in sampled),
            "truncated_fraction": sum(e.truncated for e in sampled) / max(len(sampled), 1),
            "length_mean": float(np.mean(lengths)) if lengths else None,
            "length_max": max(lengths, default=None),
            "length_reward_corr": pearson(lengths, rewards),
            "gen_tokens_per_s": generated / self.generate_s if self.generate_s else None,
            "generation_calls": self.generation_calls,
            **reset_stats(sampled),
        }

    def timings(self) -> dict[str, float]:
        """Where the collect phase's wall time went, and how much environment work overlapped.

        ``time_collect_s`` (wall) = ``time_generate_s`` + ``time_env_wait_s`` (wall time not
        generating: waiting for resets and verification, and the engine's own work);
        ``time_verify_busy_s`` and ``time_reset_busy_s`` sum the environment calls;
        ``time_overlap_s`` is how much of that work ran while the agent generated (or beside
        other environment work): with sub-batches ``time_collect_s`` falls below
        ``time_generate_s + time_verify_busy_s``.
        """
        serial = self.generate_s + self.verify_busy_s + self.reset_busy_s
        return {
            "time_collect_s": self.collect_s,
            "time_generate_s": self.generate_s,
            "time_env_wait_s": max(self.collect_s - self.generate_s, 0.0),
            "time_verify_busy_s": self.verify_busy_s,
            "time_reset_busy_s": self.reset_busy_s,
            "time_overlap_s": max(serial - self.collect_s, 0.0),
        }


def reset_stats(episodes: Sequence[Episode]) -> dict[str, Any]:
    """Figures about the tasks sampled, from what environments report at reset.

    ``info["difficulty"]`` (a curriculum's current level, a number) gives ``difficulty_mean`` /
    ``_min`` / ``_max``, ``difficulty_counts`` (episodes per difficulty value) and
    ``difficulty_reward`` (their mean reward per value; faults left out); add new reset-time
    figures here.
    """
    levels = [
        (e.reset_info["difficulty"], e)
        for e in episodes
        if isinstance(e.reset_info.get("difficulty"), (int, float))
    ]
    if not levels:
        return {}
    counts: dict[str, int] = {}
    rewards: dict[str, list[float]] = {}
    for level, episode in sorted(levels, key=lambda pair: pair[0]):
        counts[str(level)] = counts.get(str(level), 0) + 1
        if episode.valid:
            rewards.setdefault(str(level), []).append(episode.reward)
    values = [level for level, _ in levels]
    return {
        "difficulty_mean": float(np.mean(values)),
        "difficulty_min": float(min(values)),
        "difficulty_max": float(max(values)),
        "difficulty_counts": counts,
        "difficulty_reward": {key: float(np.mean(r)) for key, r in rewards.items()},
    }


def generation_batch_size(config: GRPOConfig, episodes: int) -> int:
    """Completions per agent call: ``config.generation_batch_size``, else the whole round.

    Sub-batches let the environments verify earlier ones while later ones generate, which pays
    when verification is slow (code in a sandbox, a remote grader). It costs generation time:
    more, smaller decoding calls, and one sampling seed per completion to stay reproducible. For
    the default run's sums verification takes 0.03-0.09 s a step and quarter-round sub-batches
    cost about 0.15 s more generation (measured on CPU), so the default is one call per round.
    """
    return min(config.generation_batch_size or episodes, episodes)


def collect_groups(
    runner: RolloutRunner,
    agent: Any,
    split: TaskSplit,
    config: GRPOConfig,
    rng: np.random.Generator,
    autocast: Callable[[], Any],
) -> Collected:
    """Rollouts until ``batch_size / group_size`` groups are kept (or the rounds run out).

    Faults (see :mod:`rlvr_envs.rollout.episode`) are not the answer's fault: those episodes are
    dropped, and a group left with fewer than two is dropped too. With ``dynamic_sampling``,
    groups whose rewards are all equal (no advantage, no gradient) are dropped and new tasks are
    sampled in their place, up to ``max_sampling_rounds`` rounds.
    """
    sampling = {
        "temperature": config.temperature,
        "top_p": config.top_p,
        "max_new_tokens": config.max_new_tokens,
    }
    tasks_per_step = config.batch_size // config.group_size
    max_rounds = config.max_sampling_rounds if config.dynamic_sampling else 1
    out = Collected()
    while len(out.kept) < tasks_per_step and out.rounds < max_rounds:
        need = tasks_per_step - len(out.kept)
        task_ids, reset_seed = split.training(need, rng)
        episodes = need * config.group_size
        sub_batch = generation_batch_size(config, episodes)
        started = time.perf_counter()
        with autocast():
            batch = runner.collect(
                agent,
                num_tasks=need,
                group_size=config.group_size,
                seed=reset_seed,
                task_ids=task_ids,
                sampling={**sampling, "seed": int(rng.integers(2**62))},
                on_error="record",
                generation_batch_size=sub_batch,
                # Which episodes share a sub-batch depends on which resets finish first, so a
                # split round draws one seed per sample to stay reproducible.
                seeding="sample" if sub_batch < episodes else "call",
            )
        out.collect_s += time.perf_counter() - started
        out.generate_s += batch.timings["generate_s"]
        out.verify_busy_s += batch.timings["verify_s"]
        out.reset_busy_s += batch.timings["reset_s"]
        out.generation_calls += int(batch.timings["generation_calls"])
        out.rounds += 1
        groups, dropped = split.drop_heldout(batch.groups())
        out.heldout_dropped += dropped
        for group in groups:
            out.sampled.extend(group)
            valid = [e for e in group if e.valid]
            if len(valid) < 2:
                out.too_few_valid += 1
                continue
            if len({e.reward for e in valid}) == 1:
                out.zero_variance += 1
                if config.dynamic_sampling:
                    continue
            out.kept.append(valid)
    return out


def no_signal_message(steps: int, sampled: Sequence[Episode], config: GRPOConfig) -> str:
    """Why training stopped for lack of a learning signal, with what was sampled."""
    rewards = sorted({e.reward for e in sampled if e.valid})
    faults = sum(not e.valid for e in sampled)
    example = next((e for e in sampled if e.completions), None)
    lines = [
        f"no learning signal for {steps} steps in a row: every group of {config.group_size} "
        f"completions got the same reward (rewards seen in the last step: {rewards or 'none'}).",
    ]
    if faults:
        first = next(e for e in sampled if not e.valid)
        lines.append(
            f"{faults} completions were dropped as verifier/sandbox faults, e.g.: {first.fault}"
        )
    if len(rewards) == 1:
        lines.append(
            f"The environment {config.env!r} gives reward {rewards[0]} to every completion: check "
            "its verifier and answer format, the prompt template, or whether the tasks are far "
            "too hard (or too easy) for this model."
        )
    if example is not None:
        verdict = example.verdicts[-1] if example.verdicts else {}
        lines.append(
            f"A sampled completion: {example.completions[-1][:200]!r} -> "
            f"{verdict.get('status')}: {verdict.get('reason')}"
        )
    return "\n".join(lines)
