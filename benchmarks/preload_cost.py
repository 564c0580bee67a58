"""What preloading a module in the sandbox's workers costs every job, against what importing it
costs the jobs that use it: the figures behind ``sandbox.pool.DEFAULT_PRELOAD``.

A worker's template forks every job, so each module it holds makes *every* job's fork and exit
dearer (more page-table entries and memory mappings to copy and tear down, and fork hooks such
as ``random``'s reseeding); a module it does not hold costs only the jobs that import it. For
each module of the given list (default: the worker's earlier default, 50 modules) this prints,
measured here with forks of one interpreter (the minimum of several rounds; CPU time of the
parent and the child):

* ``per job``: the fork-and-exit cost it adds, with ``--base`` preloaded (default: the current
  default preload);
* ``import``: what importing it costs a forked job that does not have it;
* ``break-even``: the share of jobs that must import it for preloading to pay (``per job`` /
  ``import``);
* ``used by``: the share of HumanEval and MBPP reference programs (solution, tests, setup) that
  import it.

Then the whole sets side by side: fork-and-exit CPU per job for the old and new defaults, and
the expected cost per job on those programs (fork, plus imports of what is not held).

    python benchmarks/preload_cost.py [--modules a,b,c] [--rounds 5] [--forks 200]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RLVR_ENVS_DATA_DIR", str(ROOT.parent / "shared" / "data"))

from sandbox.pool import DEFAULT_PRELOAD  # noqa: E402

# The worker's default before it was chosen from these figures (kept to compare against).
OLD_PRELOAD = (
    "abc argparse array ast base64 binascii bisect calendar cmath collections collections.abc "
    "contextlib copy csv dataclasses datetime decimal difflib enum fractions functools gc "
    "hashlib heapq io itertools json math numbers operator pathlib pickle pprint random re "
    "statistics string struct textwrap time traceback types typing unicodedata "
    "unittest uuid warnings"
).split()

# Runs in a fresh ``python -S``: preload, freeze, then time forks. Prints one JSON line.
PROBE = r"""
import gc, json, os, sys, time
preload, extra, rounds, forks = json.loads(sys.argv[1])
for name in preload:
    __import__(name)
gc.collect()
gc.freeze()

def cost(body):
    best = float("inf")
    for _ in range(rounds):
        spent = 0.0
        mine = os.times()
        for _ in range(forks):
            pid = os.fork()
            if pid == 0:
                body()
                os._exit(0)
            _, _, usage = os.wait4(pid, 0)
            spent += usage.ru_utime + usage.ru_stime
        after = os.times()
        spent += (after.user + after.system) - (mine.user + mine.system)
        best = min(best, spent / forks)
    return best

out = {"empty": cost(lambda: None)}
for name in extra:
    out[name] = cost(lambda: __import__(name)) - out["empty"]
print(json.dumps(out))
"""


def probe(preload: list[str], extra: list[str], rounds: int, forks: int) -> dict[str, float]:
    """Fork-and-exit CPU with ``preload`` held, and the import cost of each of ``extra``."""
    args = json.dumps([preload, extra, rounds, forks])
    done = subprocess.run(
        [sys.executable, "-S", "-c", PROBE, args], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def usage() -> tuple[dict[str, float], int]:
    """Share of HumanEval and MBPP reference programs importing each top-level module."""
    from rlvr_envs.envs.code import humaneval, mbpp

    counts: dict[str, int] = {}
    programs = 0
    for env in (humaneval(), mbpp()):
        for task in env.source.tasks:
            answer = task.answer
            text = "\n".join(
                str(part or "")
                for part in (task.solution, answer.get("tests"), answer.get("setup"))
            )
            names = set(re.findall(r"^\s*(?:from|import)\s+([\w.]+)", text, re.M))
            for name in names:
                counts[name] = counts.get(name, 0) + 1
            programs += 1
    return {name: n / programs for name, n in counts.items()}, programs


def main() -> None:
    """Print each module's per-job and import cost, then the old and new sets compared."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", default=",".join(OLD_PRELOAD))
    parser.add_argument("--base", default=",".join(DEFAULT_PRELOAD))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--forks", type=int, default=200)
    args = parser.parse_args()
    modules = [m for m in args.modules.split(",") if m]
    base = [m for m in args.base.split(",") if m]
    shares, programs = usage()
    imports = probe(base, [m for m in modules if m not in base], args.rounds, args.forks)
    alone = probe(base, [], args.rounds, args.forks)["empty"]
    print(f"python {sys.version.split()[0]}; {programs} reference programs; forks from a")
    print(f"template holding the {len(base)} modules of --base: {1e3 * alone:.3f} ms per job\n")
    print(f"{'module':16s}{'per job ms':>11s}{'import ms':>11s}{'break-even':>12s}{'used by':>9s}")
    for name in modules:
        top = name.split(".")[0]
        used = shares.get(top, 0.0)
        if name in base:
            without = [m for m in base if m != name]
            rest = probe(without, [name], args.rounds, args.forks)
            per_job, cost = alone - rest["empty"], rest[name]
        else:
            per_job = probe(base + [name], [], args.rounds, args.forks)["empty"] - alone
            cost = imports[name]
        even = per_job / cost if cost > 0 else float("inf")
        print(
            f"{name:16s}{1e3 * per_job:11.3f}{1e3 * cost:11.3f}{100 * even:11.1f}%"
            f"{100 * used:8.1f}%"
        )
    old = probe(OLD_PRELOAD, [], args.rounds, args.forks)["empty"]
    print(f"\nfork and exit per job: old default {1e3 * old:.3f} ms, new {1e3 * alone:.3f} ms")
    missing = {m: c for m, c in imports.items() if m != "empty"}
    expected = alone + sum(shares.get(m.split(".")[0], 0.0) * c for m, c in missing.items())
    print(
        f"expected per job on the reference programs (fork, plus imports of what is not held): "
        f"old {1e3 * old:.3f} ms, new {1e3 * expected:.3f} ms"
    )


if __name__ == "__main__":
    main()
