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
    assert run("import sys, rlvr_envs; print('agents' in sys.modules)") == "False"
    offenders = [
        p
        for p in (ROOT / "rlvr_envs").rglob("*.py")
        if "import agents" in p.read_text() or "from agents" in p.read_text()
    ]
    assert offenders == []


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
