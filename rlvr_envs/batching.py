"""Verifications of concurrent environment steps, run as one batch.

A vector environment steps its sub-environments in threads, and the rollout engine steps the
episodes of one generation batch at once. Each step goes through the environment's wrappers to
:meth:`TextEnv.verify <rlvr_envs.env.TextEnv.verify>`. Inside a :class:`BatchWindow`, a verifier
that can verify many completions at once (a ``verify_batch(completions, tasks)`` method and a
``batch_key()``, as the code verifier has) is not called step by step: each step's verification
waits in the window until every step of the window is either waiting there too or done, and then
they are verified together, one ``verify_batch`` call per kind of verifier. Wrappers still see
each step as usual; other verifiers are called directly.

When the caller knows that all ``parties`` steps run at once (a vector environment with a thread
per sub-environment), the batch forms as soon as all of them wait or are done. Otherwise (steps
queued on a shared thread pool) it forms once every step that has started waits or is done, and
stays so for ``settle_s``, so that steps submitted together but started a little apart still
share it; a step never waits for one that cannot start.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .tasks import Task
from .verdict import Verdict

T = TypeVar("T")
SETTLE_S = 0.002

_local = threading.local()


def current_window() -> BatchWindow | None:
    """The window the calling thread runs a step in, if any."""
    return getattr(_local, "window", None)


def batchable(verifier: Any) -> bool:
    """Whether a verifier can verify many completions in one call."""
    return callable(getattr(verifier, "verify_batch", None)) and callable(
        getattr(verifier, "batch_key", None)
    )


class _Item:
    __slots__ = ("verifier", "completion", "task", "verdict", "error", "done")

    def __init__(self, verifier: Any, completion: str, task: Task) -> None:
        self.verifier, self.completion, self.task = verifier, completion, task
        self.verdict: Verdict | None = None
        self.error: BaseException | None = None
        self.done = False


class BatchWindow:
    """Gathers the batchable verifications of the steps that :meth:`run` inside it."""

    def __init__(self, parties: int | None = None, settle_s: float = SETTLE_S) -> None:
        self._cond = threading.Condition()
        self._parties = parties  # steps that will run in the window, all at once
        self._active = 0  # steps running in it now
        self._left = 0  # steps done
        self._in_flight = 0  # items of a batch being verified
        self._waiting: list[_Item] = []
        self._settle_s = settle_s
        self._ready_since: float | None = None
        self.batches: list[int] = []  # the size of each batch verified (for tests and logs)

    def run(self, step: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``step(*args, **kwargs)`` in the calling thread, its verifications batched."""
        previous = current_window()
        with self._cond:
            self._active += 1
            self._ready_since = None  # one more step that may still want to join
        _local.window = self
        try:
            return step(*args, **kwargs)
        finally:
            _local.window = previous
            with self._cond:
                self._active -= 1
                self._left += 1
                self._cond.notify_all()  # the waiting ones may be all that is left

    def verify(self, verifier: Any, completion: str, task: Task) -> Verdict:
        """The verdict of one step's completion, verified with the others of the window."""
        item = _Item(verifier, completion, task)
        with self._cond:
            self._waiting.append(item)
            self._cond.notify_all()
            while not item.done:
                batch, wait = self._take()
                if batch:
                    self._cond.release()
                    try:
                        self._verify(batch)
                    finally:
                        self._cond.acquire()
                else:
                    self._cond.wait(wait)
        if item.error is not None:
            raise item.error
        assert item.verdict is not None
        return item.verdict

    def _take(self) -> tuple[list[_Item], float | None]:
        """(Lock held.) The waiting items if the batch is complete, else how long to wait."""
        if self._parties is not None:
            running = self._parties - self._left
        else:
            running = self._active
        if not self._waiting or len(self._waiting) < running - self._in_flight:
            self._ready_since = None
            return [], None
        if self._parties is None:
            now = time.monotonic()
            if self._ready_since is None:
                self._ready_since = now
            if now - self._ready_since < self._settle_s:
                return [], self._ready_since + self._settle_s - now
        batch, self._waiting = self._waiting, []
        self._in_flight += len(batch)
        self._ready_since = None
        self.batches.append(len(batch))
        return batch, None

    def _verify(self, batch: list[_Item]) -> None:
        """Verify a batch, one ``verify_batch`` per kind of verifier, and hand out the verdicts."""
        groups: dict[Any, list[_Item]] = {}
        for item in batch:
            groups.setdefault(item.verifier.batch_key(), []).append(item)
        try:
            for items in groups.values():
                _verify_group(items)
        finally:
            with self._cond:
                self._in_flight -= len(batch)
                for item in batch:
                    if not item.done:
                        item.error, item.done = RuntimeError("the batch was interrupted"), True
                self._cond.notify_all()


def _verify_group(items: list[_Item]) -> None:
    try:
        verdicts = items[0].verifier.verify_batch(
            [i.completion for i in items], [i.task for i in items]
        )
    except Exception:
        # One bad item must not take the others' verdicts with it: each on its own, as a step
        # would have run without the window.
        for item in items:
            try:
                item.verdict = item.verifier(item.completion, item.task)
            except Exception as error:  # the environment turns it into an error verdict
                item.error = error
            item.done = True
        return
    for item, verdict in zip(items, verdicts):
        item.verdict, item.done = verdict, True
