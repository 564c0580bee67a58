"""``python -m sandbox serve`` through SandboxFusion's own client package, and bad requests.

Run with ``-s`` to see the client's responses.
"""

from __future__ import annotations

import base64

import httpx
import pytest

from .conftest import run_code_service

sandbox_fusion = pytest.importorskip("sandbox_fusion")
from sandbox_fusion import RunCodeRequest, RunStatus, run_code  # noqa: E402


def call(url, **request):
    response = run_code(RunCodeRequest(**request), endpoint=url, max_attempts=1)
    print(f"{request} -> {response}")
    return response


def test_the_sandboxfusion_client_runs_programs(service):
    url, _ = service
    ok = call(url, code="print(input()[::-1])", language="python", stdin="abc\n")
    assert ok.status is RunStatus.Success and ok.run_result.stdout == "cba\n"
    assert ok.run_result.return_code == 0 and ok.compile_result is None
    failed = call(url, code="import sys; print('x'); sys.exit(3)", language="python")
    assert failed.status is RunStatus.Failed and failed.run_result.return_code == 3
    assert failed.run_result.stdout == "x\n"
    raised = call(url, code="raise ValueError('nope')", language="python")
    assert raised.status is RunStatus.Failed and "ValueError: nope" in raised.run_result.stderr
    slow = call(url, code="while True: pass", language="python", run_timeout=0.5)
    assert slow.status is RunStatus.Failed
    assert slow.run_result.status.value == "TimeLimitExceeded"


def test_files_in_and_fetch_files_out(service):
    url, _ = service
    files = {"in.txt": base64.b64encode(b"hey").decode()}
    code = "data = open('in.txt').read()\nopen('out.txt', 'w').write(data * 2)\nprint('done')"
    response = call(
        url, code=code, language="python", files=files, fetch_files=["out.txt", "missing.txt"]
    )
    assert response.status is RunStatus.Success and response.run_result.stdout == "done\n"
    assert response.files == {"out.txt": base64.b64encode(b"heyhey").decode()}
    failed = call(url, code="import sys; sys.exit(4)", language="python", fetch_files=["x"])
    assert failed.status is RunStatus.Failed and failed.run_result.return_code == 4


def test_other_languages_get_sandbox_error_naming_python(service):
    url, _ = service
    with pytest.raises(Exception, match="not supported; this service runs: python"):
        run_code(RunCodeRequest(code="int main(){}", language="cpp"), endpoint=url, max_attempts=1)
    raw = httpx.post(url + "/run_code", json={"code": "", "language": "nodejs"}).json()
    assert raw["status"] == "SandboxError" and raw["run_result"]["status"] == "Error"
    assert "python" in raw["message"]


def test_limits_map_onto_failed_runs(service):
    url, _ = service

    def run(code, **extra):
        body = {"code": code, "language": "python", **extra}
        return httpx.post(url + "/run_code", json=body, timeout=30).json()

    memory = run("x = bytearray(400 << 20)", memory_limit_MB=64)
    assert memory["status"] == "Failed" and memory["rlvr"]["status"] == "memory_limit"
    killed = run("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    assert killed["run_result"]["return_code"] == -11 and killed["rlvr"]["status"] == "signal"
    flood = run("print('x' * 5_000_000)")
    assert flood["status"] == "Failed" and flood["rlvr"]["status"] == "output_limit"


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"{oops", 400),
        (b'{"code": 1, "language": "python"}', 422),
        (b'{"code": "", "language": "python", "run_timeout": 999}', 422),
        (b'{"code": "", "language": "python", "files": {"../x": ""}}', 422),
    ],
)
def test_bad_requests_get_4xx(service, content, status):
    url, _ = service
    answer = httpx.post(url + "/run_code", content=content)
    assert answer.status_code == status and answer.json()["detail"]


def test_health_and_ping(service):
    url, served = service
    health = httpx.get(url + "/health").json()
    assert health["status"] == "healthy" and health["backend"] == "local"
    assert health["languages"] == ["python"] and health["jobs"] == served.jobs
    assert httpx.get(url + "/v1/ping").json() == "pong"


def test_oversize_bodies_are_refused(local_pool):
    with run_code_service(local_pool, max_body_bytes=1024) as (url, _):
        body = {"code": "#" * 2000, "language": "python"}
        assert httpx.post(url + "/run_code", json=body).status_code == 413

        def chunks():  # no content-length: counted as it arrives
            for _ in range(4):
                yield b" " * 512

        assert httpx.post(url + "/run_code", content=chunks()).status_code == 413
        assert (
            httpx.post(url + "/run_code", json={"code": "", "language": "python"}).json()["status"]
            == "Success"
        )


@pytest.mark.slow  # a server in its own process
def test_the_serve_command_runs_a_service(service_process):
    proc = service_process("--backend", "local", "--workers", "1")
    response = run_code(
        RunCodeRequest(code="print(6 * 7)", language="python"), endpoint=proc.url, max_attempts=1
    )
    assert response.run_result.stdout == "42\n"
