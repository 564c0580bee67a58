"""Math-Verify's own test suite, graded by this package and by Math-Verify in the same run.

Reads the parametrised ``(gold, pred, expected)`` cases from the ``tests/`` folder of a
huggingface/Math-Verify checkout (nothing of theirs is stored in this repository), then grades each
case twice: with ``math_verify`` (installed package) called the way their test calls it (their
``compare_strings`` options: extraction targets, float rounding, set/relation comparison), and with
this package's ``verify`` in its lenient (evaluation) extraction mode. Prints the agreement of each
grader with the suite's expectations, the time each took, and the cases where either disagrees.

    python benchmarks/math_verify_suite.py /path/to/Math-Verify [--show none|ours|theirs|all]

The cases counted are those of every ``@pytest.mark.parametrize("gold, pred, expected", ...)``
whose values are plain literals (252 at Math-Verify commit 5d148cf); other shapes (a ``strict``
flag before ``expected``, a ``result`` column) are listed separately as extra cases, not scored in
the headline figure. Math-Verify is scored twice: as its own tests call it, and with the plain
``verify(parse(gold), parse(pred))`` defaults. Where a test sets a float rounding (``precision``),
this package gets the same number as ``numeric_digits``. Disagreements that are deliberate are
explained in docs/math_verifier.md.
"""

from __future__ import annotations

import argparse
import ast
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from math_verify_bench import clear_math_verify_caches  # noqa: E402

from rlvr_envs.verifiers.math import extract_answer, grader, verify  # noqa: E402

HEADLINE_COLUMNS = ("gold", "pred", "expected")


@dataclass(frozen=True)
class SuiteCase:
    """One parametrised case of the peer suite and the options its test passes to the grader."""

    where: str  # file::test[index]
    gold: str
    pred: str
    expected: bool
    options: dict[str, Any] = field(default_factory=dict)
    headline: bool = True


def _literal(node: ast.AST) -> Any:
    return ast.literal_eval(node)


def _call_options(function: ast.FunctionDef, columns: list[str]) -> dict[str, Any]:
    """The keyword arguments the test passes to ``compare_strings`` (a column name stays a name)."""
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "compare_strings":
            options: dict[str, Any] = {"helper": True}
            for keyword in node.keywords:
                if isinstance(keyword.value, ast.Name) and keyword.value.id in columns:
                    options[keyword.arg] = ("column", keyword.value.id)
                else:
                    options[keyword.arg] = _literal(keyword.value)
            return options
    return {"helper": False}  # the test calls parse/verify with their defaults


def _parametrize(decorator: ast.expr) -> tuple[list[str], list[ast.expr]] | None:
    if not (
        isinstance(decorator, ast.Call) and getattr(decorator.func, "attr", "") == "parametrize"
    ):
        return None
    names = _literal(decorator.args[0])
    columns = [n.strip() for n in (names.split(",") if isinstance(names, str) else names)]
    rows = decorator.args[1]
    if not isinstance(rows, (ast.List, ast.Tuple)):
        return None
    return columns, list(rows.elts)


def load_cases(checkout: Path) -> tuple[list[SuiteCase], int]:
    """Every (gold, pred, expected) case of ``checkout/tests`` and the number of skipped rows."""
    cases: list[SuiteCase] = []
    skipped = 0
    for path in sorted((checkout / "tests").glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            for decorator in function.decorator_list:
                found = _parametrize(decorator)
                if found is None:
                    continue
                columns, rows = found
                expected_column = next((c for c in ("expected", "result") if c in columns), None)
                if "gold" not in columns or "pred" not in columns or expected_column is None:
                    continue
                call = _call_options(function, columns)
                for index, row in enumerate(rows):
                    try:
                        values = dict(zip(columns, _literal(row)))
                    except ValueError:  # a computed value (an f-string): not a literal case
                        skipped += 1
                        continue
                    options = {
                        key: values[value[1]] if isinstance(value, tuple) else value
                        for key, value in call.items()
                    }
                    cases.append(
                        SuiteCase(
                            where=f"{path.name}::{function.name}[{index}]",
                            gold=values["gold"],
                            pred=values["pred"],
                            expected=bool(values[expected_column]),
                            options=options,
                            headline=tuple(columns[:3]) == HEADLINE_COLUMNS,
                        )
                    )
    return cases, skipped


# --- the two graders ----------------------------------------------------------------------------


def gold_answer(gold: str) -> str:
    """The gold answer inside a gold string (their golds are LaTeX, sometimes in prose)."""
    found = extract_answer(gold, ("answer_tag", "boxed", "whole"))
    if found is None:
        found = extract_answer(gold, mode="lenient")
    return found.answer if found is not None else gold


def ours(case: SuiteCase) -> bool:
    """This package's verdict, in the lenient (evaluation) extraction mode."""
    digits = case.options.get("precision")  # their rounding setting, where the test gives one
    options = {"numeric_digits": digits} if digits else {}
    return verify(case.pred, gold_answer(case.gold), mode="lenient", **options).correct


def clear_ours() -> None:
    grader._cache.clear()


def theirs(defaults: bool = False) -> tuple[Callable[[SuiteCase], bool], Callable[[], None]]:
    """Math-Verify's verdict, called with the options of the case's own test (or, ``defaults``,
    the plain ``verify(parse(gold), parse(pred))`` a user would write)."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse
    from math_verify import verify as mv_verify

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)

    def check(case: SuiteCase) -> bool:
        options = dict(case.options)
        try:
            if defaults or not options.pop("helper"):
                return bool(mv_verify(parse(case.gold), parse(case.pred)))
            targets: list[Any] = []
            for kind in options.pop("match_types", ["latex", "expr"]):
                if kind == "latex":
                    targets.append(LatexExtractionConfig(boxed_match_priority=0))
                elif kind == "expr":
                    targets.append(ExprExtractionConfig())
            gold, pred = parse(case.gold, targets), parse(case.pred, targets)
            return bool(
                mv_verify(
                    gold,
                    pred,
                    float_rounding=options.get("precision", 6),
                    strict=options.get("strict", True),
                    allow_set_relation_comp=options.get("allow_set_relation_comp", False),
                )
            )
        except Exception:
            return False

    return check, clear_math_verify_caches


def grade(check: Callable[[SuiteCase], bool], cases: list[SuiteCase]) -> tuple[list[bool], float]:
    started = time.perf_counter()
    verdicts = [check(case) for case in cases]
    return verdicts, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkout", type=Path, help="a huggingface/Math-Verify checkout")
    parser.add_argument(
        "--show",
        choices=("none", "ours", "theirs", "all"),
        default="ours",
        help="list the cases on which a grader disagrees with the suite",
    )
    args = parser.parse_args()
    if not (args.checkout / "tests").is_dir():
        parser.error(f"{args.checkout} has no tests/ folder: not a Math-Verify checkout")
    cases, skipped = load_cases(args.checkout)
    headline = [c for c in cases if c.headline]
    extra = [c for c in cases if not c.headline]
    graders = {
        "rlvr-envs": (ours, clear_ours),
        "Math-Verify": theirs(),
        "MV defaults": theirs(defaults=True),
    }

    from importlib.metadata import version

    print(
        f"Math-Verify test suite at {args.checkout}: {len(headline)} (gold, pred, expected) cases, "
        f"{len(extra)} extra cases of other shapes, {skipped} non-literal row(s) skipped"
    )
    print(
        f"math-verify {version('math-verify')} (installed package), rlvr-envs in the same process"
    )
    header = f"{'grader':12} {'agree':>14} {'extra':>8} {'seconds':>8} {'ms/case':>8}"
    print(header)
    print("-" * len(header))
    results: dict[str, list[bool]] = {}
    times: dict[str, float] = {}
    for name, (check, clear) in graders.items():
        clear()
        verdicts, seconds = grade(check, headline)
        extra_verdicts, _ = grade(check, extra)
        results[name], times[name] = verdicts + extra_verdicts, seconds
        agree = sum(v == c.expected for v, c in zip(verdicts, headline))
        agree_extra = sum(v == c.expected for v, c in zip(extra_verdicts, extra))
        print(
            f"{name:12} {agree:>5}/{len(headline)} {100 * agree / len(headline):5.1f}% "
            f"{agree_extra:>3}/{len(extra):<4} {seconds:8.2f} {1e3 * seconds / len(headline):8.2f}"
        )
    both = sum(
        a == b for a, b in zip(results["rlvr-envs"][: len(headline)], results["Math-Verify"])
    )
    print(
        f"rlvr-envs and Math-Verify (as its tests call it) give the same verdict on "
        f"{both}/{len(headline)} cases; rlvr-envs is {times['Math-Verify'] / times['rlvr-envs']:.0f}x "
        "faster on them"
    )
    shown = {
        "ours": ["rlvr-envs"],
        "theirs": ["Math-Verify", "MV defaults"],
        "all": list(graders),
    }.get(args.show, [])
    for name in shown:
        for verdict, case in zip(results[name], headline + extra):
            if verdict != case.expected:
                print(
                    f"  {name} disagrees [{case.where}] expected={int(case.expected)} "
                    f"gold={case.gold[-70:]!r} pred={case.pred[-90:]!r}"
                )


if __name__ == "__main__":
    main()
