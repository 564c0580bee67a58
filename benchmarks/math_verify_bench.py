"""Math verifier vs Hugging Face Math-Verify: accuracy, throughput and latency, side by side.

Same inputs, same run, same process, one call at a time from the main thread (Math-Verify's
SIGALRM timeouts need it). Sets:

  (a) the hand-labelled cases in tests/data/math_cases.jsonl,
  (b) 1,000 generated labelled pairs across categories (benchmarks/math_pairs.py, seeded),
  (c) MATH-500 reference solutions against their answers (all should be correct),
  (d) GSM8K test reference solutions against their #### answers (all should be correct).

Accuracy is the share of verdicts that match the label (a wrong accept and a wrong reject both
count as mistakes). Each verifier starts every set with its caches cleared.

    pip install -e '.[bench]'
    python benchmarks/math_verify_bench.py [--sets a,b,c,d] [--repeat 1] [--mistakes]

Runs offline: the data come from the repository and ../shared/data (or --data-dir).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from math_pairs import generate_pairs  # noqa: E402

from rlvr_envs.verifiers.math import grader, verify  # noqa: E402

Case = dict[str, object]


def load_sets(data_dir: Path, names: list[str]) -> dict[str, list[Case]]:
    """The benchmark sets as lists of {gold, response, expected, category}."""
    sets: dict[str, list[Case]] = {}
    if "a" in names:
        with (ROOT / "tests" / "data" / "math_cases.jsonl").open(encoding="utf-8") as handle:
            sets["(a) labelled cases"] = [json.loads(line) for line in handle]
    if "b" in names:
        sets["(b) generated pairs"] = generate_pairs(1000, seed=0)
    if "c" in names:
        with (data_dir / "math500_test.jsonl").open(encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle]
        sets["(c) MATH-500 refs"] = [
            {
                "gold": r["answer"],
                "response": r["solution"],
                "expected": True,
                "category": r["subject"],
            }
            for r in rows
        ]
    if "d" in names:
        with (data_dir / "gsm8k_test.jsonl").open(encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle]
        sets["(d) GSM8K refs"] = [
            {
                "gold": r["answer"].split("####")[-1].strip().replace(",", ""),
                "response": r["answer"],
                "expected": True,
                "category": "gsm8k",
            }
            for r in rows
        ]
    return sets


def ours() -> tuple[Callable[[str, str], bool], Callable[[], None]]:
    def check(response: str, gold: str) -> bool:
        return verify(response, gold).correct

    return check, grader._cache.clear


def clear_math_verify_caches() -> None:
    """Empty Math-Verify's parse caches, so each set starts cold."""
    from math_verify import parser as mv_parser

    for name in ("parse_latex_cached", "parse_expr_cached"):
        cached = getattr(mv_parser, name, None)
        if cached is not None and hasattr(cached, "cache_clear"):
            cached.cache_clear()


def math_verify() -> tuple[Callable[[str, str], bool], Callable[[], None]]:
    from math_verify import parse
    from math_verify import verify as mv_verify

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)

    def check(response: str, gold: str) -> bool:
        # The documented usage: gold as a $...$ LaTeX string, the response as the model wrote it.
        try:
            return bool(mv_verify(parse(f"${gold}$"), parse(response)))
        except Exception:
            return False

    return check, clear_math_verify_caches


def run(check: Callable[[str, str], bool], clear: Callable[[], None], cases: list[Case]):
    clear()
    latencies, verdicts = [], []
    started = time.perf_counter()
    for case in cases:
        t0 = time.perf_counter()
        verdicts.append(check(case["response"], case["gold"]))
        latencies.append(time.perf_counter() - t0)
    total = time.perf_counter() - started
    right = sum(v == c["expected"] for v, c in zip(verdicts, cases))
    latencies.sort()
    return {
        "accuracy": right / len(cases),
        "right": right,
        "rate": len(cases) / total,
        "median_ms": statistics.median(latencies) * 1e3,
        "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1e3,
        "verdicts": verdicts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default="a,b,c,d")
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--mistakes", action="store_true", help="list each verifier's mistakes")
    args = parser.parse_args()
    sets = load_sets(args.data_dir, args.sets.split(","))
    verifiers = {"rlvr-envs": ours(), "Math-Verify": math_verify()}

    header = f"{'set':22} {'verifier':12} {'accuracy':>16} {'verif/s':>9} {'median ms':>10} {'p99 ms':>8}"
    print(header)
    print("-" * len(header))
    for set_name, cases in sets.items():
        results = {}
        for name, (check, clear) in verifiers.items():
            results[name] = result = run(check, clear, cases)
            accuracy = f"{result['right']}/{len(cases)} {100 * result['accuracy']:5.1f}%"
            print(
                f"{set_name:22} {name:12} {accuracy:>16} {result['rate']:9.0f} "
                f"{result['median_ms']:10.3f} {result['p99_ms']:8.2f}"
            )
        speedup = results["rlvr-envs"]["rate"] / results["Math-Verify"]["rate"]
        print(f"{'':22} {'speed ratio':12} {'':>16} {speedup:8.1f}x")
        if args.mistakes:
            for name, result in results.items():
                for verdict, case in zip(result["verdicts"], cases):
                    if verdict != case["expected"]:
                        print(
                            f"  {name} mistake [{case['category']}] gold={case['gold']!r} "
                            f"expected={case['expected']} response={str(case['response'])[-90:]!r}"
                        )


if __name__ == "__main__":
    main()
