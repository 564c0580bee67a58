"""Where a rollout's environments live: on a thread pool in this process, or in worker processes.

Each in-flight episode holds one environment slot from its reset to its end, so a multi-turn
episode keeps its state and every episode is reset exactly once. ``reset`` and ``step`` return
futures of ``(result, seconds)``. The pools only see Gymnasium's ``reset`` / ``step``, so a local
environment and a client of a remote one are driven alike.
"""

from __future__ import annotations

import functools
import multiprocessing
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..batching import BatchWindow


class RolloutError(RuntimeError):
    """A rollout cannot go on: an environment failed (with ``on_error="raise"``) or an agent
    broke the protocol."""


def env_factory(env: Any, env_kwargs: Mapping[str, Any]) -> Callable[[], Any]:
    """A picklable maker of fresh environments from an environment id or a factory."""
    if isinstance(env, str):
        return MakeEnv(env, dict(env_kwargs))
    if callable(env) and not hasattr(env, "step"):
        return functools.partial(env, **env_kwargs)
    raise TypeError(
        "env must be an environment id, a factory returning a fresh environment, or a Gymnasium "
        f"vector environment; got {type(env).__name__} (one Env instance cannot run a group at once)"
    )


class MakeEnv:
    """A picklable ``gymnasium.make(env_id, **kwargs)``."""

    def __init__(self, env_id: str, kwargs: dict[str, Any]) -> None:
        self.env_id, self.kwargs = env_id, kwargs

    def __call__(self) -> Any:
        import gymnasium

        import rlvr_envs  # noqa: F401  (registers the rlvr/ environments)

        return gymnasium.make(self.env_id, **self.kwargs)


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``fn(*args, **kwargs)`` and the seconds it took."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def _close_quietly(env: Any) -> None:
    try:
        env.close()
    except Exception:  # closing a broken environment is best effort
        pass


class ThreadPool:
    """Environments in this process, reset and stepped on a thread pool, one per episode slot."""

    def __init__(self, make_env: Callable[[], Any], workers: int) -> None:
        self.make_env = make_env
        self.envs: dict[int, Any] = {}
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="rollout-env")
        self.lock = threading.Lock()

    def _env(self, slot: int) -> Any:
        with self.lock:
            env = self.envs.get(slot)
        if env is None:
            env = self.make_env()
            with self.lock:
                self.envs[slot] = env
        return env

    def reset(self, slot: int, seed: int | None, options: dict[str, Any] | None) -> Future:
        """Start an episode in ``slot``."""
        return self.executor.submit(
            lambda: timed(self._env(slot).reset, seed=seed, options=options)
        )

    def step(self, slot: int, action: str, window: BatchWindow | None = None) -> Future:
        """Step the episode in ``slot`` (inside ``window``: its verification batched with the
        window's other steps)."""
        if window is None:
            return self.executor.submit(lambda: timed(self.envs[slot].step, action))
        return self.executor.submit(lambda: timed(window.run, self.envs[slot].step, action))

    def discard(self, slot: int) -> None:
        """Drop the slot's environment (its state is unknown after a failure); a fresh one follows."""
        with self.lock:
            env = self.envs.pop(slot, None)
        if env is not None:
            _close_quietly(env)

    def close(self) -> None:
        """Wait for running calls, then close every environment."""
        self.executor.shutdown(wait=True)
        for env in self.envs.values():
            _close_quietly(env)
        self.envs.clear()


def _env_worker(conn: Any, make_env: Callable[[], Any]) -> None:
    envs: dict[int, Any] = {}
    while True:
        message = conn.recv()
        if message is None:
            break
        op, slot, payload = message
        try:
            if op == "discard":
                env = envs.pop(slot, None)
                if env is not None:
                    _close_quietly(env)
                continue
            if op == "reset":
                if slot not in envs:
                    envs[slot] = make_env()
                result = timed(envs[slot].reset, **payload)
            else:
                result = timed(envs[slot].step, payload)
            conn.send(("ok", result))
        except Exception as exc:  # sent back and raised in the parent
            conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
    for env in envs.values():
        _close_quietly(env)
    conn.close()


class ProcessPool:
    """Environments in worker processes (spawned, so no torch state is forked); slot k lives in
    worker ``k % workers``, so an episode always returns to its own environment."""

    def __init__(self, make_env: Callable[[], Any], workers: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.conns, self.procs, self.locks = [], [], []
        for _ in range(workers):
            parent, child = context.Pipe()
            proc = context.Process(target=_env_worker, args=(child, make_env), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)
            self.locks.append(threading.Lock())
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="rollout-proc")

    def _call(self, slot: int, op: str, payload: Any) -> Any:
        worker = slot % len(self.conns)
        with self.locks[worker]:
            self.conns[worker].send((op, slot, payload))
            try:
                status, result = self.conns[worker].recv()
            except EOFError as exc:
                raise RolloutError(
                    f"environment worker {worker} died (exit code {self.procs[worker].exitcode})"
                ) from exc
        if status == "error":
            raise RolloutError(f"environment failed in worker {worker}: {result}")
        return result

    def reset(self, slot: int, seed: int | None, options: dict[str, Any] | None) -> Future:
        """Start an episode in ``slot``."""
        return self.executor.submit(self._call, slot, "reset", {"seed": seed, "options": options})

    def step(self, slot: int, action: str, window: BatchWindow | None = None) -> Future:
        """Step the episode in ``slot`` (each worker process verifies its own steps)."""
        return self.executor.submit(self._call, slot, "step", action)

    def discard(self, slot: int) -> None:
        """Drop the slot's environment in its worker (no answer is awaited)."""
        worker = slot % len(self.conns)
        with self.locks[worker]:
            try:
                self.conns[worker].send(("discard", slot, None))
            except OSError:  # the worker is gone; its environments with it
                pass

    def close(self) -> None:
        """Stop the workers (each closes its environments)."""
        self.executor.shutdown(wait=True)
        for conn, proc in zip(self.conns, self.procs):
            try:
                conn.send(None)
            except OSError:
                pass
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
            conn.close()
