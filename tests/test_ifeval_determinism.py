"""The IFEval checker gives identical results in separate processes (no unseeded randomness)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from rlvr_envs.verifiers.ifeval import verify

ROOT = Path(__file__).resolve().parent.parent

FRAGMENTS = [
    "The river runs past the old mill, and the children wave.",
    "THE RIVER RUNS PAST THE OLD MILL.",
    "the river runs past the old mill and nobody waves.",
    "Le fleuve passe devant le vieux moulin et les enfants saluent.",
    "El río pasa junto al viejo molino y los niños saludan.",
    "Der Fluss fließt am alten Mühle vorbei und die Kinder winken.",
    "Река течёт мимо старой мельницы, и дети машут руками.",
    "川は古い水車小屋のそばを流れ、子どもたちが手を振っています。",
    "नदी पुरानी चक्की के पास से बहती है और बच्चे हाथ हिलाते हैं।",
    "강은 오래된 물레방아 옆을 흐르고 아이들이 손을 흔듭니다.",
    "Joki virtaa vanhan myllyn ohi ja lapset vilkuttavat.",
    "Mto unapita karibu na kinu cha zamani na watoto wanapunga mikono.",
    "* a bullet point",
    "- another bullet",
    "<<A Title>>",
    "P.S. remember the bread",
    "SECTION 1",
    "Section 2",
    "***",
    "******",
    "*highlighted part*",
    "Dear [name], see [address].",
    '{"river": "mill", "count": 3}',
    "```json\n[1, 2]\n```",
    "My answer is yes.",
    "Is there anything else I can help with?",
    '"Quoted words"',
    "Dr. Smith paid 3.50 dollars, i.e. not much. Really? Yes!",
    "你好，世界。今天很好！",
    "",
]

INSTRUCTION_ARGS = [
    ("keywords:existence", lambda r: {"keywords": [str(r.choice(["river", "mill", "cat"]))]}),
    ("keywords:frequency", lambda r: {"keyword": "river", "frequency": int(r.integers(1, 4)), "relation": str(r.choice(["less than", "at least"]))}),
    ("keywords:forbidden_words", lambda r: {"forbidden_words": ["mill", "cat"]}),
    ("keywords:letter_frequency", lambda r: {"letter": str(r.choice(list("aeiou"))), "let_frequency": int(r.integers(1, 20)), "let_relation": str(r.choice(["less than", "at least"]))}),
    ("language:response_language", lambda r: {"language": str(r.choice(["en", "fr", "es", "de", "ru", "ja", "hi", "ko", "fi", "sw", "it", "pt"]))}),
    ("length_constraints:number_sentences", lambda r: {"num_sentences": int(r.integers(1, 8)), "relation": str(r.choice(["less than", "at least"]))}),
    ("length_constraints:number_paragraphs", lambda r: {"num_paragraphs": int(r.integers(1, 4))}),
    ("length_constraints:number_words", lambda r: {"num_words": int(r.integers(5, 60)), "relation": str(r.choice(["less than", "at least"]))}),
    ("length_constraints:nth_paragraph_first_word", lambda r: {"num_paragraphs": 2, "nth_paragraph": int(r.integers(1, 3)), "first_word": "the"}),
    ("detectable_content:number_placeholders", lambda r: {"num_placeholders": int(r.integers(1, 3))}),
    ("detectable_content:postscript", lambda r: {"postscript_marker": str(r.choice(["P.S.", "P.P.S"]))}),
    ("detectable_format:number_bullet_lists", lambda r: {"num_bullets": int(r.integers(0, 3))}),
    ("detectable_format:constrained_response", lambda r: {}),
    ("detectable_format:number_highlighted_sections", lambda r: {"num_highlights": int(r.integers(1, 3))}),
    ("detectable_format:multiple_sections", lambda r: {"section_spliter": str(r.choice(["Section", "SECTION"])), "num_sections": int(r.integers(1, 3))}),
    ("detectable_format:json_format", lambda r: {}),
    ("detectable_format:title", lambda r: {}),
    ("combination:two_responses", lambda r: {}),
    ("combination:repeat_prompt", lambda r: {"prompt_to_repeat": "The river runs past the old mill"}),
    ("startend:end_checker", lambda r: {"end_phrase": "Is there anything else I can help with?"}),
    ("change_case:capital_word_frequency", lambda r: {"capital_frequency": int(r.integers(1, 6)), "capital_relation": str(r.choice(["less than", "at least"]))}),
    ("change_case:english_capital", lambda r: {}),
    ("change_case:english_lowercase", lambda r: {}),
    ("punctuation:no_comma", lambda r: {}),
    ("startend:quotation", lambda r: {}),
]  # fmt: skip


def generated_cases(n: int = 1000, seed: int = 20240601) -> list[tuple[str, list[str], list[dict]]]:
    """``n`` seeded (response, instruction ids, kwargs) triples mixing languages and formats."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        pieces = rng.choice(len(FRAGMENTS), size=int(rng.integers(1, 6)))
        joiner = str(rng.choice(["\n", "\n\n", " ", "\n***\n"]))
        response = joiner.join(FRAGMENTS[int(i)] for i in pieces)
        picks = rng.choice(len(INSTRUCTION_ARGS), size=int(rng.integers(1, 4)), replace=False)
        ids = [INSTRUCTION_ARGS[int(i)][0] for i in picks]
        kwargs = [INSTRUCTION_ARGS[int(i)][1](rng) for i in picks]
        cases.append((response, ids, kwargs))
    return cases


def results(n: int = 1000) -> list[list]:
    """Strict and loose per-instruction results for every generated case."""
    out = []
    for response, ids, kwargs in generated_cases(n):
        for mode in ("strict", "loose"):
            verdict = verify(response, ids, kwargs, mode=mode)
            out.append(
                [verdict.status.value, [r["followed"] for r in verdict.details["instructions"]]]
            )
    return out


def generated_tasks() -> list[dict]:
    """Procedural instruction and JSON tasks from fixed seeds, as plain data."""
    from rlvr_envs.envs.instructions import instruction_task, json_task

    rng = np.random.default_rng(7)
    tasks = [instruction_task(rng, 1, 4) for _ in range(120)]
    tasks += [json_task(rng, 1, 6, 2) for _ in range(50)]
    return [task.to_dict() for task in tasks]


def _run_in_fresh_process(hash_seed: str, function: str = "results") -> list:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    script = f"import json, tests.test_ifeval_determinism as t; print(json.dumps(t.{function}()))"
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(completed.stdout)


def test_generated_cases_exercise_both_outcomes():
    outcomes = [followed for _, followed in results(200)[::2] for followed in followed]
    assert 0.1 < sum(outcomes) / len(outcomes) < 0.9


def test_same_results_in_separate_processes():
    first = _run_in_fresh_process("1")
    second = _run_in_fresh_process("4242")
    assert len(first) == 2000
    assert first == second
    assert first == json.loads(json.dumps(results()))


def test_procedural_tasks_are_the_same_in_separate_processes():
    first = _run_in_fresh_process("1", "generated_tasks")
    second = _run_in_fresh_process("999", "generated_tasks")
    assert first == second
    assert first == json.loads(json.dumps(generated_tasks()))
