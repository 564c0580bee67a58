"""The README snippet (docs/agents.md) runs as written."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "agents.md"


def test_custom_agent_example_runs(capsys) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    exec(compile(blocks[0], str(DOC), "exec"), {"__name__": "docs_example"})
    mean, status = capsys.readouterr().out.split()
    assert float(mean) == 1.0 and status == "correct"
