"""The one interface every backend implements, and the job record it takes."""

from __future__ import annotations

import posixpath
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .limits import Limits
from .result import ExecResult
from .worker_modules import ModuleMain

FileContent = bytes | str


class SandboxError(RuntimeError):
    """A sandbox could not be created or used."""


class BackendUnavailable(SandboxError):
    """A backend cannot run here; the message names what is missing."""


@dataclass(frozen=True)
class Job:
    """One unit of work: a Python program (``code``) or a command (``command``), never both.

    ``files`` maps relative paths to contents placed in the job's fresh work directory (a tuple
    ``(content, mode)`` sets the permission bits); ``stdin`` is fed to the job, which otherwise
    reads from /dev/null; ``env`` adds variables to the small allow-listed environment.
    """

    code: str | None = None
    command: Sequence[str] | None = None
    stdin: bytes | str | None = None
    files: Mapping[str, FileContent | tuple[FileContent, int]] | None = None
    limits: Limits | None = None
    env: Mapping[str, str] | None = None
    argv: Sequence[str] | None = None  # sys.argv for a Python job (default: [script])
    script: str = "main.py"
    tag: Any = field(default=None, compare=False)  # caller's bookkeeping, not sent anywhere
    # A registered worker module that stands for ``code`` where a worker holds it (see
    # ``worker_modules.ModuleMain``); backends that cannot tell run ``code`` with every file.
    module_main: ModuleMain | None = None

    def __post_init__(self) -> None:
        if (self.code is None) == (self.command is None):
            raise ValueError("a Job needs exactly one of code= or command=")
        if self.code is not None and not isinstance(self.code, str):
            raise TypeError(f"code must be str, not {type(self.code).__name__}")
        if self.command is not None:
            if isinstance(self.command, (str, bytes)) or not self.command:
                raise TypeError("command must be a non-empty sequence of strings (no shell)")
            if not all(isinstance(a, str) and "\0" not in a for a in self.command):
                raise TypeError("command arguments must be strings without NUL bytes")
        if self.stdin is not None and not isinstance(self.stdin, (bytes, str)):
            raise TypeError("stdin must be bytes, str or None")
        if self.limits is not None and not isinstance(self.limits, Limits):
            raise TypeError("limits must be a sandbox.Limits")
        for key, value in (self.env or {}).items():
            if not (isinstance(key, str) and isinstance(value, str)) or "=" in key or not key:
                raise ValueError(f"bad environment variable {key!r}")
            if "\0" in key or "\0" in value:
                raise ValueError(f"environment variable {key!r} contains a NUL byte")
        if self.module_main is not None:
            if not isinstance(self.module_main, ModuleMain):
                raise TypeError("module_main must be a sandbox.ModuleMain")
            if self.code is None:
                raise ValueError("module_main stands for a Python job's code; this job has none")
            missing = self.module_main.fallback_files - set(self.files or {})
            if missing:
                raise ValueError(
                    f"module_main names fallback files the job lacks: {sorted(missing)}"
                )
        check_relative_path(self.script, "script")
        for name in self.files or {}:
            check_relative_path(name, "file")
            if self.code is not None and posixpath.normpath(name) == posixpath.normpath(
                self.script
            ):
                raise ValueError(f"files must not contain the script name {self.script!r}")


def check_relative_path(name: str, what: str) -> str:
    """Validate a path inside the work directory (relative, no '..', no NUL)."""
    if not isinstance(name, str) or not name or "\0" in name:
        raise ValueError(f"{what} name must be a non-empty string without NUL: {name!r}")
    norm = posixpath.normpath(name)
    if norm.startswith("/") or norm == "." or norm.split("/")[0] == "..":
        raise ValueError(f"{what} name must be a relative path inside the work dir: {name!r}")
    return norm


def as_job(item: Job | str | Mapping[str, Any]) -> Job:
    """Accept a Job, a Python source string, or a dict of Job fields."""
    if isinstance(item, Job):
        return item
    if isinstance(item, str):
        return Job(code=item)
    if isinstance(item, Mapping):
        return Job(**item)
    raise TypeError(f"cannot make a Job from {type(item).__name__}")


class Sandbox(ABC):
    """Runs untrusted programs under ``Limits``; thread-safe; ``close()`` when done.

    Subclasses implement ``submit``; everything else is built on it.
    """

    name: ClassVar[str] = "abstract"
    workers: int = 1
    # Jobs one worker may hold at once (queued behind the one it runs); see ZygoteSandbox.
    pipeline_depth: int = 1

    @classmethod
    def unavailable_reason(cls, **options: Any) -> str | None:
        """None when this backend can run here, else a one-line reason."""
        return None

    @abstractmethod
    def submit(self, job: Job) -> ExecResult:
        """Run one job to completion (blocking) and return its result."""

    def run(
        self,
        command: Sequence[str],
        *,
        stdin: bytes | str | None = None,
        files: Mapping[str, Any] | None = None,
        limits: Limits | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ExecResult:
        """Run a command (argv list, no shell) inside the sandbox."""
        return self.submit(Job(command=command, stdin=stdin, files=files, limits=limits, env=env))

    def run_python(
        self,
        code: str,
        *,
        stdin: bytes | str | None = None,
        files: Mapping[str, Any] | None = None,
        limits: Limits | None = None,
        env: Mapping[str, str] | None = None,
        argv: Sequence[str] | None = None,
    ) -> ExecResult:
        """Run Python source as ``python main.py`` would, inside the sandbox."""
        return self.submit(
            Job(code=code, stdin=stdin, files=files, limits=limits, env=env, argv=argv)
        )

    def run_many(
        self, jobs: Iterable[Job | str | Mapping[str, Any]], max_concurrency: int | None = None
    ) -> list[ExecResult]:
        """Run jobs concurrently (by default as many as the workers hold, ``pipeline_depth``
        each); results in input order."""
        batch = [as_job(j) for j in jobs]
        if not batch:
            return []
        threads = max(1, min(len(batch), max_concurrency or self.workers * self.pipeline_depth))
        if threads == 1:
            return [self.submit(j) for j in batch]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads, thread_name_prefix=f"sandbox-{self.name}") as ex:
            return list(ex.map(self.submit, batch))

    def run_python_many(
        self, jobs: Iterable[Job | str | Mapping[str, Any]], max_concurrency: int | None = None
    ) -> list[ExecResult]:
        """Batch form of ``run_python``: each item is source code, a Job or a dict of fields."""
        return self.run_many(jobs, max_concurrency)

    def start(self) -> Sandbox:
        """Start workers now rather than on first use; returns self."""
        return self

    def close(self) -> None:  # noqa: B027 - a backend with nothing to release needs no override
        """Stop every worker and release what the sandbox holds (idempotent)."""

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
