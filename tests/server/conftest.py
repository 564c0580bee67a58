"""Servers for the tests: in a thread of this process, or as a real ``rlvr-envs serve`` process.

Both bind 127.0.0.1 on a free port and are stopped when the test ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

REPO_ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def serve_in_thread(config, make_env: Callable | None = None) -> Iterator[tuple[str, object]]:
    """Run ``create_app(config, make_env)`` with uvicorn in a thread; yields (url, app)."""
    import uvicorn

    from rlvr_envs.server import create_app

    app = create_app(config, make_env)
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="error",
            ws_max_size=config.max_message_bytes,
            ws_per_message_deflate=False,
            timeout_graceful_shutdown=5,
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


class ServerProcess:
    """A ``python -m rlvr_envs serve ...`` child process and the URL it printed."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        environ = dict(os.environ, PYTHONPATH=str(REPO_ROOT), **(env or {}))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rlvr_envs", "serve", "--port", "0", *args],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environ,
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
        """Kill the process if it still runs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
        self.proc.wait(timeout=30)
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()


@pytest.fixture
def server_process() -> Iterator[Callable[..., ServerProcess]]:
    """Start ``rlvr-envs serve`` processes; every one is killed at the end of the test."""
    started: list[ServerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> ServerProcess:
        server = ServerProcess(*args, env=env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
