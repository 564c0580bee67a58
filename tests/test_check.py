import io
import subprocess
import sys

from rlvr_envs import register_dataset_env
from rlvr_envs.check import check_environment, run_check


def test_check_passes_on_a_procedural_env():
    out = io.StringIO()
    assert run_check(["rlvr/Arithmetic-v1", "rlvr/Algebra-v1"], limit=20, out=out) == 0
    table = out.getvalue()
    assert "rlvr/Arithmetic-v1" in table and "100.0%" in table and "verif/s" in table


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
            "rlvr/Arithmetic-v1",
            "--limit",
            "10",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "rlvr/Arithmetic-v1" in proc.stdout


def test_check_answers_with_an_echo_of_the_question():
    from rlvr_envs.check import question_echo
    from rlvr_envs.tasks import Task

    arithmetic = Task("a", "What is 3 + 5?", "8", metadata={"expression": "3 + 5"})
    assert question_echo(arithmetic) == "The answer is $\\boxed{3 + 5}$."
    binomial = Task("b", "Compute $\\dbinom{8}{4}$.", "70")
    assert question_echo(binomial) == "The answer is $\\boxed{\\dbinom{8}{4}}$."
    # No echo where the question's expression is the answer, or where there is nothing to compute.
    assert question_echo(Task("c", "What is $\\sqrt{53}$ in simplest form?", "\\sqrt{53}")) is None
    assert question_echo(Task("d", "Janet has 16 ducks...", "18")) is None
    assert question_echo(Task("e", "Write $x^2$ as code.", answer={"tests": []})) is None


def test_check_finds_an_environment_that_pays_echoes():
    # The -v0 grading pays \boxed{3 + 5}: asked for explicitly, check reports it.
    out = io.StringIO()
    assert run_check(["rlvr/Arithmetic-v0"], limit=20, out=out) == 1
    assert "FAIL rlvr/Arithmetic-v0" in out.getvalue() and "\\boxed{" in out.getvalue()
    result = check_environment("rlvr/Arithmetic-v1", limit=20)
    assert result.wrong_checked == 60 and result.wrong_rejected == 60  # two perturbed + one echo


def test_check_runs_the_newest_version_of_each_environment_by_default():
    from rlvr_envs.check import latest_versions

    ids = ["rlvr/Arithmetic-v0", "rlvr/Arithmetic-v1", "rlvr/HumanEval-v0", "x/Y-v3", "x/Y-v10"]
    assert latest_versions(ids) == ["rlvr/Arithmetic-v1", "rlvr/HumanEval-v0", "x/Y-v10"]
