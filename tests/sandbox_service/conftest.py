"""The /run_code service for the tests: in a thread, or as ``python -m sandbox serve``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest

import sandbox

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from tests.serving import ChildServer, child_servers  # noqa: E402


@contextlib.contextmanager
def run_code_service(box: sandbox.Sandbox, **settings) -> Iterator[tuple[str, object]]:
    """Serve ``box`` over /run_code in a thread; yields (url, RunCodeService)."""
    from sandbox.service import RunCodeService, create_app
    from tests.serving import serve_in_thread

    service = RunCodeService(box, **settings)
    try:
        with serve_in_thread(create_app(service)) as url:
            yield url, service
    finally:
        service.threads.shutdown(wait=False)


@pytest.fixture(scope="session")
def local_pool() -> Iterator[sandbox.Sandbox]:
    """A 2-worker local pool shared by the service tests."""
    box = sandbox.get_sandbox("local", shared=False, workers=2).start()
    yield box
    box.close()


@pytest.fixture(scope="module")
def service(local_pool) -> Iterator[tuple[str, object]]:
    """One /run_code service over the shared local pool."""
    with run_code_service(local_pool, max_run_timeout_s=30) as served:
        yield served


@pytest.fixture
def service_process() -> Iterator[Callable[..., ChildServer]]:
    """Start ``python -m sandbox serve --port 0 ARGS...``; killed at the end of the test."""
    with child_servers("sandbox", "serve") as start:
        yield start
