"""The python and run_tests tools: what the model reads back, and what it never sees."""

from __future__ import annotations

import gymnasium as gym
import pytest

from rlvr_envs.tasks import Task
from rlvr_envs.tools import ToolContext, ToolError, get_tool
from rlvr_envs.tools.builtin import public_tests, truncate
from sandbox import Limits

HIDDEN = "assert add(2, 2) == 4\nassert add(10, -3) == 999  # hidden, and wrong for add"
TASK = Task(
    id="t",
    prompt="Write add(a, b).",
    answer={"tests": "import math\n" + HIDDEN, "entry_point": "add"},
    metadata={"example": "assert add(1, 1) == 2"},
)


@pytest.fixture
def context():
    ctx = ToolContext(TASK, sandbox="local", max_output_chars=300)
    yield ctx
    ctx.close()


def test_python_tool_output_is_truncated_head_and_tail(context: ToolContext) -> None:
    python = get_tool("python")
    text = python.invoke({"code": "for i in range(2000):\n    print(i)"}, context)
    assert len(text) < 400 and text.startswith("0\n1\n") and text.endswith("1998\n1999")
    assert "characters left out" in text
    assert python.invoke({"code": "x = 1"}, context) == "(no output)"


def test_python_tool_reports_lost_state_after_a_crash(context: ToolContext) -> None:
    context.session_limits = Limits(wall_time_s=2.0)
    python = get_tool("python")
    python.invoke({"code": "v = 1"}, context)
    text = python.invoke({"code": "import os; os._exit(3)"}, context)
    assert "the interpreter stopped" in text and "session restarted" in text
    assert "NameError" in python.invoke({"code": "v"}, context)


def test_run_tests_runs_only_the_public_tests(context: ToolContext) -> None:
    run_tests = get_tool("run_tests")
    good = run_tests.invoke({"code": "def add(a, b):\n    return a + b"}, context)
    assert good == "1 of 1 public tests passed."  # the failing hidden test is never run
    assert "999" not in good and "hidden" not in good
    bad = run_tests.invoke({"code": "def add(a, b):\n    return a - b"}, context)
    assert "FAILED: assert add(1, 1) == 2" in bad and "0 of 1 public tests passed." in bad
    crash = run_tests.invoke({"code": "def add(a, b) return"}, context)
    assert "failed before any test ran" in crash and "SyntaxError" in crash


def test_public_tests_keep_imports_and_setup_but_no_hidden_asserts() -> None:
    setup, tests = public_tests(TASK)
    assert setup == "import math" and tests == ["assert add(1, 1) == 2"]
    explicit = Task("u", "p", metadata={"public_tests": ["assert f() == 1", "assert f(2) == 3"]})
    assert public_tests(explicit)[1] == ["assert f() == 1", "assert f(2) == 3"]
    with pytest.raises(ToolError, match="no public tests"):
        public_tests(Task("v", "p"))


def test_mbpp_tests_env_gives_run_tests_the_example_only(shared_data) -> None:
    env = gym.make("rlvr/MBPP-Tests-v0", sandbox="local")
    try:
        obs, info = env.reset(seed=0)
        task = env.unwrapped.task
        assert '"name": "run_tests"' in obs and task.metadata["example"] in obs
        _, tests = public_tests(task)
        assert tests == [task.metadata["example"]]
        hidden = [line for line in task.answer["tests"].splitlines() if line.startswith("assert")]
        assert len(hidden) > len(tests)  # the verifier has more tests than the tool shows
    finally:
        env.close()


def test_truncate() -> None:
    assert truncate("short", 100) == "short"
    out = truncate("a" * 50 + "b" * 50, 30)
    assert out.startswith("a" * 20) and out.endswith("b" * 10) and "70 characters left out" in out
