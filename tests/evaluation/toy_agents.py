"""Deterministic toy agents for the evaluation tests (``python:tests.evaluation.toy_agents:...``).

``arithmetic_solver`` answers ``What is <expression>?`` prompts: for each task it has a fixed
chance of being right (between 10% and 90%, from a hash of the prompt), and each sample, seeded by
the evaluation runner, is right or wrong with that chance, so pass@k grows with k and majority
voting has something to do. Wrong samples pick one of a few wrong values, sometimes no answer.
Everything depends only on the prompt and the seed, never on the batch or the call order.
"""

from __future__ import annotations

import ast
import hashlib
import re
import time
from fractions import Fraction

_QUESTION = re.compile(r"What is (.+?)\?")


def _unit(*parts: object) -> float:
    """A number in [0, 1) from a stable hash of ``parts``."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _evaluate(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return Fraction(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_evaluate(node.operand)
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left), _evaluate(node.right)
        ops = {ast.Add: left.__add__, ast.Sub: left.__sub__, ast.Mult: left.__mul__}
        if isinstance(node.op, ast.Div):
            return left / right
        return ops[type(node.op)](right)
    raise ValueError(f"unsupported expression {ast.dump(node)}")


def _fmt(value: Fraction) -> str:
    return (
        str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    )


def _text(observation) -> str:
    if isinstance(observation, list):  # chat messages
        return "\n".join(m["content"] for m in observation)
    return observation


def solve(prompt: str) -> Fraction | None:
    """The exact value of the arithmetic question in a prompt, or None."""
    match = _QUESTION.search(prompt)
    if match is None:
        return None
    try:
        return _evaluate(ast.parse(match.group(1), mode="eval"))
    except (SyntaxError, ValueError, KeyError, ZeroDivisionError):
        return None


def arithmetic_solver(observation, seed: int | None = None) -> str:
    """A per-sample agent: right with a per-task probability, wrong in a few recurring ways."""
    prompt = _text(observation)
    value = solve(prompt)
    if value is None:
        return "I am not sure. \\boxed{0}"
    skill = 0.1 + 0.8 * _unit("skill", prompt)
    draw = _unit("draw", prompt, seed)
    if draw < skill:
        return (
            f"Computing step by step gives {_fmt(value)}. The answer is \\boxed{{{_fmt(value)}}}."
        )
    wrong = int(_unit("wrong", prompt, seed) * 4)
    if wrong == 3:
        return "This one is hard; I give up."
    offset = (1, -1, 10)[wrong]
    return f"I think it is \\boxed{{{_fmt(value + offset)}}}."


def slow_solver(observation, seed: int | None = None) -> str:
    """:func:`arithmetic_solver` taking 20 ms per sample, so a test can kill a run midway."""
    time.sleep(0.02)
    return arithmetic_solver(observation, seed=seed)


def arithmetic_solver_with_tokens(observation, seed: int | None = None):
    """Like :func:`arithmetic_solver`, reporting a token count (one per word)."""
    text = arithmetic_solver(observation, seed=seed)
    return text, len(text.split())


def batched_solver(observations, seeds=None):
    """The batched form: a list of observations (one per sample) to a list of completions."""
    seeds = seeds or [None] * len(observations)
    return [arithmetic_solver(o, seed=s) for o, s in zip(observations, seeds)]


batched_solver.batched = True


def always_right(observation) -> str:
    """Greedy and always right on arithmetic (no seed)."""
    value = solve(_text(observation))
    return f"\\boxed{{{_fmt(value)}}}" if value is not None else "\\boxed{0}"


class CountingAgent:
    """An agent object with act(); counts completions it produced (for resume tests)."""

    def __init__(self) -> None:
        self.calls = 0
        self.completions = 0

    def act(self, observations, n: int = 1, seed: int | None = None, **sampling):
        self.calls += 1
        self.completions += len(observations) * n
        return [always_right(o) for o in observations for _ in range(n)]


# --- code -----------------------------------------------------------------------------------------

_CODEIO_PROGRAMS = {
    "Print their sum.": "n = int(input())\nprint(sum(map(int, input().split()[:n])))",
    "print the words in reverse order.": "print(' '.join(reversed(input().split())))",
    "until the end of input and print the largest.": (
        "import sys\nprint(max(int(line) for line in sys.stdin if line.strip()))"
    ),
    "print how many vowels": "print(sum(ch in 'aeiouAEIOU' for ch in input()))",
}
_FIZZ = re.compile(r"divisible by (\d+), Buzz instead of numbers divisible by (\d+)")


def _humaneval_solutions() -> dict[str, str]:
    import gzip
    import json
    import os
    from pathlib import Path

    path = Path(os.environ.get("RLVR_ENVS_DATA_DIR", ""), "HumanEval.jsonl.gz")
    if not path.is_file():
        return {}
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return {row["prompt"]: row["prompt"] + row["canonical_solution"] for row in rows}


def code_oracle(observation, seed: int | None = None) -> str:
    """Right programs for CodeIO prompts and HumanEval prompts (from the local data), on even
    seeds; a program that prints nothing on odd ones."""
    prompt = _text(observation)
    if seed is not None and seed % 2:
        return "```python\nprint('')\n```"
    match = _FIZZ.search(prompt)
    if match:
        a, b = match.groups()
        code = (
            f"n = int(input())\nfor i in range(1, n + 1):\n"
            f"    w = ('Fizz' if i % {a} == 0 else '') + ('Buzz' if i % {b} == 0 else '')\n"
            f"    print(w or i)"
        )
        return f"```python\n{code}\n```"
    for marker, code in _CODEIO_PROGRAMS.items():
        if marker in prompt:
            return f"```python\n{code}\n```"
    for function_prompt, code in _humaneval_solutions().items():
        if function_prompt in prompt:
            return f"```python\n{code}\n```"
    return "I cannot write this one."


class ReferenceAgent:
    """Answers every task of a suite with the task's reference solution (a pipeline check)."""

    name = "reference"

    def __init__(self, suite, *, seed: int = 0) -> None:
        import json

        import gymnasium as gym

        from rlvr_envs.evaluation import get_suite, plan_suite

        self._key = lambda obs: json.dumps(obs, sort_keys=True)
        self.solutions: dict[str, str] = {}
        plan = plan_suite(get_suite(suite), seed=seed, agent=self.name)
        for entry in plan["entries"]:
            if entry.get("skipped"):
                continue
            env = gym.make(entry["env"], **entry["kwargs"])
            for task_id in entry["task_ids"]:
                observation, _ = env.reset(options={"task_id": task_id})
                task = env.unwrapped.source.get(task_id)
                self.solutions[self._key(observation)] = task.solution
            env.close()

    def act(self, observations, n: int = 1, **sampling):
        return [self.solutions[self._key(o)] for o in observations for _ in range(n)]
