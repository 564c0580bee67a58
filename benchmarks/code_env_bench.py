"""HumanEval's 164 canonical solutions through ``gymnasium.make_vec`` with 16 environments.

    python benchmarks/code_env_bench.py [--backends local bwrap docker] [--num-envs 16]

For each sandbox backend, every canonical solution goes through ``env.step`` of a 16-environment
vector env (rlvr-envs' default, which steps in threads over one shared sandbox pool), and, in the
same run, through Gymnasium's ``SyncVectorEnv`` (one environment after another) for comparison.
Printed per backend: verifications/s for both, the pass count, and the environment's own overhead
per step: the verifier's wall time minus the time spent waiting on the sandbox (host-side test
passes, serialisation, parsing, transcript and info building).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import gymnasium as gym

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import rlvr_envs  # noqa: E402,F401
import sandbox  # noqa: E402


def run(backend: str | sandbox.Sandbox, num_envs: int, mode: str) -> dict:
    """Verify all canonical solutions; return throughput, passes and per-step overheads."""
    box = sandbox.get_sandbox(backend) if isinstance(backend, str) else backend
    envs = gym.make_vec(
        "rlvr/HumanEval-v0", num_envs=num_envs, vectorization_mode=mode, sandbox=box
    )
    tasks = envs.envs[0].unwrapped.source.tasks
    passed, overheads, steps = 0, [], []
    start = time.perf_counter()
    for offset in range(0, len(tasks), num_envs):
        wave = tasks[offset : offset + num_envs]
        envs.reset(seed=0)  # clears the vector env's autoreset flags
        for env, task in zip(envs.envs, wave):
            env.reset(options={"task_id": task.id})
        actions = [t.solution for t in wave] + [wave[0].solution] * (num_envs - len(wave))
        step_start = time.perf_counter()
        _, rewards, _, _, infos = envs.step(actions)
        steps.append(time.perf_counter() - step_start)
        for i in range(len(wave)):
            passed += int(rewards[i] == 1.0)
            verdict = infos["verdict"]
            overheads.append(
                float(verdict["elapsed_s"][i]) - float(verdict["details"]["sandbox_s"][i])
            )
    wall = time.perf_counter() - start
    envs.close()
    overheads.sort()
    return {
        "backend": box.name,
        "mode": mode,
        "passed": passed,
        "total": len(tasks),
        "verifications_per_s": len(tasks) / wall,
        "overhead_median_ms": 1e3 * statistics.median(overheads),
        "overhead_p99_ms": 1e3 * overheads[int(0.99 * (len(overheads) - 1))],
    }


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="*", default=["local", "bwrap", "docker"])
    parser.add_argument("--num-envs", type=int, default=16)
    args = parser.parse_args()
    os.environ.setdefault("RLVR_ENVS_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    available = sandbox.available_backends()
    print(
        f"HumanEval canonical solutions, make_vec with {args.num_envs} environments, "
        f"{os.cpu_count()} CPUs, sandbox workers: default"
    )
    header = f"{'backend':<8} {'vectorisation':<18} {'passed':>8} {'verif/s':>8} {'overhead median':>16} {'p99':>8}"
    print(header)
    print("-" * len(header))
    for backend in args.backends:
        if available.get(backend) is not None:
            print(f"{backend:<8} unavailable: {available[backend]}")
            continue
        for mode in ("vector_entry_point", "sync"):
            r = run(backend, args.num_envs, mode)
            label = "threads (default)" if mode == "vector_entry_point" else "SyncVectorEnv"
            print(
                f"{backend:<8} {label:<18} {r['passed']:>4}/{r['total']:<3} "
                f"{r['verifications_per_s']:>8.1f} {r['overhead_median_ms']:>13.2f} ms "
                f"{r['overhead_p99_ms']:>5.2f} ms"
            )


if __name__ == "__main__":
    main()
