"""The ``ray`` backend: Ray actors, each holding a local sandbox pool, run the jobs.

``get_sandbox("ray", num_actors=N, backend="bwrap")`` starts N actors (spread over the cluster's
nodes); each builds ``get_sandbox(backend, workers=...)`` on its node and runs jobs on it. The
driver keeps at most ``max_pending`` jobs in flight per actor (default: twice its pool size) and sends
each job to the least-busy actor, so callers block (backpressure) instead of queueing unbounded
work on the cluster. A job whose actor dies, or does not answer within its wall time plus
``answer_grace_s``, is ``sandbox_error``, and the actor is replaced.

``address`` is passed to ``ray.init`` (None: ``$RAY_ADDRESS`` if set, else a new local Ray,
which ``close()`` shuts down again); an already initialised Ray is used as it is.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

from .base import BackendUnavailable, Job, Sandbox, SandboxError
from .limits import Limits
from .registry import DELEGATING, get_sandbox
from .result import ExecResult

log = logging.getLogger("sandbox")

LOCAL_OBJECT_STORE_BYTES = 256 << 20  # jobs and results are small; a local Ray needs little


class PoolActor:
    """The body of one actor: a local sandbox pool (wrapped with ``ray.remote`` by RaySandbox)."""

    def __init__(self, backend: str, options: Mapping[str, Any]) -> None:
        # Built here (an unavailable backend fails the actor now), started by the first jobs:
        # from the actor's long-lived threads, as bwrap's --die-with-parent requires.
        self.box = get_sandbox(backend, shared=False, **dict(options))

    def run(self, job: Job) -> ExecResult:
        """Run one job on this actor's pool."""
        return self.box.submit(job)

    def info(self) -> dict[str, Any]:
        """Where this actor runs and what it holds (tests, diagnostics)."""
        return {"pid": os.getpid(), "backend": self.box.name, "workers": self.box.workers}


class _Slot:
    __slots__ = ("actor", "in_flight", "generation", "ready")

    def __init__(self, actor: Any) -> None:
        self.actor = actor
        self.in_flight = 0
        self.generation = 0
        self.ready = True  # False while a replacement actor starts its pool


class RaySandbox(Sandbox):
    """Jobs on Ray actors holding local pools (see the module docstring).

    ``workers`` is each actor's pool size; ``actor_options`` go to ``.options()`` of the actor
    class (default: ``num_cpus=workers``, spread over nodes); ``init_options`` to ``ray.init``.
    Other options (``limits``, ``allow_network``, ``disk_mb``, ``image``...) configure the pools.
    """

    name = "ray"

    def __init__(
        self,
        *,
        num_actors: int = 2,
        backend: str = "auto",
        address: str | None = None,
        workers: int = 1,
        max_pending: int | None = None,
        actor_options: Mapping[str, Any] | None = None,
        init_options: Mapping[str, Any] | None = None,
        start_timeout_s: float = 120.0,
        answer_grace_s: float = 30.0,
        limits: Limits | None = None,
        allow_network: bool = False,
        **pool_options: Any,
    ) -> None:
        reason = self.unavailable_reason()
        if reason:
            raise BackendUnavailable(f"ray sandbox unavailable: {reason}")
        if not isinstance(num_actors, int) or num_actors < 1:
            raise ValueError(f"num_actors must be a positive int, not {num_actors!r}")
        if backend in ("ray", "remote"):
            raise ValueError(f"a Ray actor's pool must be a local backend, not {backend!r}")
        import ray

        self._ray = ray
        self._started_ray = False
        if not ray.is_initialized():
            options = {"include_dashboard": False, "log_to_driver": False, **(init_options or {})}
            if address is None and not os.environ.get("RAY_ADDRESS"):
                options.setdefault("object_store_memory", LOCAL_OBJECT_STORE_BYTES)
            ray.init(address=address, **options)
            self._started_ray = True
        self.backend = backend
        self.default_limits = limits or Limits()
        self.allow_network = bool(allow_network)
        self.answer_grace_s = answer_grace_s
        # One job waiting inside each actor per pool worker hides the round trip to the driver.
        self.max_pending = max_pending or 2 * workers
        self.workers = num_actors * workers
        pool = {
            "workers": workers,
            "limits": limits,
            "allow_network": allow_network,
            **pool_options,
        }
        self._pool_options = {k: v for k, v in pool.items() if v is not None}
        actor = {"num_cpus": workers, "scheduling_strategy": "SPREAD", **(actor_options or {})}
        self._actor_class = ray.remote(PoolActor).options(
            max_concurrency=self.max_pending + 1, max_restarts=0, **actor
        )
        self._cond = threading.Condition()
        self._closed = False
        self._slots = [_Slot(self._new_actor()) for _ in range(num_actors)]
        self._wait_ready(start_timeout_s)

    @classmethod
    def unavailable_reason(cls, **options: Any) -> str | None:
        """Needs the ``ray`` package."""
        try:
            import ray  # noqa: F401
        except ImportError:
            return "needs Ray (pip install 'rlvr-envs[ray]')"
        return None

    def _new_actor(self) -> Any:
        return self._actor_class.remote(self.backend, self._pool_options)

    def _wait_ready(self, timeout_s: float) -> None:
        """Wait until every actor has built its pool; a clear error if one cannot."""
        ray = self._ray
        refs = [slot.actor.info.remote() for slot in self._slots]
        try:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
            if len(ready) < len(refs):
                raise SandboxError(
                    f"{len(refs) - len(ready)} of {len(refs)} Ray actors were not ready after "
                    f"{timeout_s:g} s: does the cluster have the resources each asks for "
                    f"({self._actor_resources()})?"
                )
            ray.get(refs)
        except ray.exceptions.RayError as error:
            self.close()
            raise SandboxError(
                f"a Ray actor could not start its {self.backend} pool: {error}"
            ) from None
        except SandboxError:
            self.close()
            raise

    def _actor_resources(self) -> str:
        return f"num_cpus={self._pool_options.get('workers', 1)}"

    # --- jobs ----------------------------------------------------------------------------------

    def _acquire(self) -> _Slot:
        """The least-busy actor with room; blocks while every actor is full (backpressure)."""
        with self._cond:
            while True:
                if self._closed:
                    raise SandboxError("ray sandbox is closed")
                slot = min(self._slots, key=lambda s: (not s.ready, s.in_flight))
                if slot.in_flight < self.max_pending:
                    slot.in_flight += 1
                    return slot
                self._cond.wait()

    def _release(self, slot: _Slot) -> None:
        with self._cond:
            slot.in_flight -= 1
            self._cond.notify()

    def _replace(self, slot: _Slot, generation: int, why: str) -> None:
        """Swap a dead or stuck actor for a new one (once, however many jobs saw it fail)."""
        with self._cond:
            if slot.generation != generation or self._closed:
                return
            old = slot.actor
            slot.generation += 1
            slot.actor = self._new_actor()
            slot.ready = False
        # Until the new actor has its pool, jobs go to the others when they have room.
        started = slot.actor.info.remote().future()
        started.add_done_callback(lambda _: setattr(slot, "ready", True))
        log.warning("ray sandbox: replaced an actor that %s", why)
        try:
            self._ray.kill(old, no_restart=True)
        except Exception:  # already dead
            pass

    def submit(self, job: Job) -> ExecResult:
        """Run one job on an actor (blocking; safe from many threads)."""
        ray = self._ray
        limits = job.limits or self.default_limits
        if limits.network and not self.allow_network:
            raise ValueError(
                "this job asks for network access but the sandbox was created without it; "
                "pass allow_network=True to get_sandbox()"
            )
        job = dataclasses.replace(job, limits=limits, tag=None)  # the tag may not pickle
        slot = self._acquire()
        generation, started = slot.generation, time.monotonic()
        try:
            ref = slot.actor.run.remote(job)
            try:
                return ray.get(ref, timeout=limits.wall_time_s + self.answer_grace_s)
            except ray.exceptions.GetTimeoutError:
                self._replace(slot, generation, "did not answer in time")
                why = f"its Ray actor did not answer within {limits.wall_time_s + self.answer_grace_s:g} s"
            except ray.exceptions.RayActorError as error:
                self._replace(slot, generation, "died")
                why = f"its Ray actor died ({_first_line(error)})"
            except ray.exceptions.RayError as error:
                why = f"Ray failed: {_first_line(error)}"
            return ExecResult.sandbox_error(
                f"job lost: {why}", self.name, time.monotonic() - started
            )
        finally:
            self._release(slot)

    def actor_info(self) -> list[dict[str, Any]]:
        """What each current actor reports (pid, backend, workers)."""
        return self._ray.get([slot.actor.info.remote() for slot in self._slots])

    def close(self) -> None:
        """Stop every actor (and the local Ray this sandbox started)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        for slot in getattr(self, "_slots", []):
            try:
                self._ray.kill(slot.actor, no_restart=True)
            except Exception:  # already gone
                pass
        if self._started_ray:
            self._ray.shutdown()

    def __repr__(self) -> str:
        return f"<RaySandbox actors={len(self._slots)} backend={self.backend}>"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


DELEGATING[RaySandbox.name] = RaySandbox
