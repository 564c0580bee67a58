"""``import agents`` stays light, and ``rlvr_envs`` never imports ``agents``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_import_agents_loads_neither_torch_nor_transformers() -> None:
    code = "import sys, agents; agents.CallableAgent; agents.from_spec; print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    assert run(code) == "[]"


def test_rlvr_envs_does_not_import_agents() -> None:
    """No rlvr_envs module loads ``agents`` when imported (the ``agents`` plugin is loaded only
    by the command line, or by the spec parser meeting an ``hf:`` / ``openai:`` spec; the static
    check of every import is ``tests/test_architecture.py``)."""
    code = (
        "import importlib, pkgutil, sys, rlvr_envs\n"
        "for m in pkgutil.walk_packages(rlvr_envs.__path__, 'rlvr_envs.'):\n"
        "    if m.name.endswith('__main__'): continue\n"
        "    try: importlib.import_module(m.name)\n"
        "    except Exception: pass\n"
        "print('agents' in sys.modules)"
    )
    assert run(code) == "False"


def test_lazy_exports_resolve() -> None:
    import agents

    for name in (
        "HFAgent",
        "OpenAIAgent",
        "CompletionServer",
        "build_tiny_model",
        "collect_rollouts",
        "Episode",
        "RolloutBatch",
        "pad_episodes",
    ):
        assert getattr(agents, name) is not None
