import subprocess
import sys


def test_import_is_light():
    """``import rlvr_envs`` must not pull in torch, transformers or sympy (fast worker start)."""
    code = (
        "import sys, rlvr_envs, gymnasium as gym\n"
        "heavy = [m for m in ('torch', 'transformers', 'sympy', 'datasets', 'ray') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert 'rlvr/GSM8K-v1' in gym.registry\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_python_dash_m_runs_the_cli():
    out = subprocess.run(
        [sys.executable, "-m", "rlvr_envs", "list"], check=True, capture_output=True, text=True
    ).stdout
    assert "rlvr/Arithmetic-v1" in out and "procedural" in out
    assert "rlvr/GSM8K-v1" in out and "1319" in out
