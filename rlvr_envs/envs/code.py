"""Code environments: HumanEval, MBPP and stdin/stdout tasks, single-turn or multi-turn repair.

Each factory configures a :class:`~rlvr_envs.env.TextEnv` with the code verifier. With
``max_turns > 1`` a failed attempt returns the failing test and the (truncated) error output as the
next message, and the episode ends on success or at the turn limit.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..data import find_local, load_benchmark, load_rows, read_hub, read_local
from ..env import TextEnv
from ..tasks import DatasetSource, ProceduralSource, Task, TaskSource
from ..verdict import Verdict
from ..verifiers.code import parse_quietly

HUMANEVAL_TEMPLATE = (
    "Complete the following Python function. Answer with the complete function "
    "(including the signature) in a single ```python code block.\n\n```python\n{prompt}```"
)
MBPP_TEMPLATE = (
    "{prompt}\nYour code should pass this test:\n\n{example}\n\n"
    "Answer with the complete Python code in a single ```python code block."
)
CODEIO_TEMPLATE = (
    "{prompt}\n\nWrite a complete Python program that reads from standard input and writes to "
    "standard output. Answer with the program in a single ```python code block."
)
FEEDBACK_OUTPUT_CHARS = 1500


def fenced(code: str) -> str:
    """Code inside a Markdown Python fence, as a model would answer."""
    return f"```python\n{code.rstrip()}\n```"


def code_feedback(task: Task, completion: str, verdict: Verdict, turn: int) -> str:
    """The next user message after a failed attempt: the failing test and the error output."""
    lines = [f"Your code did not pass the tests ({verdict.status.value}): {verdict.reason}"]
    stderr = ((verdict.details or {}).get("exec") or {}).get("stderr_tail", "")
    if stderr.strip():
        tail = stderr.strip()[-FEEDBACK_OUTPUT_CHARS:]
        lines.append(f"Error output (last {len(tail)} characters):\n```\n{tail}\n```")
    lines.append(
        "Fix the code and answer with the complete corrected program in a ```python block."
    )
    return "\n\n".join(lines)


def perturb_code(task: Task, rng: np.random.Generator) -> list[str]:
    """Known-wrong answers: the reference with an off-by-one, and a function that returns None."""
    wrong = []
    code = (task.solution or "").removeprefix("```python\n").removesuffix("\n```")
    entry = task.answer.get("entry_point") if isinstance(task.answer, Mapping) else None
    mutated = _off_by_one(code, entry)
    if mutated is not None and mutated != code:
        wrong.append(fenced(mutated))
    if entry:
        wrong.append(fenced(f"def {entry}(*args, **kwargs):\n    return None"))
    else:
        wrong.append(fenced("print('')"))
    return wrong


class _BumpReturns(ast.NodeTransformer):
    """Changes what one function returns (``return x`` -> ``return __bump(x)``).

    Only the named function's own returns change: bumping helpers too could cancel out
    (``not not x``).
    """

    def __init__(self, function: str | None) -> None:
        self.function = function
        self.inside = False

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        if self.inside or (self.function is not None and node.name != self.function):
            return node
        self.inside = True
        self.generic_visit(node)
        self.inside = False
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Return(self, node: ast.Return) -> ast.AST:
        if node.value is None or not self.inside:
            return node
        call = ast.Call(ast.Name("__bump", ast.Load()), [node.value], [])
        return ast.copy_location(ast.Return(call), node)


_BUMP = (
    "def __bump(v):\n"
    "    if type(v) is int: return v + 1\n"
    "    if type(v) is float: return v * 1.5 + 1\n"
    "    if type(v) is bool: return not v\n"
    "    if type(v) is str: return v + 'x'\n"
    "    if type(v) in (list, tuple): return type(v)(list(v) + [0])\n"
    "    return None\n"
)


def _off_by_one(code: str, entry_point: str | None) -> str | None:
    try:
        tree = parse_quietly(code)
    except (SyntaxError, ValueError):
        return None
    if not any(isinstance(n, ast.Return) for n in ast.walk(tree)):
        # A stdin/stdout program: print one more line so the output differs.
        return code + "\nprint(1)\n"
    tree = ast.fix_missing_locations(_BumpReturns(entry_point).visit(tree))
    return _BUMP + ast.unparse(tree)


def code_env(source: TaskSource, template: str, env_kwargs: dict[str, Any]) -> TextEnv:
    """A :class:`TextEnv` with the code verifier, repair feedback and known-wrong answers."""
    env_kwargs.setdefault("perturb", perturb_code)
    env_kwargs.setdefault("feedback", code_feedback)
    options = dict(env_kwargs.pop("verifier_options", None) or {})
    for key in ("reward", "sandbox", "timeout_s", "limits"):
        if key in env_kwargs:
            options[key] = env_kwargs.pop(key)
    return TextEnv(source, "code", template=template, verifier_options=options, **env_kwargs)


# --- HumanEval -----------------------------------------------------------------------------------


def humaneval(
    *,
    data_path: str | os.PathLike | None = None,
    template: str = HUMANEVAL_TEMPLATE,
    **env_kwargs: Any,
) -> TextEnv:
    """``rlvr/HumanEval-v0``: 164 function-completion problems (hub ``openai/openai_humaneval``)."""
    rows = load_benchmark(
        "openai/openai_humaneval",
        split="test",
        data_path=data_path,
        local_names=("HumanEval.jsonl.gz", "HumanEval.jsonl"),
    )
    tasks = [
        Task(
            id=row["task_id"],
            prompt=row["prompt"],
            answer={
                "tests": row["test"],
                "entry_point": row["entry_point"],
                # The prompt's helpers (e.g. ``poly`` in HumanEval/32) are used by the tests: run
                # the trusted prompt before them, and prepend it to completion-style answers.
                "setup": row["prompt"],
                "prefix": row["prompt"],
            },
            solution=fenced(row["prompt"] + row["canonical_solution"]),
            metadata={"entry_point": row["entry_point"]},
        )
        for row in rows
    ]
    return code_env(DatasetSource(tasks, name="humaneval"), template, env_kwargs)


# --- MBPP ----------------------------------------------------------------------------------------


def mbpp_entry_point(code: str, tests: list[str]) -> str | None:
    """The function the tests call first among those the reference code defines."""
    try:
        defined = {
            n.name
            for n in parse_quietly(code).body
            if isinstance(n, (ast.FunctionDef, ast.ClassDef))
        }
        tree = parse_quietly("\n".join(tests))
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in defined
        ):
            return node.func.id
    return None


def _mbpp_rows(subset: str, split: str | None, data_path: str | os.PathLike | None) -> list[dict]:
    if subset not in ("sanitized", "full"):
        raise ValueError(f"subset must be 'sanitized' or 'full', got {subset!r}")
    local = find_local(("mbpp_sanitized.json",) if subset == "sanitized" else ("mbpp.jsonl",))
    if data_path is not None or local is not None:
        return read_local(os.path.expanduser(os.fspath(data_path or local)))
    # The hub splits MBPP into train/validation/test/prompt; all of them by default.
    splits = [split] if split else ["train", "validation", "test", "prompt"]
    return [
        row
        for name in splits
        for row in read_hub("google-research-datasets/mbpp", config=subset, split=name)
    ]


def mbpp(
    *,
    subset: str = "sanitized",
    split: str | None = None,
    data_path: str | os.PathLike | None = None,
    template: str = MBPP_TEMPLATE,
    **env_kwargs: Any,
) -> TextEnv:
    """``rlvr/MBPP-v0``: basic Python problems, the 427 sanitized ones or all 974 (``subset="full"``)."""
    tasks = []
    for row in _mbpp_rows(subset, split, data_path):
        tests = list(row.get("test_imports") or []) + list(row["test_list"])
        entry = mbpp_entry_point(row["code"], row["test_list"])
        tasks.append(
            Task(
                id=f"mbpp/{row['task_id']}",
                prompt=row.get("prompt") or row.get("text"),
                answer={
                    "tests": "\n".join(tests),
                    "entry_point": entry,
                    "setup": row.get("test_setup_code") or None,
                },
                solution=fenced(row["code"]),
                metadata={"example": row["test_list"][0], "entry_point": entry},
            )
        )
    return code_env(DatasetSource(tasks, name=f"mbpp-{subset}"), template, env_kwargs)


# --- stdin/stdout --------------------------------------------------------------------------------


def _sum_task(rng: np.random.Generator) -> Task:
    cases = []
    for _ in range(5):
        numbers = [int(v) for v in rng.integers(-1000, 1000, size=int(rng.integers(1, 8)))]
        cases.append(
            {
                "stdin": f"{len(numbers)}\n{' '.join(map(str, numbers))}\n",
                "stdout": f"{sum(numbers)}\n",
            }
        )
    prompt = (
        "The first line of input holds an integer n, the second line n integers. Print their sum."
    )
    solution = "n = int(input())\nprint(sum(map(int, input().split()[:n])))"
    return Task("", prompt, {"tests": cases}, fenced(solution), {"family": "sum"})


def _reverse_words_task(rng: np.random.Generator) -> Task:
    words = ["alpha", "beta", "gamma", "delta", "sigma", "omega", "rho", "tau", "pi", "mu"]
    cases = []
    for _ in range(5):
        line = " ".join(str(w) for w in rng.choice(words, size=int(rng.integers(1, 7))))
        cases.append({"stdin": line + "\n", "stdout": " ".join(reversed(line.split())) + "\n"})
    prompt = (
        "Read one line of words separated by single spaces and print the words in reverse order."
    )
    solution = "print(' '.join(reversed(input().split())))"
    return Task("", prompt, {"tests": cases}, fenced(solution), {"family": "reverse_words"})


def _max_task(rng: np.random.Generator) -> Task:
    cases = []
    for _ in range(5):
        rows = int(rng.integers(1, 6))
        numbers = [int(v) for v in rng.integers(-50, 50, size=rows)]
        cases.append({"stdin": "\n".join(map(str, numbers)) + "\n", "stdout": f"{max(numbers)}\n"})
    prompt = "Read integers, one per line, until the end of input and print the largest."
    solution = "import sys\nprint(max(int(line) for line in sys.stdin if line.strip()))"
    return Task("", prompt, {"tests": cases}, fenced(solution), {"family": "max"})


def _fizzbuzz_task(rng: np.random.Generator) -> Task:
    a, b = (int(v) for v in rng.choice([2, 3, 4, 5, 7], size=2, replace=False))
    cases = []

    def expected(n: int) -> str:
        out = []
        for i in range(1, n + 1):
            word = ("Fizz" if i % a == 0 else "") + ("Buzz" if i % b == 0 else "")
            out.append(word or str(i))
        return "\n".join(out) + "\n"

    for n in rng.integers(1, 30, size=4):
        cases.append({"stdin": f"{int(n)}\n", "stdout": expected(int(n))})
    prompt = (
        f"Read an integer n and print the numbers 1 to n, one per line, but print Fizz "
        f"instead of numbers divisible by {a}, Buzz instead of numbers divisible by {b}, and "
        f"FizzBuzz instead of numbers divisible by both."
    )
    solution = (
        f"n = int(input())\nfor i in range(1, n + 1):\n"
        f"    w = ('Fizz' if i % {a} == 0 else '') + ('Buzz' if i % {b} == 0 else '')\n"
        f"    print(w or i)"
    )
    return Task("", prompt, {"tests": cases}, fenced(solution), {"family": "fizzbuzz"})


def _vowels_task(rng: np.random.Generator) -> Task:
    letters = list("abcdefghijklmnopqrstuvwxyz  AEIOU")
    cases = []
    for _ in range(5):
        text = "".join(rng.choice(letters, size=int(rng.integers(1, 40)))).strip() or "a"
        cases.append(
            {"stdin": text + "\n", "stdout": f"{sum(ch in 'aeiouAEIOU' for ch in text)}\n"}
        )
    prompt = "Read one line of text and print how many vowels (a, e, i, o, u, either case) it has."
    solution = "print(sum(ch in 'aeiouAEIOU' for ch in input()))"
    return Task("", prompt, {"tests": cases}, fenced(solution), {"family": "vowels"})


CODEIO_FAMILIES: dict[str, Callable[[np.random.Generator], Task]] = {
    "sum": _sum_task,
    "reverse_words": _reverse_words_task,
    "max": _max_task,
    "fizzbuzz": _fizzbuzz_task,
    "vowels": _vowels_task,
}


def codeio_task(rng: np.random.Generator) -> Task:
    """One procedural stdin/stdout task from a random family."""
    family = str(rng.choice(sorted(CODEIO_FAMILIES)))
    return CODEIO_FAMILIES[family](rng)


def codeio(
    *,
    data_path: str | os.PathLike | None = None,
    template: str = CODEIO_TEMPLATE,
    **env_kwargs: Any,
) -> TextEnv:
    """``rlvr/CodeIO-v0``: stdin/stdout tasks from a JSONL (``prompt``, ``tests``), else procedural.

    Each JSONL row has ``prompt`` and ``tests`` (a list of ``{"stdin", "stdout"}``), and optionally
    ``id`` and ``solution`` (a reference program).
    """
    if data_path is None:
        source: TaskSource = ProceduralSource(codeio_task, name="codeio")
    else:
        tasks = []
        for index, row in enumerate(load_rows(data_path)):
            tests = row.get("tests")
            if not isinstance(tests, list) or not all(
                isinstance(t, Mapping) and {"stdin", "stdout"} <= set(t) for t in tests
            ):
                raise ValueError(f"{data_path}: row {index} needs 'tests': [{{'stdin', 'stdout'}}]")
            solution = row.get("solution")
            tasks.append(
                Task(
                    id=str(row.get("id", f"codeio/{index}")),
                    prompt=row["prompt"],
                    answer={"tests": tests},
                    solution=fenced(solution) if solution and "```" not in solution else solution,
                    metadata={
                        k: v
                        for k, v in row.items()
                        if k not in ("prompt", "tests", "solution", "id")
                    },
                )
            )
        source = DatasetSource(tasks, name="codeio")
    return code_env(source, template, env_kwargs)
