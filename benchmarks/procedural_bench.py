"""Procedural environments: episodes per second, and the cost of wrapping reasoning-gym.

1. Native families: ``reset(seed)`` + ``step(reference answer)`` through ``gymnasium.make``, one
   process (one core), per family and level. The reference answers come from the solvers,
   computed before the clock starts. Target: at least 2,000 episodes/s per family.
2. reasoning-gym: for each registered generator, the same episodes through ``rlvr/rg-<name>-v0``
   and through reasoning-gym itself (``dataset[i]``, its ``extract_answer`` and ``score_answer``
   on the same items), in alternating blocks of the same run. Target: at most 20% overhead.

    python benchmarks/procedural_bench.py [--episodes 500] [--rg-seconds 0.3]
        [--only NAME ...] [--skip-rg] [--skip-native]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gymnasium as gym  # noqa: E402

import rlvr_envs  # noqa: E402, F401 - registers the environments
from rlvr_envs.envs import NATIVE_ENVS  # noqa: E402


def native_rate(env_id: str, level: int, episodes: int) -> float:
    """Episodes per second of reset(seed) + step(reference), best of three passes."""
    env = gym.make(env_id, level=level)
    source = env.unwrapped.source
    answers = []
    for seed in range(episodes):  # references first, off the clock
        env.reset(seed=seed)
        answers.append(source.solve(env.unwrapped.task))
    best = 0.0
    for _ in range(3):  # the best pass: the machine is shared
        # CPU time of this process: episodes per second of one core, whatever else runs.
        start = time.process_time()
        for seed in range(episodes):
            env.reset(seed=seed)
            reward = env.step(answers[seed])[1]
        best = max(best, episodes / max(time.process_time() - start, 1e-9))
        assert reward == 1.0
    env.close()
    return best


def _clear_caches() -> None:
    """Empty sympy's global cache, so the side that runs second gets no head start from it."""
    if "sympy" in sys.modules:
        sys.modules["sympy"].core.cache.clear_cache()


def _rg_block(name: str, seeds: range, budget_s: float) -> tuple[list[float], list[float]]:
    """Per-episode seconds through the environment and directly, on the same items.

    CPU seconds of this process (what one core spends, whatever else the machine runs), except
    for scorers that run in a worker process, whose time only the wall clock sees.
    """
    from reasoning_gym.factory import create_dataset
    from reasoning_gym.utils import extract_answer

    from rlvr_envs.integrations.reasoning_gym import ISOLATED

    clock = time.perf_counter if name in ISOLATED else time.process_time

    env = gym.make(f"rlvr/rg-{name}-v0")
    source = env.unwrapped.source
    wrapped, items = [], []
    _clear_caches()
    start = time.perf_counter()
    for seed in seeds:
        t0 = clock()
        env.reset(seed=seed)
        task = env.unwrapped.task
        t1 = clock()
        completion = f"<answer>{task.answer}</answer>"  # the reference answer, off the clock
        t2 = clock()
        env.step(completion)
        wrapped.append(clock() - t2 + (t1 - t0))
        items.append((task.metadata["source_index"], completion))
        if time.perf_counter() - start > budget_s:
            break
    env.close()
    dataset = create_dataset(name, **source.config)  # a fresh dataset: nothing cached
    _clear_caches()
    direct = []
    for index, completion in items:
        t0 = clock()
        entry = dataset[index]
        dataset.score_answer(extract_answer(completion), entry)
        direct.append(clock() - t0)
    return wrapped, direct


def rg_overheads(names: list[str], budget_s: float) -> list[tuple[str, float, float, int]]:
    """(name, env ms/episode, direct ms/episode, episodes) per generator, blocks alternated."""
    rows = []
    for name in names:
        _rg_block(name, range(900_000, 900_001), 0.0)  # warm-up: imports, workers, first items
        wrapped, direct = [], []
        for block in range(3):
            w, d = _rg_block(name, range(block * 100_000, block * 100_000 + 5_000), budget_s)
            wrapped += w
            direct += d
        rows.append(
            (name, 1e3 * statistics.fmean(wrapped), 1e3 * statistics.fmean(direct), len(wrapped))
        )
        print(
            f"  {name:28s} env {rows[-1][1]:9.3f} ms  direct {rows[-1][2]:9.3f} ms", file=sys.stderr
        )
    return rows


def main() -> None:
    """Print both tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=500, help="per family and level")
    parser.add_argument("--rg-seconds", type=float, default=0.3, help="time budget per block")
    parser.add_argument("--only", nargs="*", help="reasoning-gym generators to measure")
    parser.add_argument("--skip-rg", action="store_true")
    parser.add_argument("--skip-native", action="store_true")
    args = parser.parse_args()

    levels = (1, 2, 3, 4, 5)
    if args.skip_native:
        levels = ()
    print("native families: episodes per CPU-second of reset(seed) + step(reference answer)")
    print(
        f"{'environment':28s}" + "".join(f"{'level ' + str(v):>9s}" for v in levels) + "  >= 2,000"
    )
    for env_id, _, _ in NATIVE_ENVS if levels else []:
        rates = [native_rate(env_id, level, args.episodes) for level in levels]
        cells = "".join(f"{r:9,.0f}" for r in rates)
        print(f"{env_id:28s}{cells}  {'yes' if min(rates) >= 2000 else 'NO'}")
    if args.skip_rg:
        return

    from rlvr_envs.integrations.reasoning_gym import ISOLATED, REGISTERED

    names = args.only or list(REGISTERED)
    # Some generators print while they work (bf prints dots): keep that off the tables.
    with contextlib.redirect_stdout(sys.stderr):
        rows = rg_overheads(names, args.rg_seconds)
    print("\nreasoning-gym: the env (reset + step) vs dataset[i] + extract_answer + score_answer,")
    print("same items, CPU time per episode (wall time where scoring runs in a worker process)")
    print(f"{'generator':28s} {'env ms':>9s} {'direct ms':>9s} {'overhead':>9s} {'n':>5s}")
    for name, env_ms, direct_ms, n in rows:
        mark = " (scored in a worker process)" if name in ISOLATED else ""
        print(
            f"{name:28s} {env_ms:9.3f} {direct_ms:9.3f} {env_ms / direct_ms - 1:9.1%} {n:5d}{mark}"
        )
    in_process = [r for r in rows if r[0] not in ISOLATED]
    ratios = [r[1] / r[2] - 1 for r in in_process]
    # One episode of each generator: the cost of training on a uniform mix of them.
    total = sum(r[1] for r in rows) / sum(r[2] for r in rows) - 1
    print(
        f"\nin-process scoring, {len(in_process)} generators: median overhead "
        f"{statistics.median(ratios):.1%}, {sum(r <= 0.20 for r in ratios)} at or under 20%; "
        f"a uniform mix of all {len(rows)}: {total:.1%}"
    )
    abs_us = [1e3 * (r[1] - r[2]) for r in in_process]
    print(f"added time per episode (in-process): median {statistics.median(abs_us):.1f} us")
    for low, high in ((0, 0.1), (0.1, 1.0), (1.0, float("inf"))):
        band = [r[1] / r[2] - 1 for r in in_process if low <= r[2] < high]
        if band:
            print(
                f"  generators taking {low:g}-{high:g} ms an item: {len(band):3d}, median "
                f"overhead {statistics.median(band):7.1%}, {sum(b <= 0.20 for b in band)} at or "
                "under 20%"
            )


if __name__ == "__main__":
    main()
