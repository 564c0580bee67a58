"""The environment server for the tests, in a thread or as ``rlvr-envs serve`` processes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from tests.serving import ChildServer, child_servers  # noqa: E402


@contextlib.contextmanager
def serve_in_thread(config, make_env: Callable | None = None) -> Iterator[tuple[str, object]]:
    """Run ``create_app(config, make_env)`` in a thread; yields (url, app)."""
    from rlvr_envs.server import create_app
    from tests.serving import serve_in_thread as serve_app

    app = create_app(config, make_env)
    options = {"ws_max_size": config.max_message_bytes, "ws_per_message_deflate": False}
    with serve_app(app, timeout_graceful_shutdown=5, **options) as url:
        yield url, app


@pytest.fixture
def server_process() -> Iterator[Callable[..., ChildServer]]:
    """Start ``rlvr-envs serve --port 0 ARGS...``; killed at the end of the test."""
    with child_servers("rlvr_envs", "serve") as start:
        yield start
