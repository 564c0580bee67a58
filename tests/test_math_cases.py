"""The hand-labelled math cases (tests/data/math_cases.jsonl): every one must be graded as labelled."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from rlvr_envs.verifiers.math import verify

CASES_PATH = Path(__file__).resolve().parent / "data" / "math_cases.jsonl"
CASES = [json.loads(line) for line in CASES_PATH.read_text(encoding="utf-8").splitlines() if line]

# Every category that issue 3 names, each with positives and negatives.
REQUIRED = {
    "extraction",
    "integer",
    "fraction",
    "decimal",
    "percent",
    "scientific",
    "thousands",
    "units",
    "degrees",
    "set",
    "tuple",
    "interval",
    "matrix",
    "equation",
    "inequality",
    "symbolic",
    "irrational",
    "choice",
    "text",
    "hedge",
    "unicode",
    "complex",
    "base",
}


def test_case_file_covers_every_category_with_positives_and_negatives():
    assert len(CASES) >= 200
    for case in CASES:
        assert set(case) == {"category", "gold", "response", "expected"}
    by_label = Counter((case["category"], case["expected"]) for case in CASES)
    categories = {case["category"] for case in CASES}
    assert REQUIRED <= categories
    for category in REQUIRED - {"unicode"}:
        assert by_label[(category, True)] and by_label[(category, False)], category


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{c['category']}" for i, c in enumerate(CASES)])
def test_labelled_case(case):
    verdict = verify(case["response"], case["gold"])
    assert verdict.correct is case["expected"], (verdict.status, verdict.reason, verdict.extracted)


def test_cases_are_graded_the_same_from_many_threads():
    from concurrent.futures import ThreadPoolExecutor

    def grade(case: dict) -> bool:
        return verify(case["response"], case["gold"]).correct

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(grade, CASES * 3)) == [c["expected"] for c in CASES * 3]
