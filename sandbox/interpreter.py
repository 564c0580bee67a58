"""Facts about the host Python interpreter a worker runs on, and the paths it needs."""

from __future__ import annotations

import functools
import json
import os
import stat
import subprocess
import sys

_PROBE = (
    "import json, os, sys; print(json.dumps({'prefixes': sorted({os.path.realpath(p) for p in "
    "(sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, "
    "os.path.dirname(os.path.realpath(sys.executable)))}), 'executable': sys.executable, "
    "'version': sys.version.split()[0]}))"
)


@functools.lru_cache(maxsize=8)
def describe(python: str = sys.executable) -> dict:
    """``{'prefixes': [...], 'executable': ..., 'version': ...}`` for an interpreter."""
    out = subprocess.run(
        [python, "-I", "-c", _PROBE],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    if out.returncode != 0:
        raise RuntimeError(f"cannot run {python}: {out.stderr.strip()[-300:]}")
    return json.loads(out.stdout)


def needed_dirs(python: str = sys.executable) -> list[str]:
    """Directories a sandboxed copy of ``python`` must see, minus those under /usr."""
    dirs = []
    for p in describe(python)["prefixes"]:
        if p == "/usr" or p.startswith("/usr/"):
            continue
        if not any(p == d or p.startswith(d.rstrip("/") + "/") for d in dirs):
            dirs.append(p)
    return dirs


def closed_ancestors(paths: list[str]) -> list[str]:
    """For each path, its highest ancestor that other users cannot traverse (e.g. /root)."""
    found = []
    for path in paths:
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            ancestor = "/" + "/".join(parts[:i])
            try:
                mode = os.stat(ancestor).st_mode
            except OSError:
                break
            if not mode & stat.S_IXOTH:
                if ancestor not in found:
                    found.append(ancestor)
                break
    return found
