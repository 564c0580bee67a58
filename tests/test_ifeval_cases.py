"""Labelled IFEval cases (tests/data/ifeval_cases.jsonl): response, instruction, kwargs, expected."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from rlvr_envs.verifiers.ifeval import INSTRUCTION_IDS, check_instruction, verify

CASES_PATH = Path(__file__).parent / "data" / "ifeval_cases.jsonl"
CASES = [json.loads(line) for line in CASES_PATH.read_text(encoding="utf-8").splitlines() if line]


def test_case_file_covers_every_instruction_both_ways():
    assert len(CASES) >= 150
    positives = Counter(c["instruction_id"] for c in CASES if c["expected"])
    negatives = Counter(c["instruction_id"] for c in CASES if not c["expected"])
    for instruction_id in INSTRUCTION_IDS:
        assert positives[instruction_id] >= 1, f"no positive case for {instruction_id}"
        assert negatives[instruction_id] >= 1, f"no negative case for {instruction_id}"
    assert {c["instruction_id"] for c in CASES} <= set(INSTRUCTION_IDS)


@pytest.mark.parametrize("case", CASES, ids=[f"{c['id']}-{c['instruction_id']}" for c in CASES])
def test_labelled_case(case):
    mode = case.get("mode", "strict")
    verdict = verify(
        case["response"], [case["instruction_id"]], [case["kwargs"]], case.get("prompt"), mode
    )
    followed = verdict.details["instructions"][0]["followed"]
    assert followed is case["expected"], f"{case['note']}: {verdict.reason}"
    if mode == "strict":
        got = check_instruction(
            case["response"], case["instruction_id"], case["kwargs"], case.get("prompt")
        )
        assert got is case["expected"], case["note"]
