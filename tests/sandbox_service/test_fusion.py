"""The /run_code wire mapping alone: requests to jobs, results to responses, and back."""

from __future__ import annotations

import base64

import pytest

from sandbox import ExecResult, ExecStatus, Job, Limits
from sandbox.fusion import (
    RequestError,
    UnsupportedLanguage,
    job_from_request,
    request_from_job,
    response_from_result,
    result_from_response,
)

DEFAULTS = Limits()


def parse(body):
    return job_from_request(body, DEFAULTS, max_run_timeout_s=60, max_memory_mb=2048)


def test_a_sandboxfusion_request_becomes_a_job():
    body = {
        "code": "print(1)",
        "language": "python",
        "stdin": "x\n",
        "run_timeout": 3,
        "compile_timeout": 9,
        "memory_limit_MB": 300,
        "files": {"data/a.txt": base64.b64encode(b"\x00hi").decode(), "empty": None},
        "fetch_files": ["out.txt"],
    }
    job, fetch = parse(body)
    assert job.code == "print(1)" and job.stdin == "x\n" and fetch == ["out.txt"]
    assert job.files == {"data/a.txt": b"\x00hi", "empty": b""}
    assert job.limits.wall_time_s == 3 and job.limits.memory_mb == 300
    assert job.limits.cpu_time_s is None  # the CPU limit follows the wall limit
    default_job, _ = parse({"code": "", "language": "python", "memory_limit_MB": -1})
    assert default_job.limits.memory_mb == DEFAULTS.memory_mb


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ([], "JSON object"),
        ({"language": "python"}, "code"),
        ({"code": "", "language": "python", "run_timeout": "soon"}, "run_timeout"),
        ({"code": "", "language": "python", "run_timeout": 0}, "positive"),
        ({"code": "", "language": "python", "run_timeout": 61}, "maximum of 60"),
        ({"code": "", "language": "python", "memory_limit_MB": 4096}, "maximum of 2048"),
        ({"code": "", "language": "python", "files": {"a": "***"}}, "file 'a'"),
        ({"code": "", "language": "python", "files": {"../x": ""}}, "relative path"),
        ({"code": "", "language": "python", "fetch_files": ["/etc/passwd"]}, "relative path"),
        ({"code": "", "language": "python", "stdin": 5}, "stdin"),
        (
            {"code": "", "language": "python", "rlvr": {"limits": {"wall_time_s": -1}}},
            "rlvr.limits",
        ),
    ],
)
def test_malformed_requests_are_refused(body, match):
    with pytest.raises(RequestError, match=match):
        parse(body)


def test_other_languages_are_refused_naming_python():
    with pytest.raises(UnsupportedLanguage, match="runs: python"):
        parse({"code": "int main(){}", "language": "cpp"})


def result(status, **fields):
    return ExecResult(status, backend="local", **fields)


@pytest.mark.parametrize(
    ("exec_result", "status", "run_status", "return_code"),
    [
        (result(ExecStatus.OK, exit_code=0, stdout=b"hi\n"), "Success", "Finished", 0),
        (
            result(ExecStatus.NONZERO_EXIT, exit_code=3, detail="exit status 3"),
            "Failed",
            "Finished",
            3,
        ),
        (
            result(ExecStatus.SIGNAL, signal=11, detail="killed by SIGSEGV"),
            "Failed",
            "Finished",
            -11,
        ),
        (result(ExecStatus.MEMORY_LIMIT, exit_code=1, detail="memory"), "Failed", "Finished", 1),
        (result(ExecStatus.OUTPUT_LIMIT, signal=9, detail="output"), "Failed", "Finished", -9),
        (result(ExecStatus.TIMEOUT, signal=9, detail="wall"), "Failed", "TimeLimitExceeded", -9),
        (ExecResult.sandbox_error("worker died", "local"), "SandboxError", "Error", None),
    ],
)
def test_statuses_map_onto_sandboxfusions(exec_result, status, run_status, return_code):
    response = response_from_result(exec_result)
    assert response["status"] == status
    assert response["run_result"]["status"] == run_status
    assert response["run_result"]["return_code"] == return_code
    assert response["compile_result"] is None
    assert (response["message"] == "") is (status == "Success")
    assert result_from_response(response, "remote").status is exec_result.status


def test_a_job_survives_the_round_trip_exactly():
    job = Job(
        code="import sys; print(sys.argv)",
        stdin=b"\xff\xfe raw bytes",
        files={"run.sh": ("echo hi\n", 0o755), "blob": b"\x00\x01"},
        limits=Limits(wall_time_s=2, memory_mb=128, output_bytes=4096),
        env={"MODE": "test"},
        argv=["prog", "--flag"],
        script="prog.py",
    )
    parsed, fetch = job_from_request(request_from_job(job, job.limits), DEFAULTS, 60, 2048)
    assert fetch == []
    assert parsed.stdin == job.stdin and parsed.limits == job.limits
    assert parsed.files == {"run.sh": (b"echo hi\n", 0o755), "blob": b"\x00\x01"}
    assert (parsed.env, parsed.argv, parsed.script, parsed.code) == (
        job.env,
        job.argv,
        job.script,
        job.code,
    )
    command = Job(command=["ls", "-l"])
    assert job_from_request(request_from_job(command, DEFAULTS), DEFAULTS, 60, 2048)[0].command == (
        ["ls", "-l"]
    )


def test_exact_results_survive_the_round_trip():
    original = result(
        ExecStatus.OUTPUT_LIMIT,
        signal=9,
        stdout=b"\xff" * 3,
        stdout_truncated=True,
        cpu_time_s=0.5,
        wall_time_s=0.7,
        max_rss_kb=100,
        detail="output limit exceeded",
    )
    back = result_from_response(response_from_result(original), "remote")
    assert back.status is original.status and back.stdout == original.stdout
    assert back.stdout_truncated and back.signal == 9 and back.cpu_time_s == 0.5
    assert back.backend == "remote:local"


def test_plain_sandboxfusion_responses_are_read_from_their_standard_fields():
    def plain(status, run_status, code, stdout=""):
        return {
            "status": status,
            "message": "",
            "run_result": {
                "status": run_status,
                "return_code": code,
                "stdout": stdout,
                "stderr": "",
                "execution_time": 0.1,
            },
        }

    ok = result_from_response(plain("Success", "Finished", 0, "hi\n"), "remote")
    assert ok.status is ExecStatus.OK and ok.stdout == b"hi\n"
    assert (
        result_from_response(plain("Failed", "Finished", 2), "r").status is ExecStatus.NONZERO_EXIT
    )
    assert result_from_response(plain("Failed", "Finished", -9), "r").signal == 9
    assert result_from_response(plain("Failed", "TimeLimitExceeded", None), "r").status is (
        ExecStatus.TIMEOUT
    )
    for broken in (
        {"status": "SandboxError", "message": "boom"},
        plain("Failed", "Error", None),
        plain("Success", "Finished", None),
        {"status": "Success"},
        "not an object",
        {"rlvr": {"status": "ok"}},
    ):
        assert result_from_response(broken, "r").status is ExecStatus.SANDBOX_ERROR
