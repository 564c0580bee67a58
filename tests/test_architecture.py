"""The layers hold: no upward import, no import circle, no function over 150 lines.

Layers, bottom up: ``sandbox`` (imports neither), ``rlvr_envs`` (never imports ``agents``),
``agents``. Imports inside functions count too: a lazy import is still a dependency. The upper
layers plug into ``rlvr_envs`` through :mod:`rlvr_envs.plugins`, declared as entry points.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .architecture import import_cycles, import_graph, layer_violations, long_functions

ROOT = Path(__file__).resolve().parents[1]


def test_no_layer_imports_a_layer_above_it():
    violations = layer_violations(import_graph(ROOT))
    assert not violations, "upward imports:\n" + "\n".join(violations)


def test_no_import_circles():
    cycles = import_cycles(import_graph(ROOT))
    assert not cycles, "modules that import each other: " + "; ".join(map(str, cycles))


def test_the_checks_catch_upward_imports_and_circles(tmp_path):
    files = {
        "sandbox/__init__.py": "",
        "sandbox/run.py": "def f():\n    import rlvr_envs.env\n",
        "rlvr_envs/__init__.py": "from .env import Env\n",
        "rlvr_envs/env.py": "from rlvr_envs import other\n",
        "rlvr_envs/other.py": "from . import env\nfrom agents import Agent\n",
        "agents/__init__.py": "import sandbox\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    edges = import_graph(tmp_path)
    violations = layer_violations(edges)
    assert len(violations) == 2
    assert "sandbox.run imports rlvr_envs.env (inside a function)" in violations[0]
    assert "rlvr_envs.other imports agents" in violations[1]
    assert import_cycles(edges) == [["rlvr_envs.env", "rlvr_envs.other"]]


def test_no_function_is_longer_than_150_lines():
    # The zygote is the sandbox's one-file supervisor, kept whole on purpose.
    found = long_functions(ROOT, 150, skip=["sandbox/_zygote.py"])
    assert not found, "functions over 150 lines:\n" + "\n".join(found)


def test_the_length_check_counts_decorators_and_bodies(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(148))
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "long.py").write_text(f"@staticmethod\ndef f():\n{body}\n")
    assert long_functions(tmp_path, 150) == []
    (tmp_path / "agents" / "long.py").write_text(f"@staticmethod\ndef f():\n{body}\n    y = 1\n")
    assert long_functions(tmp_path, 150) == [f"{tmp_path}/agents/long.py:2: f (151 lines)"]


def test_bundled_plugins_are_the_ones_pyproject_declares():
    """The plugin loader's fallback for source checkouts names only declared entry points."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    from rlvr_envs.plugins import BUNDLED, ENTRY_POINT_GROUP

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = set(project["entry-points"][ENTRY_POINT_GROUP].values())
    assert set(BUNDLED) == declared


def test_the_command_line_and_evaluation_load_no_torch():
    code = (
        "import sys\n"
        "from rlvr_envs.cli import build_parser\n"
        "import rlvr_envs.evaluation, rlvr_envs.rollout, rlvr_envs.agent\n"
        "parser = build_parser()\n"
        "assert 'train' in parser._subparsers._group_actions[0].choices\n"
        "heavy = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
