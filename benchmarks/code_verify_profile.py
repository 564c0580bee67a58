"""cProfile of the code verifier's host side: ``verify`` over HumanEval's canonical solutions on one
thread, the profile quoted for the verifier's hot path (docs/sandboxing.md, issue notes).

    python benchmarks/code_verify_profile.py [--backend bwrap] [--top 18]

Runs against whatever ``rlvr_envs`` is importable, so ``PYTHONPATH=<other checkout>`` profiles
another tree side by side. Data come from ``$RLVR_ENVS_DATA_DIR`` (default: ../shared/data).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
from pathlib import Path

os.environ.setdefault(
    "RLVR_ENVS_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data")
)

import rlvr_envs.verifiers.code as code_verifier  # noqa: E402
import sandbox  # noqa: E402
from rlvr_envs.envs.code import humaneval  # noqa: E402


def verify_all(tasks: list, box: sandbox.Sandbox) -> None:
    """Verify each task's canonical solution; each must be graded correct."""
    for task in tasks:
        answer = task.answer
        verdict = code_verifier.verify(
            task.solution,
            answer["tests"],
            answer.get("entry_point"),
            setup=answer.get("setup"),
            prefix=answer.get("prefix"),
            sandbox=box,
        )
        assert verdict.correct, (task.id, verdict)


def main() -> None:
    """Profile one thread of verifications and print the top functions."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="bwrap")
    parser.add_argument("--top", type=int, default=18)
    args = parser.parse_args()
    tasks = humaneval().source.tasks
    box = sandbox.get_sandbox(args.backend, shared=False, workers=1).start()
    try:
        verify_all(tasks[:8], box)  # warm the worker and the imports
        getattr(code_verifier, "clear_caches", lambda: None)()
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        verify_all(tasks, box)
        profile.disable()
        elapsed = time.perf_counter() - started
    finally:
        box.close()
    where = Path(code_verifier.__file__).parent
    print(f"code from {where}: {len(tasks)} samples in {elapsed:.2f} s, one thread")
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
