"""Choosing a backend, and the shared per-process sandboxes ``get_sandbox`` hands out."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from .base import BackendUnavailable, Sandbox
from .bwrap import BwrapSandbox
from .docker_backend import DockerSandbox
from .local import LocalSandbox

log = logging.getLogger("sandbox")

BACKENDS: dict[str, type[Sandbox]] = {
    "local": LocalSandbox,
    "bwrap": BwrapSandbox,
    "docker": DockerSandbox,
}
AUTO_ORDER = ("docker", "bwrap", "local")  # strongest isolation first
# Backends that hand jobs to services or Ray actors ("remote", "ray"): named explicitly, never
# picked by "auto". Their modules add themselves here (the package imports both).
DELEGATING: dict[str, type[Sandbox]] = {}
COMMON_OPTIONS = {"workers", "limits", "allow_network", "disk_mb", "preload"}
UNSAFE_LOCAL_ENV = "RLVR_ENVS_ALLOW_UNSAFE_LOCAL"
UNSAFE_LOCAL_WHY = (
    "local without root runs jobs as your own user: they can read and change your files, kill "
    "or inspect your processes (the trainer included) and leave processes and files behind"
)
INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) or Docker (then "
    "`rlvr-envs sandbox build-image`), or run as root; to accept the local backend without root "
    f"anyway, pass allow_unsafe_local=True or set {UNSAFE_LOCAL_ENV}=1"
)

_shared: dict[tuple[str, str], Sandbox] = {}
_auto_choice: dict[bool, str] = {}  # the backend "auto" resolved to in this process
_lock = threading.Lock()


def _reset_after_fork() -> None:
    # A forked child owns none of its parent's worker pools and probes the backends afresh.
    global _lock, _auto_choice
    _lock = threading.Lock()  # another thread may have held it at the fork
    _shared.clear()
    _auto_choice = {}


os.register_at_fork(after_in_child=_reset_after_fork)


def available_backends(**options: Any) -> dict[str, str | None]:
    """Every backend name mapped to None if it can run here, else a one-line reason."""
    out: dict[str, str | None] = {}
    for name, cls in BACKENDS.items():
        try:
            out[name] = cls.unavailable_reason(**options)
        except Exception as exc:  # a probe must never take the caller down
            out[name] = f"probe failed: {exc}"
    return out


def is_root() -> bool:
    """True when this process runs as root (the local backend then isolates its jobs)."""
    return os.geteuid() == 0


def unsafe_local_allowed(allow_unsafe_local: bool = False) -> bool:
    """True when the caller accepts the local backend without root (argument or environment)."""
    flag = os.environ.get(UNSAFE_LOCAL_ENV, "").strip().lower()
    return allow_unsafe_local or flag in ("1", "true", "yes")


def resolve_backend(name: str = "auto", *, allow_unsafe_local: bool = False) -> str:
    """The backend ``name`` stands for ("auto": $RLVR_SANDBOX_BACKEND, else the strongest).

    Without root, "auto" never settles on ``local`` (which then isolates nothing) unless the
    caller opts in with ``allow_unsafe_local=True`` or ``RLVR_ENVS_ALLOW_UNSAFE_LOCAL=1``.
    """
    if name == "auto":
        forced = os.environ.get("RLVR_SANDBOX_BACKEND", "").strip()
        if forced and forced != "auto":
            name = forced
        else:
            # Probing (a Docker ping, a bwrap trial run) costs milliseconds; callers such as the
            # code verifier ask for "auto" once per job, so probe once per process.
            unsafe_ok = unsafe_local_allowed(allow_unsafe_local)
            if unsafe_ok in _auto_choice:
                return _auto_choice[unsafe_ok]
            reasons = []
            for candidate in AUTO_ORDER:
                why = BACKENDS[candidate].unavailable_reason()
                if why is None and candidate == "local" and not is_root() and not unsafe_ok:
                    why = UNSAFE_LOCAL_WHY
                if why is None:
                    log.info("sandbox: auto picked the %s backend", candidate)
                    _auto_choice[unsafe_ok] = candidate
                    return candidate
                reasons.append(f"{candidate}: {why}")
            raise BackendUnavailable(
                "no sandbox backend that isolates untrusted code can run here ("
                + "; ".join(reasons)
                + "); "
                + INSTALL_HINT
            )
    if name not in BACKENDS and name not in DELEGATING:
        raise ValueError(
            f"unknown sandbox backend {name!r}; choose from {sorted({**BACKENDS, **DELEGATING})} "
            "or auto"
        )
    return name


def get_sandbox(name: str = "auto", *, shared: bool = True, **options: Any) -> Sandbox:
    """A sandbox of backend ``name`` ("local", "bwrap", "docker", "auto", "remote" or "ray").

    With ``shared=True`` (the default) every call with the same backend and options in a process
    returns the same lazily started instance, so many environments share one worker pool; a
    forked child gets its own. Options: ``workers`` (2), ``limits``, ``allow_network``,
    ``disk_mb``, ``preload``, ``allow_unsafe_local`` (let "auto" pick ``local`` without root),
    and backend-specific ones when the backend is named (``python``; bwrap ``ro_binds``; docker
    ``image``, ``cpus``; remote ``url``/``urls``; ray ``num_actors``, ``backend``, ``address``).
    Raises ``BackendUnavailable`` naming what is missing.
    """
    requested = name
    name = resolve_backend(name, allow_unsafe_local=bool(options.pop("allow_unsafe_local", False)))
    if name == "local" and not is_root() and requested != "auto":
        log.warning("sandbox: local without root protects nothing (%s)", UNSAFE_LOCAL_WHY)
    if requested == "auto":
        extra = set(options) - COMMON_OPTIONS
        if extra:
            raise TypeError(
                f"options {sorted(extra)} are backend-specific; name the backend instead of auto"
            )
    if "workers" not in options and os.environ.get("RLVR_SANDBOX_WORKERS"):
        options["workers"] = int(os.environ["RLVR_SANDBOX_WORKERS"])
    backend = {**BACKENDS, **DELEGATING}[name]
    if not shared:
        return backend(**options)
    key = (name, repr(sorted(options.items())))
    with _lock:
        box = _shared.get(key)
        if box is None or getattr(box, "_closed", False):
            box = backend(**options)
            _shared[key] = box
        return box


def close_shared() -> None:
    """Close every shared sandbox of this process."""
    global _auto_choice
    with _lock:
        boxes = list(_shared.values())
        _shared.clear()
        _auto_choice = {}
    for box in boxes:
        box.close()
