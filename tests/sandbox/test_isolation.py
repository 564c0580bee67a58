"""The isolation properties each backend promises, checked from inside a job."""

from __future__ import annotations

import os

import pytest

import sandbox
from sandbox import ExecStatus, Limits
from sandbox.interpreter import needed_dirs

from .conftest import IS_ROOT, make_box

PROBE = r"""
import os, json
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
def writable(path):
    try:
        with open(path, "a"):
            return True
    except OSError:
        return False
print(json.dumps({
    "uid": os.getuid(),
    "cap_eff": int(status["CapEff"].strip(), 16),
    "no_new_privs": status["NoNewPrivs"].strip(),
    "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "usr_writable": writable("/usr/lib/rlvr-probe"),
    "etc_writable": writable("/etc/rlvr-probe"),
    "tmp_writable": writable("/tmp/rlvr-probe"),
    "hostname": os.uname().nodename,
    "root_listing": sorted(os.listdir("/")),
    "unshare_user": __import__("ctypes").CDLL(None).unshare(0x10000000),
    "ptrace_parent": __import__("ctypes").CDLL(None).ptrace(16, os.getppid(), 0, 0),
}))
"""


def probe(box: sandbox.Sandbox) -> dict:
    import json

    res = box.run_python(PROBE)
    assert res.status is ExecStatus.OK, res
    return json.loads(res.stdout)


def test_every_backend_drops_privileges(box: sandbox.Sandbox) -> None:
    facts = probe(box)
    assert facts["cap_eff"] == 0
    assert facts["no_new_privs"] == "1"
    assert facts["unshare_user"] == -1  # no nested user namespaces (kernel attack surface)
    assert facts["ptrace_parent"] == -1  # PTRACE_ATTACH to the worker refused
    if IS_ROOT or box.name != "local":
        assert facts["uid"] != 0
    assert facts["tmp_writable"]
    if IS_ROOT or box.name != "local":
        assert not facts["usr_writable"] and not facts["etc_writable"]


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param("bwrap", marks=pytest.mark.bwrap),
        pytest.param("docker", marks=pytest.mark.docker),
    ],
)
def test_namespaced_backends_hide_the_host(backend: str, box: sandbox.Sandbox) -> None:
    facts = probe(box)
    assert facts["hostname"] == "sandbox"
    assert facts["pids"][0] == 1 and len(facts["pids"]) <= 3  # the worker, its job (+ spare)
    res = box.run_python(
        f"import os\nprint(os.path.exists({__file__!r}), os.path.exists('/root/.bashrc'))"
    )
    assert res.stdout == b"False False\n"  # neither this repository nor root's home


@pytest.mark.bwrap
def test_bwrap_shows_only_system_dirs_and_the_interpreter() -> None:
    box = make_box("bwrap", workers=1)
    try:
        facts = probe(box)
        # Only the system dirs plus the top-level dirs of the interpreter's own prefixes (a
        # venv checked out under /work, /check, /home/... in CI) may appear at the root.
        interpreter_tops = {p.strip("/").split("/")[0] for p in needed_dirs()}
        allowed = {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"}
        allowed |= {"etc", "tmp", "proc", "dev", "var"} | interpreter_tops
        assert set(facts["root_listing"]) <= allowed
        hidden = {"root", "home", "srv", "mnt", "media"} - interpreter_tops
        assert not hidden & set(facts["root_listing"])
        res = box.run_python("import os\nprint(sorted(os.listdir('/etc')))")
        assert "shadow" not in res.stdout_text
    finally:
        box.close()


@pytest.mark.docker
def test_container_memory_limit_is_reported_as_memory_limit() -> None:
    box = make_box("docker", workers=1, limits=Limits(memory_mb=128), disk_mb=32)
    try:
        res = box.run_python(
            "blocks = []\nwhile True:\n    b = bytearray(32 << 20)\n"
            "    b[::4096] = b'\\1' * len(b[::4096])\n    blocks.append(b)",
            limits=Limits(memory_mb=8000, wall_time_s=30),
        )
        assert res.status is ExecStatus.MEMORY_LIMIT, res
        assert box.run_python("print(1)").stdout == b"1\n"
    finally:
        box.close()


@pytest.mark.docker
def test_docker_rejects_a_missing_image() -> None:
    if sandbox.available_backends()["docker"]:
        pytest.skip("docker unavailable")
    with pytest.raises(sandbox.BackendUnavailable, match="rlvr-no-such-image"):
        sandbox.DockerSandbox(image="rlvr-no-such-image:latest", workers=1)


@pytest.mark.skipif(not IS_ROOT, reason="per-slot uids need root")
def test_slots_get_distinct_uids(box: sandbox.Sandbox) -> None:
    uids = box.job_uids()
    assert len(uids) == box.workers and 0 not in uids and os.getuid() not in uids


@pytest.mark.parametrize("backend", ["local", pytest.param("bwrap", marks=pytest.mark.bwrap)])
def test_interpreter_in_a_virtual_environment_under_tmp(backend: str) -> None:
    """The private /tmp must not hide an interpreter that lives there (a fresh clone's .venv)."""
    import shutil
    import subprocess
    import sys
    import tempfile

    if backend == "local" and not IS_ROOT:
        pytest.skip("without root the local backend keeps the host's /tmp")
    top = tempfile.mkdtemp(prefix="rlvr-venv-", dir="/tmp")
    try:
        venv = os.path.join(top, "clone", ".venv")
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=120
        )
        python = os.path.join(venv, "bin", "python")
        box = make_box(backend, workers=1, python=python)
        try:
            for _ in range(2):  # the tidy-up after a job must leave the interpreter alone
                res = box.run_python(
                    "import sys, os\nopen('/tmp/left', 'w').close()\n"
                    "print(sys.prefix, os.path.exists(sys.executable))"
                )
                assert res.status is ExecStatus.OK, res
                assert res.stdout_text.split() == [venv, "True"], res
        finally:
            box.close()
        assert os.path.exists(python) and not os.path.exists(os.path.join(top, "left"))
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.mark.docker
def test_stale_sweep_survives_a_container_removed_while_listed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another process's sandbox may remove its containers while this one sweeps stale ones
    (two test sessions on one daemon did): a container gone between listing and inspecting is
    skipped, never an error."""
    why = sandbox.available_backends()["docker"]
    if why:
        pytest.skip(f"docker unavailable: {why}")
    import docker
    from docker.models.containers import ContainerCollection

    from sandbox.docker_backend import LABEL, OWNER_LABEL, remove_stale_containers

    client = docker.from_env()
    image = client.images.list(filters={"reference": "rlvr-envs-sandbox"})[0]
    gone = client.containers.create(
        image.id, ["true"], labels={LABEL: "1", OWNER_LABEL: "elsewhere:1"}
    )
    get = ContainerCollection.get

    def removed_meanwhile(self, container_id, *args, **kwargs):  # noqa: ANN001, ANN202
        if container_id == gone.id:
            gone.remove(force=True)
        return get(self, container_id, *args, **kwargs)

    monkeypatch.setattr(ContainerCollection, "get", removed_meanwhile)
    try:
        assert remove_stale_containers(client) >= 0
    finally:
        monkeypatch.undo()
        try:
            gone.remove(force=True)
        except docker.errors.NotFound:
            pass
