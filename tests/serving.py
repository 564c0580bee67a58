"""Servers for tests: an ASGI app in a thread of this process, or a command in a child process.

Both bind 127.0.0.1 on a free port and are stopped when the test ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sandbox.listen import listening_socket

REPO_ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def serve_in_thread(app: Any, **uvicorn_options: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread; yields its base URL, stops it afterwards."""
    import uvicorn

    sock = listening_socket("127.0.0.1", 0)
    config = uvicorn.Config(app, log_level="error", **uvicorn_options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


class ChildServer:
    """``python -m MODULE ... --port 0`` as a child process, and the URL it printed first."""

    def __init__(self, *argv: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *argv, "--port", "0"],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
        )
        line = self.proc.stdout.readline()
        if " on http://" not in line:
            self.stop()
            raise RuntimeError(f"server did not start: {line!r} {self.proc.stderr.read()[-2000:]}")
        self.url = line.split(" on ")[1].split()[0]

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the server process."""
        self.proc.send_signal(signum)

    def stop(self) -> None:
        """Kill the process if it still runs (waking it first if it was stopped)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
        self.proc.wait(timeout=30)
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()


@contextlib.contextmanager
def child_servers(*prefix: str) -> Iterator[Callable[..., ChildServer]]:
    """``start(*args)`` runs ``python -m *prefix *args --port 0``; all are killed at the end."""
    started: list[ChildServer] = []

    def start(*args: str) -> ChildServer:
        started.append(ChildServer(*prefix, *args))
        return started[-1]

    try:
        yield start
    finally:
        for server in started:
            server.stop()
