"""The ``remote`` backend: jobs run on SandboxFusion-compatible services over HTTP.

``get_sandbox("remote", url="http://box:8080")`` or ``urls=[...]`` (default:
``$RLVR_SANDBOX_URLS``, comma-separated) sends each job to ``POST /run_code`` of one of the
services: ``python -m sandbox serve`` instances, which honour every limit and return the exact
result, or SandboxFusion itself (standard fields only; see :mod:`sandbox.fusion`).

- Load balancing: each job goes to the reachable service with the fewest jobs in flight from
  this process.
- Faults are ``sandbox_error``, never a wrong answer. A service that refuses the connection is
  skipped for ``down_s`` and the job is retried on another (up to ``retries`` times); a job whose
  service dies, hangs past the job's wall time plus ``timeout_s``, or answers garbage is not
  retried (it may have run) and comes back ``sandbox_error``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from .base import BackendUnavailable, Job, Sandbox, SandboxError
from .fusion import request_from_job, result_from_response
from .limits import Limits
from .registry import DELEGATING
from .result import ExecResult

URLS_VARIABLE = "RLVR_SANDBOX_URLS"


class _Service:
    """One service and what this process knows of it."""

    __slots__ = ("url", "in_flight", "down_until", "jobs")

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.in_flight = 0
        self.down_until = 0.0
        self.jobs = 0


def _configured_urls(url: str | None, urls: Sequence[str] | None) -> list[str]:
    if url is not None and urls is not None:
        raise ValueError("give url= or urls=, not both")
    if url is not None:
        return [url]
    if urls is not None:
        if isinstance(urls, str):
            raise TypeError("urls must be a list of URLs; use url= for one")
        return list(urls)
    return [u.strip() for u in os.environ.get(URLS_VARIABLE, "").split(",") if u.strip()]


class RemoteSandbox(Sandbox):
    """Runs jobs on remote ``/run_code`` services (see the module docstring).

    ``workers`` is how many jobs ``run_many`` keeps in flight (default 4 per service);
    ``limits`` is the default for jobs that give none. Jobs never get network access.
    """

    name = "remote"

    def __init__(
        self,
        *,
        url: str | None = None,
        urls: Sequence[str] | None = None,
        workers: int | None = None,
        limits: Limits | None = None,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        retries: int = 2,
        down_s: float = 2.0,
        allow_network: bool = False,
        disk_mb: int | None = None,  # accepted for get_sandbox("auto", ...); the service decides
        preload: Sequence[str] | None = None,  # likewise
    ) -> None:
        _configured_urls(url, urls)  # a misuse (both, or a string for urls) is a ValueError
        reason = self.unavailable_reason(url=url, urls=urls)
        if reason:
            raise BackendUnavailable(f"remote sandbox unavailable: {reason}")
        if allow_network:
            raise ValueError("remote sandbox services give jobs no network access")
        import httpx

        self.services = [_Service(u) for u in _configured_urls(url, urls)]
        self.workers = workers or 4 * len(self.services)
        self.default_limits = limits or Limits()
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.retries = retries
        self.down_s = down_s
        self._lock = threading.Lock()
        self._closed = False
        self._http = httpx.Client(
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=4 * self.workers)
        )

    @classmethod
    def unavailable_reason(cls, **options: Any) -> str | None:
        """Needs httpx and at least one service URL."""
        try:
            import httpx  # noqa: F401
        except ImportError:
            return "needs httpx (pip install 'rlvr-envs[serve]')"
        try:
            urls = _configured_urls(options.get("url"), options.get("urls"))
        except (TypeError, ValueError) as error:
            return str(error)
        if not urls:
            return f"needs url=, urls= or ${URLS_VARIABLE}"
        bad = [u for u in urls if not u.startswith(("http://", "https://"))]
        if bad:
            return f"service URLs must start with http:// or https://: {bad}"
        return None

    # --- choosing a service ------------------------------------------------------------------------

    def _pick(self, tried: list[_Service]) -> _Service | None:
        """The least-loaded service not tried yet, preferring those not marked down."""
        now = time.monotonic()
        with self._lock:
            left = [s for s in self.services if s not in tried]
            if not left:
                return None
            best = min(left, key=lambda s: (s.down_until > now, s.in_flight, s.down_until, s.jobs))
            best.in_flight += 1
            best.jobs += 1
            return best

    def _done(self, service: _Service, down: bool) -> None:
        with self._lock:
            service.in_flight -= 1
            service.down_until = time.monotonic() + self.down_s if down else 0.0

    # --- jobs --------------------------------------------------------------------------------------

    def submit(self, job: Job) -> ExecResult:
        """Run one job on a service (blocking; safe from many threads)."""
        import httpx

        if self._closed:
            raise SandboxError("remote sandbox is closed")
        limits = job.limits or self.default_limits
        if limits.network:
            raise ValueError("remote sandbox services give jobs no network access")
        body = request_from_job(job, limits)
        timeout = httpx.Timeout(limits.wall_time_s + self.timeout_s, connect=self.connect_timeout_s)
        tried: list[_Service] = []
        refusals = []
        for _ in range(self.retries + 1):
            service = self._pick(tried)
            if service is None:
                break
            tried.append(service)
            started = time.monotonic()
            try:
                answer = self._http.post(service.url + "/run_code", json=body, timeout=timeout)
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                # The request never reached the service, so another one may run it.
                self._done(service, down=True)
                refusals.append(f"{service.url}: {error or type(error).__name__}")
                continue
            except httpx.HTTPError as error:
                self._done(service, down=True)
                what = (
                    "did not answer in time"
                    if isinstance(error, httpx.TimeoutException)
                    else (f"failed mid-job ({type(error).__name__}: {error})")
                )
                return ExecResult.sandbox_error(
                    f"sandbox service {service.url} {what}", self.name, time.monotonic() - started
                )
            self._done(service, down=answer.status_code >= 500)
            return self._result(service, job, answer)
        reason = "; ".join(refusals) or "no service configured"
        return ExecResult.sandbox_error(f"no sandbox service reachable ({reason})", self.name)

    def _result(self, service: _Service, job: Job, answer: Any) -> ExecResult:
        if answer.status_code != 200:
            return ExecResult.sandbox_error(
                f"sandbox service {service.url} answered HTTP {answer.status_code}: "
                f"{answer.text[:300]}",
                self.name,
            )
        try:
            data = answer.json()
        except ValueError:
            return ExecResult.sandbox_error(
                f"sandbox service {service.url} sent a body that is not JSON", self.name
            )
        if job.command is not None and not (isinstance(data, dict) and "rlvr" in data):
            return ExecResult.sandbox_error(
                f"{service.url} is not an rlvr-envs sandbox service; command jobs need one",
                self.name,
            )
        return result_from_response(data, self.name)

    def start(self) -> RemoteSandbox:
        """Check every service answers ``/health``; raises if none does."""
        failures = []
        for service in self.services:
            try:
                answer = self._http.get(service.url + "/health", timeout=self.connect_timeout_s)
                if answer.status_code == 200:
                    continue
                failures.append(f"{service.url}: HTTP {answer.status_code}")
            except Exception as error:  # any failure to answer is what we report
                failures.append(f"{service.url}: {error}")
            service.down_until = time.monotonic() + self.down_s
        if len(failures) == len(self.services):
            raise SandboxError("no sandbox service answered /health: " + "; ".join(failures))
        return self

    def close(self) -> None:
        """Close the HTTP connections (the services keep running)."""
        self._closed = True
        self._http.close()

    def __repr__(self) -> str:
        return f"<RemoteSandbox {[s.url for s in self.services]}>"


DELEGATING[RemoteSandbox.name] = RemoteSandbox
