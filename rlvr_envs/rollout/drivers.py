"""The two ways episodes are played: on an environment pool (one slot per episode in flight,
generation and verification overlapping) or in waves on a Gymnasium vector environment."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

from ..agent.protocol import Observation
from ..batching import BatchWindow
from .episode import Episode
from .pools import ProcessPool, ThreadPool, timed
from .recorder import Recorder


def run_pool(
    pool: ThreadPool | ProcessPool,
    episodes: list[Episode],
    book: Recorder,
    batch_size: int,
    slots: int,
) -> Iterator[Episode]:
    """Play ``episodes`` with at most ``slots`` in flight; yield each as it ends.

    The agent is called when ``batch_size`` episodes are ready (or nothing else is pending), and
    environment steps run on the pool meanwhile; finished steps are collected without waiting
    whenever there is generation to do.
    """
    flight = Flight(pool, book, slots)
    waiting = deque(episodes)
    while waiting or flight.ready or flight.inflight:
        while waiting and flight.free:
            flight.reset(waiting.popleft())
        generating = bool(flight.ready) and (len(flight.ready) >= batch_size or not flight.inflight)
        if generating:
            yield from flight.generate(batch_size)
        done = [f for f in flight.inflight if f.done()]
        if not done and not generating and flight.inflight:
            done = list(wait(list(flight.inflight), return_when=FIRST_COMPLETED)[0])
        for future in done:
            yield from flight.settle(future)


class Flight:
    """Episodes in flight on a pool: free slots, episodes ready for the agent, pending futures."""

    def __init__(self, pool: ThreadPool | ProcessPool, book: Recorder, slots: int) -> None:
        self.pool, self.book = pool, book
        self.free = deque(range(slots))
        self.ready: deque[tuple[Episode, Observation]] = deque()
        self.inflight: dict[Future, tuple[str, Episode, Observation]] = {}
        self.slot_of: dict[int, int] = {}

    def reset(self, episode: Episode) -> None:
        """Take a slot and start resetting the episode's environment."""
        self.slot_of[episode.index] = slot = self.free.popleft()
        options = {"task_id": episode.task_id} if episode.task_id is not None else None
        self.inflight[self.pool.reset(slot, episode.seed, options)] = ("reset", episode, "")

    def finish(self, episode: Episode) -> Episode:
        """Give the episode's slot back."""
        self.free.append(self.slot_of.pop(episode.index))
        return episode

    def generate(self, batch_size: int) -> Iterator[Episode]:
        """One agent call for up to ``batch_size`` ready episodes; their steps start at once."""
        batch = []
        for _ in range(min(batch_size, len(self.ready))):
            episode, observation = self.ready.popleft()
            if self.book.fits(episode):
                batch.append((episode, observation))
            else:
                yield self.finish(episode)
        if not batch:
            return
        batch.sort(key=lambda item: item[0].index)  # resets finish in any order; sampling must not
        try:
            actions = self.book.generate(batch)
        except Exception:
            # The agent broke off the run: finish what is being verified, so it is not lost.
            for future in list(self.inflight):
                future.exception()
                yield from self.settle(future)
            raise
        window = BatchWindow()  # the batch's code verifications go to the verifier together
        for (episode, observation), action in zip(batch, actions):
            if action is None:  # the agent failed on this input: recorded, nothing to verify
                yield self.finish(episode)
                continue
            slot = self.slot_of[episode.index]
            step = self.pool.step(slot, action, window)
            self.inflight[step] = ("step", episode, observation)

    def settle(self, future: Future) -> Iterator[Episode]:
        """Record a finished reset or step; yield the episode if it is over."""
        kind, episode, previous = self.inflight.pop(future)
        try:
            result, elapsed = future.result()
            if kind == "reset":
                observation, info = result
                self.book.started(episode, observation, info, elapsed)
                self.ready.append((episode, observation))
                return
            over, observation = self.book.stepped(episode, previous, result, elapsed)
        except Exception as exc:
            self.book.failed(episode, exc)
            self.pool.discard(self.slot_of[episode.index])  # its state is unknown now
            over = True
        if over:
            yield self.finish(episode)
        else:
            self.ready.append((episode, observation))


def is_vector_env(env: Any) -> bool:
    try:
        from gymnasium.vector import VectorEnv
    except ImportError:  # pragma: no cover - gymnasium is a dependency
        return False
    return isinstance(env, VectorEnv)


def _item(infos: Mapping[str, Any], key: str, i: int) -> Any:
    """Sub-environment ``i``'s entry of a vector info dict (nested dicts are batched per key)."""
    values = infos.get(key)
    present = infos.get(f"_{key}")
    if values is None or (present is not None and not present[i]):
        return None
    if isinstance(values, Mapping):
        return {k: _item(values, k, i) for k in values if not k.startswith("_")}
    value = values[i]
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", 1) == 0 else value


def run_vector(venv: Any, episodes: list[Episode], book: Recorder) -> Iterator[Episode]:
    """Waves of ``num_envs`` episodes: reset all sub-environments with the episodes' seeds, step
    them together until every episode of the wave is over (finished ones get an empty action,
    whose result is ignored)."""
    import numpy as np
    from gymnasium.vector import AutoresetMode

    n = venv.num_envs
    mode = venv.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    keys = ("task_id", "verdict", "reward_components", "tool_use")
    for start in range(0, len(episodes), n):
        wave = episodes[start : start + n]
        seeds = [e.seed for e in wave] + [None] * (n - len(wave))
        (observations, infos), elapsed = timed(venv.reset, seed=seeds)
        active: dict[int, Observation] = {}
        for i, episode in enumerate(wave):
            info = {k: _item(infos, k, i) for k in infos if not k.startswith("_")}
            book.started(episode, observations[i], info, elapsed / n)
            active[i] = observations[i]
        while active:
            for i in [i for i in active if not book.fits(wave[i])]:
                del active[i]
            if not active:
                break
            batch = [(wave[i], obs) for i, obs in active.items()]
            actions = [""] * n
            for (episode, _), action in zip(batch, book.generate(batch)):
                if action is None:
                    del active[episode.index - start]
                else:
                    actions[episode.index - start] = action
            if mode == AutoresetMode.DISABLED:
                # Finished sub-environments must be reset before the vector env can step again.
                idle = np.array([i not in active for i in range(n)])
                if idle.any():
                    venv.reset(options={"reset_mask": idle})
            result, elapsed = timed(venv.step, actions)
            observations, rewards, terminated, truncated, infos = result
            for episode, previous in batch:
                i = episode.index - start
                if i not in active:
                    continue
                info = {k: _item(infos, k, i) for k in keys}
                step = (observations[i], rewards[i], bool(terminated[i]), bool(truncated[i]), info)
                try:
                    over, observation = book.stepped(
                        episode, previous, step, elapsed / max(1, len(batch))
                    )
                except Exception as exc:
                    book.failed(episode, exc)
                    over = True
                if over:
                    del active[i]
                else:
                    active[i] = observation
        yield from wave
