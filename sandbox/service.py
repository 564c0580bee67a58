"""``python -m sandbox serve``: a SandboxFusion-compatible code-execution service over a pool.

``POST /run_code`` takes SandboxFusion's request (``code``, ``language``, ``stdin``,
``run_timeout``, ``memory_limit_MB``, ``files``, ``fetch_files``) and answers its response (see
:mod:`sandbox.fusion` for the status mapping); ``GET /health`` (and SandboxFusion's
``GET /v1/ping``) say it is up. Jobs run on one local sandbox pool (``local``, ``bwrap`` or
``docker``). Only Python is accepted; another language gets ``SandboxError`` naming what is.
FastAPI and uvicorn (the ``serve`` extra) are imported by this module only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .base import Job, Sandbox
from .fusion import (
    PROGRAM_NAME,
    RequestError,
    UnsupportedLanguage,
    job_from_request,
    response_from_result,
)
from .limits import MIB, Limits
from .listen import listening_socket
from .result import ExecResult, ExecStatus

log = logging.getLogger("sandbox.service")

FETCH_WRAPPER = Path(__file__).with_name("_fetch_wrapper.py").read_text(encoding="utf-8")


def with_fetch_wrapper(job: Job, fetch: list[str]) -> Job:
    """The job that runs ``job`` under the wrapper reporting ``fetch`` files afterwards."""
    if job.code is None:
        raise RequestError("fetch_files needs code, not a command")
    limits = job.limits or Limits()
    # The wrapper's one report line holds both streams and the files, in base64.
    budget = 2 * limits.output_bytes + len(fetch) * limits.file_size_mb * MIB
    return replace(
        job,
        code=FETCH_WRAPPER,
        files={**(job.files or {}), PROGRAM_NAME: job.code},
        argv=["main.py", str(limits.output_bytes), json.dumps(fetch)],
        limits=limits.replace(output_bytes=budget * 4 // 3 + 65536),
    )


def unwrap_fetch(result: ExecResult) -> tuple[ExecResult, dict[str, str]]:
    """The program's own result and the fetched files, from the wrapper's report."""
    if result.status is not ExecStatus.OK:
        return result, {}
    try:
        report = json.loads(result.stdout.strip().splitlines()[-1])
        code = int(report["code"])
        stdout = base64.b64decode(report["stdout"])
        stderr = base64.b64decode(report["stderr"])
        files = {k: v for k, v in report["files"].items() if isinstance(v, str)}
    except (ValueError, KeyError, IndexError, TypeError):
        # Only the program itself can garble the wrapper's report: its failure, not ours.
        return replace(
            result,
            status=ExecStatus.NONZERO_EXIT,
            exit_code=1,
            detail="the program interfered with the fetch_files wrapper",
        ), {}
    truncated = bool(report.get("stdout_truncated") or report.get("stderr_truncated"))
    if truncated:
        status, detail = ExecStatus.OUTPUT_LIMIT, "output limit exceeded"
    elif code < 0:
        status, detail = ExecStatus.SIGNAL, f"killed by signal {-code}"
    else:
        status, detail = (
            (ExecStatus.OK, "") if code == 0 else (ExecStatus.NONZERO_EXIT, f"exit status {code}")
        )
    program = replace(
        result,
        status=status,
        exit_code=code if code >= 0 else None,
        signal=-code if code < 0 else None,
        stdout=stdout,
        stderr=stderr,
        stdout_truncated=bool(report.get("stdout_truncated")),
        stderr_truncated=bool(report.get("stderr_truncated")),
        detail=detail,
    )
    return program, files


class RunCodeService:
    """Turns ``/run_code`` bodies into jobs on ``box`` and results into responses.

    Jobs are submitted from the service's own threads, which live as long as it does (the pool
    starts workers from a long-lived thread anyway: bwrap's ``--die-with-parent`` ties a worker
    to the thread that started it).
    """

    def __init__(
        self,
        box: Sandbox,
        *,
        default_limits: Limits | None = None,
        max_run_timeout_s: float = 300.0,
        max_memory_mb: int = 8192,
        max_body_bytes: int = 64 * MIB,
    ) -> None:
        self.box = box
        self.max_body_bytes = max_body_bytes
        self.default_limits = default_limits or Limits()
        self.max_run_timeout_s = max_run_timeout_s
        self.max_memory_mb = max_memory_mb
        self.jobs = 0
        self.in_flight = 0
        self._count_lock = threading.Lock()
        # Jobs waiting for a pool worker hold a thread; more than a few per worker only queue.
        self.threads = ThreadPoolExecutor(max(4, 4 * box.workers), thread_name_prefix="run-code")

    def warm_up(self) -> list[ExecResult]:
        """Start every pool worker (from the service's threads) with a job that does nothing."""
        futures = [
            self.threads.submit(self.box.submit, Job(code="pass")) for _ in range(self.box.workers)
        ]
        return [f.result() for f in futures]

    def close(self) -> None:
        """Stop the threads and the pool."""
        self.threads.shutdown(wait=False, cancel_futures=True)
        self.box.close()

    def run(self, body: Any) -> dict[str, Any]:
        """The response to one request body (blocking: call it in a thread)."""
        try:
            job, fetch = job_from_request(
                body, self.default_limits, self.max_run_timeout_s, self.max_memory_mb
            )
            if fetch:
                job = with_fetch_wrapper(job, fetch)
        except UnsupportedLanguage as error:
            return response_from_result(ExecResult.sandbox_error(str(error), self.box.name))
        with self._count_lock:
            self.in_flight += 1
        try:
            result = self.box.submit(job)
        except Exception as error:  # a closed or broken pool: the machinery's fault
            log.warning("job failed in the sandbox: %r", error)
            result = ExecResult.sandbox_error(f"{type(error).__name__}: {error}", self.box.name)
        finally:
            with self._count_lock:
                self.in_flight -= 1
                self.jobs += 1
        files: dict[str, str] = {}
        if fetch:
            result, files = unwrap_fetch(result)
        return response_from_result(result, files)

    def health(self) -> dict[str, Any]:
        """``GET /health``."""
        return {
            "status": "healthy",
            "backend": self.box.name,
            "workers": self.box.workers,
            "jobs": self.jobs,
            "in_flight": self.in_flight,
            "languages": ["python"],
        }


def create_app(service: RunCodeService) -> FastAPI:
    """The FastAPI application for ``service``."""
    max_body_bytes = service.max_body_bytes
    app = FastAPI(title="rlvr-envs sandbox (SandboxFusion /run_code)", version="1.0.0")
    app.state.service = service

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness and load."""
        return service.health()

    @app.get("/v1/ping")
    async def ping() -> str:
        """SandboxFusion's liveness probe."""
        return "pong"

    @app.post("/run_code")
    async def run_code(request: Request) -> JSONResponse:
        """Run one program; SandboxFusion's response."""
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_body_bytes:
            return JSONResponse({"detail": f"request body over {max_body_bytes} bytes"}, 413)
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > max_body_bytes:
                return JSONResponse({"detail": f"request body over {max_body_bytes} bytes"}, 413)
        try:
            body = json.loads(raw)
        except ValueError as error:
            return JSONResponse({"detail": f"the body is not valid JSON: {error}"}, 400)
        try:
            loop = asyncio.get_running_loop()
            answer = await loop.run_in_executor(service.threads, service.run, body)
        except RequestError as error:
            return JSONResponse({"detail": str(error)}, 422)
        return JSONResponse(answer)

    return app


def serve_main(argv: list[str]) -> int:
    """``python -m sandbox serve``: run the service until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox serve",
        description="A SandboxFusion-compatible /run_code service over a local sandbox pool.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (0: a free one, printed)")
    parser.add_argument("--backend", default="auto", help="local, bwrap, docker or auto")
    parser.add_argument("--workers", type=int, default=2, help="warm sandbox workers")
    parser.add_argument("--max-run-timeout", type=float, default=300.0, help="seconds")
    parser.add_argument("--max-memory-mb", type=int, default=8192)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    import uvicorn

    from .base import BackendUnavailable
    from .registry import get_sandbox

    try:
        box = get_sandbox(args.backend, shared=False, workers=args.workers)
    except (BackendUnavailable, ValueError) as error:
        print(f"sandbox serve: {error}", file=sys.stderr)
        return 2
    service = RunCodeService(
        box, max_run_timeout_s=args.max_run_timeout, max_memory_mb=args.max_memory_mb
    )
    broken = [r.detail for r in service.warm_up() if not r.ok]
    if len(broken) == box.workers:
        print(f"sandbox serve: the {box.name} pool cannot run jobs: {broken[0]}", file=sys.stderr)
        service.close()
        return 2
    try:
        sock = listening_socket(args.host, args.port)
    except OSError as error:
        print(f"sandbox serve: cannot bind {args.host}:{args.port}: {error}", file=sys.stderr)
        service.close()
        return 2
    host, port = sock.getsockname()[:2]
    print(
        f"sandbox serve: {box.name} backend, {box.workers} workers, on http://{host}:{port}",
        flush=True,
    )
    try:
        server = uvicorn.Server(uvicorn.Config(create_app(service), log_level=args.log_level))
        server.run(sockets=[sock])
    finally:
        service.close()
    return 0
