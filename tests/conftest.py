"""Shared test configuration: offline hub settings and the path of the shared benchmark data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Nothing may be fetched from a model or dataset hub during tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
TEST_DATA = Path(__file__).resolve().parent / "data"

if SHARED_DATA.is_dir():
    # Built-in dataset environments look here before the hub (see rlvr_envs.data.load_benchmark).
    os.environ.setdefault("RLVR_ENVS_DATA_DIR", str(SHARED_DATA))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The directory of public benchmark files beside the repository (``../shared/data``)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"benchmark data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def test_data() -> Path:
    """The repository's own small fixtures (``tests/data``)."""
    return TEST_DATA
