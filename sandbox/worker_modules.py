"""Python modules every worker compiles once and holds for its jobs (trusted host code only).

A program that many jobs run around their own code (a test runner, a harness) costs each job
its loading: unmarshalling or compiling it, and the page faults of building its objects in a
freshly forked process. Registered here, it is compiled once per worker, before the worker's
template is forked, and a job finds it in ``sys.modules`` at no cost. It is the host's code,
never a job's: the template still holds no job data (see docs/sandboxing.md).

A module may define ``__worker_warm__()``: each worker calls it once, right after loading the
module and before forking its template, to run the module's code on data of its own. CPython
specialises a function's bytecode after a few runs; warmed there, every job finds the code
ready rather than rewriting it (and copying the pages it lives on). Its errors are ignored.

Workers started before a module is registered do not hold it, nor do services elsewhere
(``remote``, ``ray``), so a job must check (``sys.modules.get(name)``, and
``__source_digest__`` for the version) and have a way to load the module itself otherwise.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

_modules: dict[str, tuple[str, str]] = {}
_lock = threading.Lock()


def source_digest(source: str) -> str:
    """The digest a registered module carries as ``__source_digest__``."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a worker module needs an identifier as its name, not {name!r}")


def register_worker_module(name: str, source: str) -> str:
    """Have workers started from now on hold module ``name`` compiled from ``source``.

    Returns the digest jobs find in the module's ``__source_digest__``. Registering a name
    again replaces its source (for workers started afterwards).
    """
    _check_name(name)
    if not isinstance(source, str):
        raise TypeError("a worker module's source must be a str")
    digest = source_digest(source)
    with _lock:
        _modules[name] = (source, digest)
    return digest


@dataclass(frozen=True)
class ModuleMain:
    """A job whose program is a registered worker module's ``main()``, wherever one holds it.

    A worker holding module ``name`` at ``digest`` runs ``sys.modules[name].main()`` as the job's
    program, without compiling the job's ``code``, and does not receive the job's files named in
    ``fallback_files``. Anywhere else (workers started before the module was registered, services
    elsewhere) the job runs its ``code`` with all of its files: ``code`` must do what ``main()``
    does, loading the module from those files.
    """

    name: str
    digest: str
    fallback_files: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.digest, str) or not self.digest:
            raise ValueError("a ModuleMain needs the module's source digest")
        object.__setattr__(self, "fallback_files", frozenset(self.fallback_files))


def worker_modules() -> dict[str, list[str]]:
    """What a worker's configuration carries: ``{name: [source, digest]}``."""
    with _lock:
        return {name: [source, digest] for name, (source, digest) in _modules.items()}
