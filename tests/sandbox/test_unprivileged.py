"""The backends as an unprivileged user: local without root, bwrap in a user namespace.

CI runs as root, where jobs get uids of their own; this runs the same attacks as ``nobody`` so
the modes a developer gets without root are exercised too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534


def _interpreter() -> str | None:
    """A Python the unprivileged user can run (ours may live under /root)."""
    for candidate in (sys.executable, shutil.which("python3") or "", "/usr/bin/python3"):
        if not candidate:
            continue
        try:
            probe = subprocess.run(
                [candidate, "-c", "import sys; assert sys.version_info >= (3, 9)"],
                user=NOBODY,
                group=NOBODY,
                extra_groups=[],
                capture_output=True,
                cwd="/",
                check=False,
            )
        except OSError:  # not even reachable for that user
            continue
        if probe.returncode == 0:
            return candidate
    return None


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="runs as root, switching to an unprivileged user")
def test_attacks_as_an_unprivileged_user() -> None:
    python = _interpreter()
    if python is None:
        pytest.skip("no Python the unprivileged user can run")
    out = subprocess.run(
        [python, str(ROOT / "tests" / "sandbox" / "unprivileged_checks.py"), str(ROOT)],
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        capture_output=True,
        text=True,
        cwd="/tmp",
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "RLVR_SANDBOX_UID_BASE": "1900000000"},
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    facts = json.loads(out.stdout.splitlines()[-1])
    assert facts["uid"] == NOBODY
    checked = [name for name in ("local", "bwrap") if "unavailable" not in facts[name]]
    assert "local" in checked, facts
    for name in checked:
        got = facts[name]
        assert got["victim"] == "ok", (name, got)
        # No route through memory, frames, the collector or IPC; without root the local backend
        # shares the host's /tmp, so a file left there is the one thing it cannot hide.
        allowed = {"file", "file name"} if name == "local" else set()
        assert set(got["found"].values()) <= allowed, (name, got)
        assert got["daemon"] == "ok" and got["leftovers"] == [], (name, got)
        assert got["killer"] != "sandbox_error", (name, got)
        assert got["after"] == ["ok", "42\n"], (name, got)
