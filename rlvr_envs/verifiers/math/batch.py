"""Batch verification over a process pool, for vectorised environments and evaluation sweeps.

Each worker runs :func:`~.grader.verify` with its own per-call bound, so one slow answer costs at
most ``timeout_s``. The pool adds a second, outer bound as a safety net: a chunk that does not come
back in time (a worker stuck, which the inner bound should make impossible) gets ``timeout``
verdicts and the pool is killed and rebuilt; a worker that dies (out of memory, killed) gives
``error`` verdicts, an infrastructure status, never ``wrong``.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ...verdict import Status, Verdict
from .grader import gold_string, resolve_options, verify_many

INLINE_BELOW = 16  # smaller batches run in the calling process: a pool round trip costs more
_STARTUP_GRACE_S = 60.0  # time a fresh pool may take to start its workers

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_key: tuple[int, str] | None = None


def _start_method() -> str:
    """fork when this process runs one thread (fast, and no re-import of ``__main__``); otherwise
    forkserver, because forking a process that runs threads (a trainer, a server) can deadlock."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def _get_pool(workers: int, start_method: str | None) -> ProcessPoolExecutor:
    global _pool, _pool_key
    with _lock:
        reusable = (
            _pool is not None
            and _pool_key is not None
            and _pool_key[0] == workers
            and start_method in (None, _pool_key[1])
        )
        if not reusable:
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
            method = start_method or _start_method()
            _pool = ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context(method)
            )
            _pool_key = (workers, method)
            # Start every worker now, while the start method chosen above is still the right one.
            wait([_pool.submit(int) for _ in range(workers)], timeout=_STARTUP_GRACE_S)
        assert _pool is not None
        return _pool


def _discard_pool(pool: ProcessPoolExecutor) -> None:
    """Kill a pool's workers (a stuck worker cannot be asked to stop) and forget the pool."""
    global _pool, _pool_key
    with _lock:
        if _pool is pool:
            _pool, _pool_key = None, None
    for process in list(getattr(pool, "_processes", {}).values()):
        try:
            process.kill()
        except Exception:  # already gone
            pass
    pool.shutdown(wait=False, cancel_futures=True)


def shutdown_pool() -> None:
    """Stop the shared worker pool (it is restarted by the next parallel batch)."""
    global _pool, _pool_key
    with _lock:
        pool, _pool, _pool_key = _pool, None, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def _failed(pairs: Sequence[tuple[str, Any]], status: Status, reason: str) -> list[Verdict]:
    verdicts = []
    for _, answer in pairs:
        try:
            expected: Any = gold_string(answer)
        except TypeError:
            expected = answer
        verdicts.append(Verdict.make(status, reason, expected=expected))
    return verdicts


def verify_batch(
    responses: Sequence[str],
    answers: Sequence[Any] | str,
    *,
    max_workers: int | None = None,
    chunksize: int | None = None,
    executor: Executor | None = None,
    start_method: str | None = None,
    **options: Any,
) -> list[Verdict]:
    """Verify ``responses[i]`` against ``answers[i]`` (or one shared answer) in parallel.

    ``max_workers`` defaults to the CPU count; 0 or 1, or a batch under ``INLINE_BELOW`` items,
    runs in this process. ``executor`` may be any ``concurrent.futures.Executor`` to use instead
    of the shared process pool; ``start_method`` forces "fork", "forkserver" or "spawn" for it.
    ``options`` are :func:`~.grader.verify` options.
    """
    responses = list(responses)
    for index, response in enumerate(responses):
        if not isinstance(response, str):
            raise TypeError(f"responses[{index}] must be a str, got {type(response).__name__}")
    if isinstance(answers, str) or not isinstance(answers, Sequence):
        answers = [answers] * len(responses)
    if len(answers) != len(responses):
        raise ValueError(f"{len(responses)} responses but {len(answers)} answers")
    limits = resolve_options(options).limits
    pairs = list(zip(responses, answers))
    workers = (os.cpu_count() or 1) if max_workers is None else max_workers
    if executor is None and (workers <= 1 or len(pairs) < INLINE_BELOW):
        return verify_many(pairs, options)

    size = chunksize or max(1, math.ceil(len(pairs) / (max(workers, 1) * 4)))
    chunks = [pairs[i : i + size] for i in range(0, len(pairs), size)]
    try:
        pool = executor or _get_pool(workers, start_method)
        futures: list[Future] = [pool.submit(verify_many, chunk, options) for chunk in chunks]
    except (BrokenProcessPool, RuntimeError, OSError) as error:
        if executor is None and _pool is not None:
            _discard_pool(_pool)
        return _failed(pairs, Status.ERROR, f"the verification pool failed: {error}")
    # Every item is bounded by timeout_s inside its worker; the outer bound allows for queueing.
    rounds = math.ceil(len(chunks) / max(workers, 1))
    outer = _STARTUP_GRACE_S + limits.timeout_s * size * rounds * 2
    wait(futures, timeout=outer)

    verdicts: list[Verdict] = []
    stuck = False
    for chunk, future in zip(chunks, futures):
        if not future.done():
            stuck = True
            verdicts += _failed(chunk, Status.TIMEOUT, "the verification worker did not answer")
            continue
        try:
            verdicts += future.result()
        except BrokenProcessPool:
            stuck = True
            verdicts += _failed(chunk, Status.ERROR, "the verification worker died")
        except Exception as error:
            verdicts += _failed(
                chunk, Status.ERROR, f"batch error: {type(error).__name__}: {error}"
            )
    if stuck and executor is None and isinstance(pool, ProcessPoolExecutor):
        _discard_pool(pool)
    return verdicts
