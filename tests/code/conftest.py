"""Sandboxes for the code-verifier tests: every backend that runs here (CI installs all three)."""

from __future__ import annotations

import pytest

sandbox = pytest.importorskip("sandbox")

BACKENDS = ["local", "bwrap", "docker"]
MARKS = {"bwrap": [pytest.mark.bwrap], "docker": [pytest.mark.docker]}


def _backend(name: str):
    reason = sandbox.available_backends().get(name)
    if reason is not None:
        pytest.skip(f"{name} sandbox unavailable here: {reason}")
    return sandbox.get_sandbox(name)


@pytest.fixture(scope="session", params=[pytest.param(b, marks=MARKS.get(b, [])) for b in BACKENDS])
def box(request):
    """A started sandbox of each available backend (shared by the whole session)."""
    return _backend(request.param)


@pytest.fixture(scope="session")
def local_box():
    """The local backend, for tests about the verifier rather than the isolation."""
    return _backend("local")
