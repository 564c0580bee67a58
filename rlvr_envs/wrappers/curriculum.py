"""An adaptive curriculum over one difficulty parameter of an environment.

GRPO learns nothing from a group of samples that all succeed or all fail, so the curriculum keeps
each episode's expected success inside a target band: it tracks the success rate of the recent
episodes at each difficulty value, moves to the next value when the current one is too easy and
back when it is too hard, and mixes in some easier values so that they are not forgotten.

Statistics live in a :class:`CurriculumStats` that several environments can share: by default
every :class:`Curriculum` built with the same arguments in one process shares one (so the
sub-environments of ``gymnasium.make_vec`` in its default threaded or ``"sync"`` mode, or the
environment pool of a trainer, learn together); ``stats="name"`` shares by name and a
:class:`CurriculumStats` object is used as given. ``"async"`` sub-environments live in other
processes and keep their own statistics.

The same seed gives the same difficulty while the statistics do not move, and a seed that was
used recently keeps its difficulty even after they move, so the G episodes of a GRPO group reset
with one seed always share one task.

Only episodes the curriculum drew count: a task named or injected through ``reset(options=...)``
runs at the current value but its outcome is not recorded (``info["difficulty_counted"]`` is
False), and neither is an infrastructure fault (an ``error`` or ``sandbox_error`` verdict), which
is the grader's failure rather than the policy's.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from ..verdict import INFRASTRUCTURE_STATUSES

_SEED_MEMORY = 4096  # recent seeds whose difficulty is kept
_INFRASTRUCTURE = frozenset(str(status) for status in INFRASTRUCTURE_STATUSES)


class CurriculumStats:
    """Per-value success windows and the current value; thread-safe, shareable, serialisable."""

    def __init__(
        self,
        values: Sequence[Any],
        *,
        target: tuple[float, float] = (0.2, 0.8),
        window: int = 64,
        min_episodes: int | None = None,
        easier_mix: float = 0.1,
        start: int = 0,
    ) -> None:
        values = list(values)
        if not values:
            raise ValueError("values must list at least one difficulty value")
        low, high = target
        if not 0.0 <= low < high <= 1.0:
            raise ValueError(f"target must be (low, high) with 0 <= low < high <= 1, got {target}")
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        min_episodes = max(1, window // 2) if min_episodes is None else min_episodes
        if not 1 <= min_episodes <= window:
            raise ValueError(f"min_episodes must be 1..window, got {min_episodes}")
        if not 0.0 <= easier_mix < 1.0:
            raise ValueError(f"easier_mix must be in [0, 1), got {easier_mix}")
        if not 0 <= start < len(values):
            raise ValueError(f"start must index values (0..{len(values) - 1}), got {start}")
        self.values = values
        self.target = (float(low), float(high))
        self.window = window
        self.min_episodes = min_episodes
        self.easier_mix = easier_mix
        self._lock = threading.Lock()
        self._current = start
        self._since_move = 0
        self._outcomes = [deque(maxlen=window) for _ in values]
        self._episodes = [0] * len(values)
        self._successes = [0] * len(values)
        self._seeds: OrderedDict[int, int] = OrderedDict()

    def settings(self) -> dict[str, Any]:
        """The arguments that define this curriculum (environments sharing it must agree)."""
        return {
            "values": self.values,
            "target": self.target,
            "window": self.window,
            "min_episodes": self.min_episodes,
            "easier_mix": self.easier_mix,
        }

    @property
    def current(self) -> int:
        """The index of the current difficulty value."""
        return self._current

    def choose(self, rng: np.random.Generator, seed: int | None) -> tuple[int, bool]:
        """The value index for the next episode, and whether it is an easier (review) value."""
        # Always the same draws, so that a seeded reset stays deterministic.
        review_draw, pick = float(rng.random()), int(rng.integers(1 << 30))
        with self._lock:
            if seed is not None and seed in self._seeds:
                self._seeds.move_to_end(seed)
                index = self._seeds[seed]
                return index, index < self._current
            index = self._current
            if index > 0 and review_draw < self.easier_mix:
                index = pick % index
            if seed is not None:
                self._seeds[seed] = index
                if len(self._seeds) > _SEED_MEMORY:
                    self._seeds.popitem(last=False)
            return index, index < self._current

    def record(self, index: int, success: bool) -> None:
        """Add an episode's outcome at value ``index``; move when the current value calls for it."""
        with self._lock:
            self._outcomes[index].append(bool(success))
            self._episodes[index] += 1
            self._successes[index] += bool(success)
            if index != self._current:
                return
            self._since_move += 1
            recent = self._outcomes[index]
            if self._since_move < self.min_episodes or len(recent) < self.min_episodes:
                return
            rate = sum(recent) / len(recent)
            if rate > self.target[1] and index + 1 < len(self.values):
                self._current, self._since_move = index + 1, 0
            elif rate < self.target[0] and index > 0:
                self._current, self._since_move = index - 1, 0

    def summary(self) -> dict[str, Any]:
        """The current value and each value's recent success rate and episode count."""
        with self._lock:
            rates = {
                str(v): (sum(o) / len(o) if o else None)
                for v, o in zip(self.values, self._outcomes)
            }
            return {
                "difficulty": self.values[self._current],
                "recent_success": rates,
                "episodes": {str(v): n for v, n in zip(self.values, self._episodes)},
            }

    def state_dict(self) -> dict[str, Any]:
        """Plain data (JSON-serialisable when the values are) to resume from."""
        with self._lock:
            return {
                "settings": {**self.settings(), "target": list(self.target)},
                "current": self._current,
                "since_move": self._since_move,
                "outcomes": [list(o) for o in self._outcomes],
                "episodes": list(self._episodes),
                "successes": list(self._successes),
            }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (for the same values)."""
        if list(state["settings"]["values"]) != self.values:
            raise ValueError(
                f"the saved curriculum is over {state['settings']['values']}, this one over "
                f"{self.values}"
            )
        count = len(self.values)
        if not 0 <= int(state["current"]) < count or int(state["since_move"]) < 0:
            raise ValueError(
                f"the saved position (current={state['current']}, since_move="
                f"{state['since_move']}) does not fit {count} values"
            )
        for key in ("outcomes", "episodes", "successes"):
            if len(state[key]) != count:
                raise ValueError(f"the saved {key!r} has {len(state[key])} entries, not {count}")
        with self._lock:
            self._current = int(state["current"])
            self._since_move = int(state["since_move"])
            self._outcomes = [deque(map(bool, o), maxlen=self.window) for o in state["outcomes"]]
            self._episodes = [int(n) for n in state["episodes"]]
            self._successes = [int(n) for n in state["successes"]]
            self._seeds.clear()


_SHARED: dict[str, CurriculumStats] = {}
_SHARED_LOCK = threading.Lock()


def shared_stats(key: str, make: Any) -> CurriculumStats:
    """The process-wide statistics named ``key``, made by ``make()`` the first time."""
    with _SHARED_LOCK:
        stats = _SHARED.get(key)
        if stats is None:
            stats = _SHARED[key] = make()
        return stats


class Curriculum(gym.Env):
    """Episodes of ``env_id`` whose ``param`` follows the policy's success (see the module)."""

    metadata = {"render_modes": ["ansi"]}

    def __init__(
        self,
        env_id: str,
        param: str = "level",
        values: Sequence[Any] = (1, 2, 3, 4, 5),
        target: tuple[float, float] = (0.2, 0.8),
        window: int = 64,
        *,
        easier_mix: float = 0.1,
        min_episodes: int | None = None,
        start: int = 0,
        stats: CurriculumStats | str | None = None,
        success_reward: float = 1.0,
        **env_kwargs: Any,
    ) -> None:
        settings = dict(target=tuple(target), window=window, min_episodes=min_episodes)
        settings.update(easier_mix=easier_mix, start=start)

        def make() -> CurriculumStats:
            return CurriculumStats(values, **settings)

        if stats is None:  # shared by every curriculum made with the same arguments
            key = repr((env_id, param, list(values), sorted(settings.items()), env_kwargs))
            stats = shared_stats("config:" + key, make)
        elif isinstance(stats, str):
            stats = shared_stats("name:" + stats, make)
        if not isinstance(stats, CurriculumStats):
            raise TypeError(f"stats must be a CurriculumStats, a name or None, got {stats!r}")
        if stats.values != list(values):
            raise ValueError(f"the shared statistics are over {stats.values}, not {list(values)}")
        if param in env_kwargs:
            raise ValueError(f"{param!r} is chosen by the curriculum; do not pass it")
        self.env_id, self.param, self.env_kwargs = env_id, param, env_kwargs
        self.stats = stats
        self.success_reward = success_reward
        self._envs: dict[int, gym.Env] = {}
        first = self._env(stats.current)
        self.observation_space = first.observation_space
        self.action_space = first.action_space
        self.render_mode = env_kwargs.get("render_mode")
        self._active: int | None = None
        self._counted = False

    def _env(self, index: int) -> gym.Env:
        if index not in self._envs:
            value = self.stats.values[index]
            self._envs[index] = gym.make(self.env_id, **{self.param: value}, **self.env_kwargs)
        return self._envs[index]

    @property
    def difficulty(self) -> Any:
        """The current difficulty value (what most episodes get)."""
        return self.stats.values[self.stats.current]

    @property
    def task(self) -> Any:
        """The current episode's task (None before the first reset)."""
        if self._active is None:
            return None
        return getattr(self._envs[self._active].unwrapped, "task", None)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Choose a difficulty (``info["difficulty"]``), then reset that environment."""
        super().reset(seed=seed)
        index, review = self.stats.choose(self.np_random, seed)
        inner_seed = int(self.np_random.integers(2**63 - 1))
        observation, info = self._env(index).reset(seed=inner_seed, options=options)
        self._active = index
        # A task named or injected through options was not drawn at this difficulty: its outcome
        # says nothing about the level (and would let the caller push the level anywhere).
        self._counted = not (options and ("task" in options or "task_id" in options))
        info = dict(info, difficulty=self.stats.values[index], difficulty_review=review)
        info["difficulty_counted"] = self._counted
        return observation, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the episode's environment; a finished episode's outcome updates the statistics."""
        if self._active is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        observation, reward, terminated, truncated, info = self._envs[self._active].step(action)
        info = dict(info, difficulty=self.stats.values[self._active])
        verdict = info.get("verdict")
        # An infrastructure fault is dropped from training, not the policy's failure.
        faulted = bool(verdict) and verdict["status"] in _INFRASTRUCTURE
        if (terminated or truncated) and self._counted and not faulted:
            success = verdict["correct"] if verdict else float(reward) >= self.success_reward
            self.stats.record(self._active, bool(success))
        return observation, reward, terminated, truncated, info

    def render(self) -> str | None:
        """The active environment's rendering."""
        if self._active is None:
            return None
        return self._envs[self._active].render()

    def close(self) -> None:
        """Close every environment made so far."""
        for env in self._envs.values():
            env.close()
        self._envs.clear()

    def state_dict(self) -> dict[str, Any]:
        """The statistics, to save with a training checkpoint."""
        return self.stats.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore statistics saved by :meth:`state_dict`."""
        self.stats.load_state_dict(state)


def make_curriculum(
    env_id: str = "rlvr/Arithmetic-v1",
    param: str = "level",
    values: Sequence[Any] | None = None,
    **kwargs: Any,
) -> Curriculum:
    """The entry point of ``rlvr/Curriculum-v0``: ``values`` default to 1..5 for ``level``."""
    if values is None:
        if param != "level":
            raise ValueError(f"give the values of {param!r} to move through")
        values = (1, 2, 3, 4, 5)
    return Curriculum(env_id, param, values, **kwargs)
