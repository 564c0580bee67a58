"""Running reasoning-gym's ``score_answer`` on untrusted completions without trusting it.

reasoning-gym's scorers were written for cooperative models. Some pass the answer to ``eval`` or
to ``sympy.parse_expr`` (which calls ``eval``), some build exact numbers from any digit string,
and some recurse or loop in proportion to the answer's length. Three defences, applied by
:mod:`.reasoning_gym` before a scorer sees an answer:

- a length cap per task, so no scorer ever sees a megabyte;
- a character guard for the scorers that ``eval`` the answer: Python-literal answers (no
  parentheses, operators, dots or colons: nothing can be called or computed), plain numbers,
  arithmetic over integers (digits, ``+ - * /`` and parentheses), or math expressions made of
  numbers, single-letter symbols and known function names (no underscores, quotes, dots or
  brackets, so ``parse_expr`` cannot reach anything but sympy's arithmetic); and guards for
  scorers that would read ``nan`` as a number (complex numbers) or loop as many times as a number
  in the answer says (a move repeated ``R100000000`` times);
- a separate worker process with a wall-clock limit for the sympy scorers, whose arithmetic on an
  allowed expression (a power tower) can still run for ever. A worker that overruns is killed and
  the answer is graded ``timeout``.
"""

from __future__ import annotations

import atexit
import json
import os
import pickle
import queue
import re
import select
import struct
import subprocess
import sys
import threading
from collections.abc import Mapping
from typing import Any

# --- guards -------------------------------------------------------------------------------------

_LITERAL = re.compile(r"[A-Za-z0-9_\s,\[\]'\"\-]*")
_NUMBER = re.compile(r"\s*[-+]?\d{1,30}(?:\.\d{1,30})?(?:[eE][-+]?\d{1,3})?(?:\s*/\s*\d{1,30})?\s*")
_EXPRESSION_CHARS = re.compile(r"[A-Za-z0-9\s+\-*/^().]*")
_ARITHMETIC_CHARS = re.compile(r"[0-9\s+\-*/()]*")
_COMPLEX_CHARS = re.compile(r"[0-9\s+\-.()ijeE]*")  # no room for "nan" or "inf"
_LONG_COUNT = re.compile(r"\d{2,}")
_WORD = re.compile(r"[A-Za-z]+")
_FUNCTIONS = frozenset(
    "sin cos tan cot sec csc asin acos atan sinh cosh tanh exp log ln sqrt Abs abs pi E I".split()
)


def literal_guard(answer: str) -> str | None:
    """None when ``eval`` of the answer can only build literals, else why it is refused."""
    if _LITERAL.fullmatch(answer) is None:
        bad = next(c for c in answer if _LITERAL.fullmatch(c) is None)
        return f"the answer holds {bad!r}, which this task's answers never contain"
    return None


def number_guard(answer: str) -> str | None:
    """None for a plain decimal or fraction of bounded length, else why it is refused."""
    if _NUMBER.fullmatch(answer) is None:
        return "the answer is not a plain number or fraction"
    return None


def expression_guard(answer: str) -> str | None:
    """None for an arithmetic expression over numbers, single letters and known functions."""
    if _EXPRESSION_CHARS.fullmatch(answer) is None:
        bad = next(c for c in answer if _EXPRESSION_CHARS.fullmatch(c) is None)
        return f"the answer holds {bad!r}, which is not part of a math expression"
    if re.search(r"(?<!\d)\.|\.(?!\d)", answer):
        return "a '.' outside a decimal number"
    for word in _WORD.findall(answer):
        if len(word) > 1 and word not in _FUNCTIONS:
            return f"{word[:20]!r} is neither a one-letter symbol nor a known function"
    return None


def _refuse_other_characters(answer: str, allowed: re.Pattern[str], what: str) -> str | None:
    if allowed.fullmatch(answer) is None:
        bad = next(c for c in answer if allowed.fullmatch(c) is None)
        return f"the answer holds {bad!r}, which is not part of {what}"
    return None


def arithmetic_guard(answer: str) -> str | None:
    """None for digits, ``+ - * /``, parentheses and spaces only, else why it is refused."""
    return _refuse_other_characters(answer, _ARITHMETIC_CHARS, "an expression with + - * /")


def complex_guard(answer: str) -> str | None:
    """None for a complex number written with digits, ``.``, ``e``, ``i`` or ``j``, signs and
    parentheses (so never ``nan`` or ``inf``, which scored 1.0), else why it is refused."""
    return _refuse_other_characters(answer, _COMPLEX_CHARS, "a complex number")


def small_counts_guard(answer: str) -> str | None:
    """None when no number in the answer has two digits or more: the scorers of move sequences
    repeat a move (or slide a car) once per unit of the count, so ``R100000000`` never ends."""
    match = _LONG_COUNT.search(answer)
    if match:
        return f"the count {match.group()[:20]} is too large (a move repeats at most 9 times)"
    return None


GUARDS = {
    "literal": literal_guard,
    "number": number_guard,
    "expression": expression_guard,
    "arithmetic": arithmetic_guard,
    "complex": complex_guard,
    "small_counts": small_counts_guard,
}


# --- isolated scoring ---------------------------------------------------------------------------


STARTUP_S = 120.0  # how long a new worker may take to import reasoning-gym


class ScoreTimeout(Exception):
    """The scorer ran past its wall-clock limit (its worker was killed)."""


class ScorerFailed(Exception):
    """The scorer raised on this answer, or its worker died while scoring it."""


class ScorerUnavailable(Exception):
    """No worker could be started: a fault of the machinery, not of the answer."""


# Requests (parent to worker) are pickled: the worker trusts its parent. Replies are JSON, so
# that a worker whose scorer misbehaved can send back nothing but data.


def _write_frame(stream: Any, data: bytes) -> None:
    stream.write(struct.pack("<I", len(data)) + data)
    stream.flush()


def _read_frame(stream: Any) -> bytes:
    header = stream.read(4)
    if len(header) < 4:
        raise EOFError("the worker closed its output")
    (size,) = struct.unpack("<I", header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the worker closed its output mid-message")
    return data


def worker_main() -> None:
    """The worker: read (name, config, entry, answer) frames, answer with the score or the error.

    A plain ``python -m`` process rather than ``multiprocessing``: spawning re-imports the
    parent's ``__main__``, which would rerun any user script that lacks a main guard.
    """
    import resource

    requests, replies = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # scorers that print must not corrupt the replies
    sys.stdout = sys.stderr
    # A scorer that tries to build a gigantic number fails with MemoryError instead of swapping.
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
    from reasoning_gym.factory import create_dataset

    _write_frame(replies, json.dumps(["ready", None]).encode())  # imports done: time scoring only
    datasets: dict[Any, Any] = {}
    while True:
        try:
            name, config, entry, answer = pickle.loads(_read_frame(requests))
        except EOFError:
            return
        key = (name, tuple(sorted(config.items())))
        try:
            if key not in datasets:
                datasets[key] = create_dataset(name, **config)
            reply = ("ok", float(datasets[key].score_answer(answer, entry)))
        except BaseException as error:  # noqa: BLE001 - reported to the parent, never raised here
            reply = ("error", f"{type(error).__name__}: {error}"[:300])
        _write_frame(replies, json.dumps(reply).encode())


class _Worker:
    def __init__(self) -> None:
        # The worker imports this package from wherever the parent did.
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rlvr_envs.integrations.rg_scoring"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": path},
        )
        # Importing reasoning-gym takes seconds: that must not count against an answer.
        ready, _, _ = select.select([self.process.stdout], [], [], STARTUP_S)
        try:
            if not ready or json.loads(_read_frame(self.process.stdout))[0] != "ready":
                raise EOFError("no ready message")
        except (EOFError, ValueError) as error:
            self.stop()
            raise ScorerUnavailable(f"the scoring worker did not start: {error}") from None

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout):
            stream.close()


class ScorerPool:
    """Worker processes that run scorers with a wall-clock limit, shared by every environment."""

    def __init__(self, max_workers: int = 2) -> None:
        # Last in, first out: a caller reuses a running worker before a second one is started.
        self._idle: queue.LifoQueue[_Worker | None] = queue.LifoQueue()
        for _ in range(max_workers):
            self._idle.put(None)  # started on first use
        self._all: list[_Worker] = []
        self._lock = threading.Lock()

    def score(
        self,
        name: str,
        config: Mapping[str, Any],
        entry: Mapping[str, Any],
        answer: str,
        timeout_s: float,
    ) -> float:
        """``score_answer`` in a worker; :class:`ScoreTimeout` past ``timeout_s`` seconds."""
        worker = self._idle.get()
        try:
            if worker is None or not worker.alive():
                worker = _Worker()
                with self._lock:
                    self._all.append(worker)
            try:
                request = (name, dict(config), dict(entry), answer)
                _write_frame(worker.process.stdin, pickle.dumps(request, pickle.HIGHEST_PROTOCOL))
                ready, _, _ = select.select([worker.process.stdout], [], [], timeout_s)
                if not ready:
                    raise ScoreTimeout(f"the scorer ran past {timeout_s:g} s")
                status, value = json.loads(_read_frame(worker.process.stdout))
            except ScoreTimeout:
                worker.stop()
                worker = None
                raise
            except (EOFError, OSError) as error:
                worker.stop()
                worker = None
                raise ScorerFailed(f"the scoring worker died: {error}") from None
        finally:
            self._idle.put(worker)
        if status != "ok":
            raise ScorerFailed(value)
        return value

    def close(self) -> None:
        """Stop every worker."""
        with self._lock:
            for worker in self._all:
                if worker.alive():
                    worker.stop()
            self._all.clear()


_POOL: ScorerPool | None = None
_POOL_LOCK = threading.Lock()


def scorer_pool() -> ScorerPool:
    """The process-wide pool (started lazily, stopped at exit)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ScorerPool()
            atexit.register(_POOL.close)
        return _POOL


if __name__ == "__main__":
    worker_main()
