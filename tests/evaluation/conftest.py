"""Fixtures of the evaluation tests."""

import pytest

from . import toy_agents


@pytest.fixture(scope="package", autouse=True)
def _math_verifier_standin():
    """The stand-in math verifier (if one was needed) serves this package's tests only."""
    toy_agents.ensure_math_verifier()
    yield
    toy_agents.remove_math_standin()
