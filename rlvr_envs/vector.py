"""A vector environment that steps its sub-environments in threads.

Verification waits: on a sandbox running code, on a process pool. Gymnasium's ``SyncVectorEnv``
steps sub-environments one after another, so a batch of code completions is verified serially;
``AsyncVectorEnv`` runs one process per environment, each with its own sandbox pool. Stepping in
threads verifies a batch in parallel on one shared sandbox pool, and verifiers that can verify
many completions at once (the code verifier) get the whole step's completions in one call
(:mod:`rlvr_envs.batching`). It is the default of
``gymnasium.make_vec(id, n)`` for rlvr-envs environments (``vectorization_mode`` unset or
``"vector_entry_point"``); ``"sync"`` and ``"async"`` work as usual.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.vector.utils import concatenate, iterate

from .batching import BatchWindow


class ThreadedVectorEnv(SyncVectorEnv):
    """``SyncVectorEnv`` whose ``step`` runs the sub-environments' steps concurrently."""

    def __init__(
        self,
        env_fns: Sequence[Callable[[], gym.Env]],
        *,
        max_workers: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(env_fns, **kwargs)
        if self.autoreset_mode is AutoresetMode.SAME_STEP:
            raise ValueError(
                "ThreadedVectorEnv supports the next-step and disabled autoreset modes"
            )
        self._threads = max_workers or len(self.envs)
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="rlvr-env")

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step (or, after an episode ended, reset) every sub-environment at once."""
        actions = list(iterate(self.action_space, actions))

        def one(i: int) -> tuple[Any, float, bool, bool, dict[str, Any]]:
            if self.autoreset_mode is AutoresetMode.NEXT_STEP and self._autoreset_envs[i]:
                obs, info = self.envs[i].reset()
                return obs, 0.0, False, False, info
            return self.envs[i].step(actions[i])

        # Code verifications of all the steps go to the verifier as one batch (see batching);
        # with a thread per sub-environment every step runs at once, so none needs waiting for.
        n = len(self.envs)
        window = BatchWindow(parties=n if self._threads >= n else None)
        results = list(self._pool.map(lambda i: window.run(one, i), range(n)))
        infos: dict[str, Any] = {}
        for i, (obs, reward, terminated, truncated, info) in enumerate(results):
            self._env_obs[i] = obs
            self._rewards[i] = reward
            self._terminations[i] = terminated
            self._truncations[i] = truncated
            infos = self._add_info(infos, info, i)
        self._observations = concatenate(
            self.single_observation_space, self._env_obs, self._observations
        )
        self._autoreset_envs = np.logical_or(self._terminations, self._truncations)
        return (
            deepcopy(self._observations) if self.copy else self._observations,
            np.copy(self._rewards),
            np.copy(self._terminations),
            np.copy(self._truncations),
            infos,
        )

    def close_extras(self, **kwargs: Any) -> None:
        """Close the sub-environments and the thread pool."""
        self._pool.shutdown(wait=True)
        super().close_extras(**kwargs)


def _make_threaded(env_id: str, /, num_envs: int = 1, **kwargs: Any) -> ThreadedVectorEnv:
    max_workers = kwargs.pop("max_workers", None)
    return ThreadedVectorEnv(
        [functools.partial(gym.make, env_id, **kwargs) for _ in range(num_envs)],
        max_workers=max_workers,
    )


def vector_entry_point(env_id: str) -> Callable[..., ThreadedVectorEnv]:
    """The ``vector_entry_point`` that ``register`` gives every rlvr-envs environment."""
    return functools.partial(_make_threaded, env_id)
