"""Where samples are drawn and verified: in this process, or fanned out over a Ray cluster.

Both executors run the same :class:`~rlvr_envs.evaluation.worker.Worker` (the rollout engine) on
the same work units with the same per-sample seeds, so they produce the same records (timings
aside). Ray is imported
only by :class:`RayExecutor`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..agent.spec import resolve_agent
from ..data import DATA_DIR_VARIABLE
from .worker import EntryConfig, Worker, WorkUnit

DEFAULT_VERIFY_WORKERS = min(8, (os.cpu_count() or 2) + 2)


class AgentRef:
    """How to obtain the agent where the work runs: a spec string (+ kwargs) or the object."""

    def __init__(self, agent: Any, kwargs: Mapping[str, Any] | None = None) -> None:
        self.agent = agent
        self.kwargs = dict(kwargs or {})

    def resolve(self) -> Any:
        """The agent object (built from the spec here, in this process)."""
        return resolve_agent(self.agent, **self.kwargs)


class LocalExecutor:
    """Runs one worker in this process: generation in this thread, verification in a pool."""

    name = "local"

    def __init__(self, *, batch_size: int = 16, verify_workers: int | None = None) -> None:
        self.batch_size = batch_size
        self.verify_workers = verify_workers or DEFAULT_VERIFY_WORKERS

    def run(
        self, agent: AgentRef, entries: Mapping[str, EntryConfig], units: Sequence[WorkUnit]
    ) -> Iterator[dict[str, Any]]:
        """Records for every sample of ``units``, as they finish."""
        worker = Worker(
            agent.resolve(),
            entries,
            batch_size=self.batch_size,
            verify_workers=self.verify_workers,
        )
        try:
            yield from worker.run(units)
        finally:
            worker.close()


class RemoteWorker:
    """A worker living in a Ray actor (wrapped with ``ray.remote`` by :class:`RayExecutor`)."""

    def __init__(
        self,
        agent: AgentRef,
        entries: Mapping[str, EntryConfig],
        batch_size: int,
        verify_workers: int,
    ) -> None:
        self.worker = Worker(
            agent.resolve(), entries, batch_size=batch_size, verify_workers=verify_workers
        )

    def run(self, units: list[WorkUnit]) -> list[dict[str, Any]]:
        """Every record of a chunk of units."""
        return list(self.worker.run(units))

    def close(self) -> None:
        """Close the worker's environments."""
        self.worker.close()


def project_pythonpath() -> str:
    """A ``PYTHONPATH`` that lets Ray workers import this checkout and the caller's modules."""
    package_root = str(Path(__file__).resolve().parents[2])
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    paths = [package_root, os.getcwd()]
    for entry in sys.path:
        if not entry or not os.path.isdir(entry):
            continue
        real = os.path.realpath(entry)
        if any(real.startswith(prefix + os.sep) or real == prefix for prefix in prefixes):
            continue  # the interpreter's own library folders
        paths.append(real)
    paths += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    unique = list(dict.fromkeys(paths))
    return os.pathsep.join(unique)


class RayExecutor:
    """Fans work units out over Ray actors, each holding an agent and its environments.

    ``address`` is passed to ``ray.init`` (None starts a local instance) unless Ray is already
    initialised. Actors get a ``runtime_env`` whose ``PYTHONPATH`` names this checkout, so a run
    from a source tree works on a local or shared-filesystem cluster; pass ``runtime_env`` (e.g.
    ``{"py_modules": [...]}`` or ``{"working_dir": "."}``) for other clusters.
    """

    name = "ray"

    def __init__(
        self,
        *,
        address: str | None = None,
        workers: int | None = None,
        num_cpus: float = 1,
        num_gpus: float = 0,
        batch_size: int = 16,
        verify_workers: int = 2,
        runtime_env: Mapping[str, Any] | None = None,
    ) -> None:
        self.address = address
        self.workers = workers
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.batch_size = batch_size
        self.verify_workers = verify_workers
        self.runtime_env = dict(runtime_env) if runtime_env is not None else None

    def _runtime_env(self) -> dict[str, Any]:
        if self.runtime_env is not None:
            return self.runtime_env
        env_vars = {"PYTHONPATH": project_pythonpath()}
        if os.environ.get(DATA_DIR_VARIABLE):  # --data-dir reaches the actors too
            env_vars[DATA_DIR_VARIABLE] = os.environ[DATA_DIR_VARIABLE]
        return {"env_vars": env_vars}

    def run(
        self, agent: AgentRef, entries: Mapping[str, EntryConfig], units: Sequence[WorkUnit]
    ) -> Iterator[dict[str, Any]]:
        """Records for every sample of ``units``, as the actors finish chunks of them."""
        try:
            import ray
        except ImportError:
            raise RuntimeError("--executor ray needs Ray (pip install 'rlvr-envs[ray]')") from None
        units = list(units)
        if not units:
            return
        started = False
        if not ray.is_initialized():
            ray.init(address=self.address, log_to_driver=False)
            started = True
        actors: list[Any] = []
        try:
            available = ray.cluster_resources().get("CPU", 1)
            count = self.workers or max(1, int(available // max(self.num_cpus, 1e-9)))
            chunks = [units[i : i + self.batch_size] for i in range(0, len(units), self.batch_size)]
            count = max(1, min(count, len(chunks)))
            actor_class = ray.remote(RemoteWorker).options(
                num_cpus=self.num_cpus, num_gpus=self.num_gpus, runtime_env=self._runtime_env()
            )
            agent_handle = ray.put(agent)
            actors = [
                actor_class.remote(
                    agent_handle, dict(entries), self.batch_size, self.verify_workers
                )
                for _ in range(count)
            ]
            queue = list(reversed(chunks))
            in_flight: dict[Any, Any] = {}
            # Two chunks per actor keep it busy while the driver collects the previous result.
            for actor in actors * 2:
                if queue:
                    in_flight[actor.run.remote(queue.pop())] = actor
            while in_flight:
                done, _ = ray.wait(list(in_flight), num_returns=1)
                actor = in_flight.pop(done[0])
                records = ray.get(done[0])
                if queue:
                    in_flight[actor.run.remote(queue.pop())] = actor
                yield from records
        finally:
            for actor in actors:
                try:
                    ray.kill(actor)
                except Exception:  # the actor may already be gone
                    pass
            if started:
                ray.shutdown()


def make_executor(
    name: str,
    *,
    batch_size: int = 16,
    verify_workers: int | None = None,
    ray_address: str | None = None,
    ray_workers: int | None = None,
    ray_num_cpus: float = 1,
    ray_num_gpus: float = 0,
    ray_runtime_env: Mapping[str, Any] | None = None,
) -> LocalExecutor | RayExecutor:
    """An executor by name: ``local`` or ``ray``."""
    if name == "local":
        return LocalExecutor(batch_size=batch_size, verify_workers=verify_workers)
    if name == "ray":
        return RayExecutor(
            address=ray_address,
            workers=ray_workers,
            num_cpus=ray_num_cpus,
            num_gpus=ray_num_gpus,
            batch_size=batch_size,
            verify_workers=verify_workers or 2,
            runtime_env=ray_runtime_env,
        )
    raise ValueError(f"unknown executor {name!r}; use 'local' or 'ray'")
