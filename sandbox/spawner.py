"""Worker processes are started from a thread that lives as long as the process.

bubblewrap's ``--die-with-parent`` is ``PR_SET_PDEATHSIG``, and Linux sends that signal when the
*thread* that forked the process exits, not the whole process. A worker started from a
short-lived thread (``Sandbox.start()``'s thread pool, ``verify_batch``'s, a thread cache that
expires idle threads) had its bwrap killed as soon as that thread ended: on some hosts the
sandboxed worker went on without it, in a container it died, and the next job on it became a
``sandbox_error``. So every ``Popen`` of a worker runs here: in the main thread when the caller
is it, else in one daemon thread started on first use (and again in a forked child).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_requests: queue.SimpleQueue[tuple[Future, Callable[..., Any], tuple, dict]] = queue.SimpleQueue()
_thread: threading.Thread | None = None
_lock = threading.Lock()


def _serve() -> None:
    while True:
        future, fn, args, kwargs = _requests.get()
        if not future.set_running_or_notify_cancel():
            continue
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # handed to the caller, who raises it
            future.set_exception(error)


def spawner_thread() -> threading.Thread:
    """The long-lived thread worker processes are started from (started now if need be)."""
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_serve, name="sandbox-spawner", daemon=True)
            _thread.start()
        return _thread


def in_long_lived_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` run in the main thread or the spawner thread; its result."""
    current = threading.current_thread()
    if current is threading.main_thread() or current is _thread:
        return fn(*args, **kwargs)
    spawner_thread()
    future: Future = Future()
    _requests.put((future, fn, args, kwargs))
    return future.result()


def _reset_after_fork() -> None:
    # The parent's spawner thread does not exist in a forked child; requests queued there are
    # the parent's.
    global _thread, _lock, _requests
    _thread, _lock, _requests = None, threading.Lock(), queue.SimpleQueue()


os.register_at_fork(after_in_child=_reset_after_fork)
