import io
import subprocess
import sys

from rlvr_envs import register_dataset_env
from rlvr_envs.check import check_environment, run_check


def test_check_passes_on_a_procedural_env():
    out = io.StringIO()
    assert run_check(["rlvr/Arithmetic-v0", "rlvr/Algebra-v0"], limit=20, out=out) == 0
    table = out.getvalue()
    assert "rlvr/Arithmetic-v0" in table and "100.0%" in table and "verif/s" in table


def test_check_fails_on_a_broken_dataset():
    rows = [
        {"q": "1+1?", "a": "2", "ref": "\\boxed{2}"},
        {"q": "2+2?", "a": "5", "ref": "\\boxed{4}"},  # wrong gold: the reference fails
    ]
    register_dataset_env(
        "testorg/BrokenGold-v0",
        data=rows,
        prompt_field="q",
        answer_field="a",
        solution_field="ref",
    )
    result = check_environment("testorg/BrokenGold-v0")
    assert result.tasks_checked == 2 and result.references_passed == 1
    assert "testorg/BrokenGold-v0/1" in result.failures[0]
    out = io.StringIO()
    assert run_check(["testorg/BrokenGold-v0"], out=out) == 1
    assert "FAIL testorg/BrokenGold-v0" in out.getvalue()


def test_check_skips_envs_without_references_and_fails_on_unmakeable_ones():
    register_dataset_env(
        "testorg/NoRefs-v0", data=[{"q": "x", "a": "1"}], prompt_field="q", answer_field="a"
    )
    assert check_environment("testorg/NoRefs-v0").skipped == "no reference solutions"
    out = io.StringIO()
    assert run_check(["rlvr/NoSuchEnv-v0"], out=out) == 1
    assert "could not make it" in out.getvalue()


def test_check_command_line():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rlvr_envs",
            "check",
            "--env",
            "rlvr/Arithmetic-v0",
            "--limit",
            "10",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "rlvr/Arithmetic-v0" in proc.stdout
