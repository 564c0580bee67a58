"""SandboxFusion's ``/run_code`` wire format, both ways, with no web framework.

The service (``python -m sandbox serve``) turns a request into a :class:`Job` with
:func:`job_from_request` and a result into a response with :func:`response_from_result`; the
``remote`` backend does the reverse (:func:`request_from_job`, :func:`result_from_response`).

How our statuses map onto SandboxFusion's (``status`` / ``run_result.status``):

=================  ====================  ===============  =============
``ExecStatus``     ``run_result.status``  ``return_code``  ``status``
=================  ====================  ===============  =============
``ok``             ``Finished``           0                ``Success``
``nonzero_exit``   ``Finished``           the exit code    ``Failed``
``signal``         ``Finished``           minus the signal ``Failed``
``memory_limit``   ``Finished``           exit code / -9   ``Failed``
``output_limit``   ``Finished``           -9 (killed)      ``Failed``
``timeout``        ``TimeLimitExceeded``  null / -9        ``Failed``
``sandbox_error``  ``Error``              null             ``SandboxError``
=================  ====================  ===============  =============

Both sides also speak an extension SandboxFusion servers ignore: a request's ``rlvr`` object
carries what ``/run_code`` has no field for (every limit, environment variables, argv, the script
name, file modes, a command instead of code), and a response's ``rlvr`` object carries the exact
result (our status, signal, raw output in base64, truncation flags, CPU time). Against a plain
SandboxFusion server the ``remote`` backend falls back to the standard fields.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any

from .base import Job, check_relative_path
from .limits import Limits
from .result import ExecResult, ExecStatus

SUPPORTED_LANGUAGES = ("python",)
PROGRAM_NAME = "__rlvr_program__.py"  # the user's code when fetch_files needs a wrapper


class RequestError(ValueError):
    """A malformed ``/run_code`` request (the service answers HTTP 422)."""


class UnsupportedLanguage(RequestError):
    """A language this service does not run (answered ``SandboxError``, as SandboxFusion does)."""


def _number(body: Mapping[str, Any], key: str, default: float) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RequestError(f"{key} must be a number, not {value!r}")
    return float(value)


def _decode_files(files: Any, modes: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(files, Mapping):
        raise RequestError("files must map paths to base64 contents")
    out: dict[str, Any] = {}
    for name, encoded in files.items():
        try:
            check_relative_path(name, "file")
            content = b"" if encoded is None else base64.b64decode(encoded, validate=True)
        except (ValueError, TypeError, binascii.Error) as error:
            raise RequestError(f"file {name!r}: {error}") from None
        out[name] = (content, int(modes[name])) if name in modes else content
    return out


def job_from_request(
    body: Any, default_limits: Limits, max_run_timeout_s: float, max_memory_mb: int
) -> tuple[Job, list[str]]:
    """The job a ``/run_code`` request asks for, and the paths to fetch after it."""
    if not isinstance(body, Mapping):
        raise RequestError("the request body must be a JSON object")
    code, language = body.get("code"), body.get("language")
    if not isinstance(code, str):
        raise RequestError("code must be a string")
    if language not in SUPPORTED_LANGUAGES:
        raise UnsupportedLanguage(
            f"language {language!r} is not supported; this service runs: "
            + ", ".join(SUPPORTED_LANGUAGES)
        )
    stdin = body.get("stdin")
    if stdin is not None and not isinstance(stdin, str):
        raise RequestError("stdin must be a string or null")
    fetch = body.get("fetch_files") or []
    if not isinstance(fetch, list) or not all(isinstance(p, str) for p in fetch):
        raise RequestError("fetch_files must be a list of paths")
    try:
        for path in fetch:
            check_relative_path(path, "fetch_files")
    except ValueError as error:
        raise RequestError(str(error)) from None
    extension = body.get("rlvr") or {}
    if not isinstance(extension, Mapping):
        raise RequestError("rlvr must be an object")
    limits = _limits(body, extension, default_limits, max_run_timeout_s, max_memory_mb)
    files = _decode_files(body.get("files") or {}, extension.get("file_modes") or {})
    if "stdin_b64" in extension:  # exact bytes, which a JSON string cannot always carry
        try:
            stdin = base64.b64decode(extension["stdin_b64"], validate=True)
        except (TypeError, ValueError, binascii.Error) as error:
            raise RequestError(f"rlvr.stdin_b64: {error}") from None
    try:
        job = Job(
            code=None if "command" in extension else code,
            command=extension.get("command"),
            stdin=stdin,
            files=files,
            limits=limits,
            env=extension.get("env"),
            argv=extension.get("argv"),
            script=extension.get("script", "main.py"),
        )
    except (TypeError, ValueError) as error:
        raise RequestError(str(error)) from None
    return job, fetch


def _limits(
    body: Mapping[str, Any],
    extension: Mapping[str, Any],
    default: Limits,
    max_run_timeout_s: float,
    max_memory_mb: int,
) -> Limits:
    if "limits" in extension:
        try:
            limits = Limits(**extension["limits"])
        except (TypeError, ValueError) as error:
            raise RequestError(f"rlvr.limits: {error}") from None
    else:
        run_timeout = _number(body, "run_timeout", 10.0)
        _number(body, "compile_timeout", 10.0)  # Python has no compile step
        memory = _number(body, "memory_limit_MB", -1)
        if run_timeout <= 0:
            raise RequestError(f"run_timeout must be positive, not {run_timeout:g}")
        changes: dict[str, Any] = {"wall_time_s": run_timeout, "cpu_time_s": None}
        if memory > 0:
            changes["memory_mb"] = int(memory)
        limits = default.replace(**changes)
    if limits.wall_time_s > max_run_timeout_s:
        raise RequestError(
            f"run_timeout {limits.wall_time_s:g} s is over this service's maximum of "
            f"{max_run_timeout_s:g} s"
        )
    if limits.memory_mb > max_memory_mb:
        raise RequestError(
            f"memory {limits.memory_mb} MB is over this service's maximum of {max_memory_mb} MB"
        )
    return limits


def response_from_result(result: ExecResult, files: Mapping[str, str] | None = None) -> dict:
    """The ``/run_code`` response for a job's result (see the module's table)."""
    status = result.status
    if status is ExecStatus.SANDBOX_ERROR:
        run_status, overall = "Error", "SandboxError"
    elif status is ExecStatus.TIMEOUT:
        run_status, overall = "TimeLimitExceeded", "Failed"
    else:
        run_status, overall = "Finished", "Success" if status is ExecStatus.OK else "Failed"
    if result.exit_code is not None:
        return_code = result.exit_code
    elif result.signal is not None:
        return_code = -result.signal
    else:
        return_code = None
    stderr = result.stderr_text if status is not ExecStatus.SANDBOX_ERROR else result.detail
    return {
        "status": overall,
        "message": "" if status is ExecStatus.OK else result.detail or status.value,
        "compile_result": None,
        "run_result": {
            "status": run_status,
            "execution_time": result.wall_time_s,
            "cpu_time": result.cpu_time_s,
            "return_code": return_code,
            "stdout": result.stdout_text,
            "stderr": stderr,
        },
        "executor_pod_name": None,
        "files": dict(files or {}),
        "rlvr": {
            **{k: v for k, v in result.to_dict().items() if k not in ("stdout", "stderr")},
            "stdout_b64": base64.b64encode(result.stdout).decode("ascii"),
            "stderr_b64": base64.b64encode(result.stderr).decode("ascii"),
        },
    }


def request_from_job(job: Job, limits: Limits) -> dict[str, Any]:
    """The ``/run_code`` request for a job (standard fields plus the ``rlvr`` extension)."""
    files, modes = {}, {}
    for name, content in (job.files or {}).items():
        if isinstance(content, tuple):
            content, modes[name] = content
        data = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
        files[name] = base64.b64encode(bytes(data)).decode("ascii")
    stdin = job.stdin
    extension: dict[str, Any] = {"limits": dataclasses.asdict(limits), "script": job.script}
    if isinstance(stdin, bytes):
        extension["stdin_b64"] = base64.b64encode(stdin).decode("ascii")
        stdin = stdin.decode("utf-8", "replace")  # what a plain SandboxFusion server gets
    for key, value in (("env", job.env), ("argv", job.argv), ("command", job.command)):
        if value is not None:
            extension[key] = dict(value) if key == "env" else list(value)
    if modes:
        extension["file_modes"] = modes
    return {
        "code": job.code or "",
        "language": "python",
        "stdin": stdin,
        "run_timeout": limits.wall_time_s,
        "compile_timeout": limits.wall_time_s,
        "memory_limit_MB": limits.memory_mb,
        "files": files,
        "fetch_files": [],
        "rlvr": extension,
    }


def result_from_response(body: Any, backend: str) -> ExecResult:
    """The result a ``/run_code`` response reports (exactly, when it carries ``rlvr``)."""
    if not isinstance(body, Mapping):
        return ExecResult.sandbox_error(
            f"the service sent {type(body).__name__}, not an object", backend
        )
    exact = body.get("rlvr")
    if isinstance(exact, Mapping):
        try:
            fields = {k: v for k, v in exact.items() if k not in ("stdout_b64", "stderr_b64")}
            fields.update(
                status=ExecStatus(exact["status"]),
                stdout=base64.b64decode(exact["stdout_b64"]),
                stderr=base64.b64decode(exact["stderr_b64"]),
                backend=f"{backend}:{exact.get('backend', '')}",
            )
            return ExecResult(**fields)
        except (KeyError, TypeError, ValueError, binascii.Error) as error:
            return ExecResult.sandbox_error(f"malformed rlvr result: {error}", backend)
    return _standard_result(body, backend)


def _standard_result(body: Mapping[str, Any], backend: str) -> ExecResult:
    """A result from SandboxFusion's own fields (a server without the extension)."""
    run = body.get("run_result")
    if body.get("status") == "SandboxError" or not isinstance(run, Mapping):
        return ExecResult.sandbox_error(
            f"the service reported: {body.get('message') or body}", backend
        )
    stdout = str(run.get("stdout") or "").encode("utf-8", "surrogatepass")
    stderr = str(run.get("stderr") or "").encode("utf-8", "surrogatepass")
    wall = float(run.get("execution_time") or 0.0)
    code = run.get("return_code")
    common = {"stdout": stdout, "stderr": stderr, "wall_time_s": wall, "backend": backend}
    if run.get("status") == "TimeLimitExceeded":
        return ExecResult(ExecStatus.TIMEOUT, detail="time limit exceeded", **common)
    if run.get("status") != "Finished" or not isinstance(code, int):
        return ExecResult.sandbox_error(f"the service reported: {json.dumps(run)[:300]}", backend)
    if code < 0:
        return ExecResult(
            ExecStatus.SIGNAL, signal=-code, detail=f"killed by signal {-code}", **common
        )
    status = ExecStatus.OK if code == 0 else ExecStatus.NONZERO_EXIT
    return ExecResult(
        status, exit_code=code, detail="" if code == 0 else f"exit status {code}", **common
    )
