"""The Python example of docs/training.md runs as written (in a temporary directory)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "training.md"


@pytest.mark.slow
def test_python_example_runs(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    example = next(b for b in blocks if "default_run_config" in b)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(example, str(DOC), "exec"), namespace)
    assert namespace["summary"]["steps"] == 20
    assert namespace["config"].lora_r == 16
    assert (tmp_path / "runs" / "quick" / "summary.json").exists()
