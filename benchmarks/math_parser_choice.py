"""Why the math verifier parses answers itself: per-answer cost of the candidate parsers.

Parses every MATH-500 gold answer with each candidate that is installed, and times one equivalence
check per answer the way a sympy-based grader does it (``simplify(a - b) == 0``), against the
verifier's own parse + comparison. Prints answers parsed, mean and worst time per answer.

    python benchmarks/math_parser_choice.py [--data-dir ../shared/data]

Candidates: sympy's ``parse_latex`` (ANTLR backend, and the Lark backend when ``lark`` is
importable), ``latex2sympy2_extended`` (Math-Verify's parser), and this package's parser.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(name: str, parse: Callable[[str], object], answers: list[str]) -> None:
    times, parsed = [], 0
    for answer in answers:
        started = time.perf_counter()
        try:
            parse(answer)
            parsed += 1
        except Exception:
            pass
        times.append(time.perf_counter() - started)
    print(
        f"{name:42} parsed {parsed:3}/{len(answers)}  mean {statistics.mean(times) * 1e3:7.3f} ms"
        f"  worst {max(times) * 1e3:8.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    with (args.data_dir / "math500_test.jsonl").open(encoding="utf-8") as handle:
        answers = [json.loads(line)["answer"] for line in handle]

    started = time.perf_counter()
    from rlvr_envs.verifiers.math import grader
    from rlvr_envs.verifiers.math.limits import DEFAULT_LIMITS, Deadline
    from rlvr_envs.verifiers.math.normalize import normalize_answer

    print(
        f"import rlvr_envs.verifiers.math: {time.perf_counter() - started:.3f} s (with rlvr_envs)"
    )
    started = time.perf_counter()
    import sympy

    print(f"import sympy: {time.perf_counter() - started:.3f} s")

    def ours(answer: str) -> object:
        grader._cache.clear()
        return grader.parse_form(normalize_answer(answer), DEFAULT_LIMITS, Deadline(2.0))

    timed("rlvr-envs parser (normalise + parse)", ours, answers)
    timed(
        "rlvr-envs verify(answer, answer)",
        lambda a: (grader._cache.clear(), grader.verify(f"\\boxed{{{a}}}", f"{a} + 0")),
        answers,
    )
    try:
        from latex2sympy2_extended import latex2sympy

        timed("latex2sympy2_extended", latex2sympy, answers)
        parsed = []
        for answer in answers:
            try:
                parsed.append(latex2sympy(answer))
            except Exception:
                pass

        def simplify_check(expr: object) -> object:
            # Two spellings of one value, as a grader meets them: expanded vs as written.
            return sympy.simplify(sympy.expand(expr) - expr) == 0  # type: ignore[operator]

        exprs = [e for e in parsed if isinstance(e, sympy.Expr)]
        timed("sympy.simplify(expand(a) - a), parsed answers", simplify_check, exprs)  # type: ignore[arg-type]
    except ImportError:
        print("latex2sympy2_extended: not installed")
    from sympy.parsing.latex import parse_latex

    timed("sympy parse_latex (ANTLR backend)", parse_latex, answers)
    try:
        import lark  # noqa: F401

        timed("sympy parse_latex (Lark backend)", lambda a: parse_latex(a, backend="lark"), answers)
    except ImportError:
        print("sympy parse_latex (Lark backend): lark not installed")


if __name__ == "__main__":
    main()
