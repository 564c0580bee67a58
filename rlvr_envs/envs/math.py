"""Math environments: procedural arithmetic and algebra, GSM8K and MATH-500.

Each factory configures a :class:`~rlvr_envs.env.TextEnv` with a task source, the math verifier and
a prompt template; none subclasses it.

Each environment chooses how its answers are read and what form they must take (both shown in
``info["verdict"]["details"]``), and takes ``mode=`` / ``answer_form=`` to change it:

===============  =========================================  =====================================
environment      extraction mode                            answer form
===============  =========================================  =====================================
Arithmetic-v1    strict (a training task)                   number
Algebra-v1       strict                                     number (simplify: simplified)
GSM8K-v1         lenient on the test split, strict on train number
MATH500-v1       lenient (an evaluation benchmark)          any, but an echo of the question's
                                                            expression is refused
===============  =========================================  =====================================

The ``-v0`` ids keep the grading they were published with (strict extraction, any form: an echoed
``3 + 5`` scores); they stay for reproducing earlier numbers and are superseded by ``-v1``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

import numpy as np

from ..data import load_benchmark
from ..env import TextEnv
from ..prompts import MATH_TEMPLATE
from ..tasks import DatasetSource, ProceduralSource, Task, TaskSource
from ..verdict import Verdict
from ..verifiers.math import MathVerifier

ARITHMETIC_LEVELS = (1, 2, 3, 4, 5)  # what level="mixed" draws from
MULTIDIGIT_LEVEL = 6  # 3-digit by 3-digit products, for tool use: asked for by number only
ALGEBRA_KINDS = ("linear", "quadratic", "simplify", "evaluate")


def format_number(value: Fraction) -> str:
    """An exact rational as an integer or a reduced ``p/q`` string."""
    return (
        str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    )


def _boxed_solution(work: str, answer: str) -> str:
    return f"{work}\nThe answer is \\boxed{{{answer}}}."


_CHOICE = re.compile(r"(?:\\text\{)?\(?([A-Ea-e])\)?\}?")


def perturb_math_answer(task: Task, rng: np.random.Generator) -> list[str]:
    """Known-wrong completions: the gold answer moved off by one, or made into another value."""
    gold = str(task.answer).strip()
    choice = _CHOICE.fullmatch(gold)
    if choice:
        letter = choice.group(1).upper()
        other = "B" if letter == "A" else "A"
        return [
            f"The answer is \\boxed{{\\text{{({other})}}}}.",
            f"The answer is \\boxed{{{other}}}.",
        ]
    try:
        value = Fraction(gold.replace(",", ""))
    except (ValueError, ZeroDivisionError):
        return [f"The answer is \\boxed{{{gold} + 1}}.", "The answer is \\boxed{-123457}."]
    offset = int(rng.integers(1, 10))
    return [
        f"The answer is \\boxed{{{format_number(value + 1)}}}.",
        f"The answer is \\boxed{{{format_number(value - offset)}}}.",
    ]


class FormByKind:
    """The math verifier with the answer form each task's ``kind`` asks for."""

    def __init__(self, forms: Mapping[str, str], **options: Any) -> None:
        self.forms = dict(forms)
        self.verifiers = {
            form: MathVerifier(answer_form=form, **options) for form in set(self.forms.values())
        }

    def __call__(self, completion: str, task: Task) -> Verdict:
        return self.verifiers[self.forms[task.metadata["kind"]]](completion, task)

    def __repr__(self) -> str:
        return f"FormByKind({self.forms!r})"


def math_env(
    source: TaskSource,
    template: str,
    env_kwargs: dict[str, Any],
    *,
    mode: str,
    answer_form: str | Mapping[str, str],
    reject_echo: bool = False,
) -> TextEnv:
    """A :class:`TextEnv` with the math verifier in ``mode`` requiring ``answer_form`` (a form,
    or one per task ``kind``), or the ``verifier=`` given; and known-wrong answers."""
    env_kwargs.setdefault("perturb", perturb_math_answer)
    env_kwargs.setdefault("reward_name", "math")
    verifier = env_kwargs.pop("verifier", None)
    if verifier is None:
        options = {"mode": mode, "reject_echo": reject_echo}
        options.update(env_kwargs.pop("verifier_options", None) or {})
        answer_form = options.pop("answer_form", answer_form)
        if isinstance(answer_form, str):
            verifier = MathVerifier(answer_form=answer_form, **options)
        else:
            verifier = FormByKind(answer_form, **options)
    return TextEnv(source, verifier, template=template, **env_kwargs)


# --- arithmetic ---------------------------------------------------------------------------------

_OPS: dict[str, Callable[[Fraction, Fraction], Fraction]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
}


def _evaluate(tokens: list[Any]) -> Fraction:
    """Evaluate a flat ``[n, op, n, op, n]`` list with the usual precedence."""
    values, ops = [Fraction(tokens[0])], []
    for op, number in zip(tokens[1::2], tokens[2::2]):
        if op in "*/":
            values[-1] = _OPS[op](values[-1], Fraction(number))
        else:
            values.append(Fraction(number))
            ops.append(op)
    result = values[0]
    for op, value in zip(ops, values[1:]):
        result = _OPS[op](result, value)
    return result


def _arithmetic_expression(rng: np.random.Generator, level: int) -> tuple[str, Fraction]:
    if level == 1:
        a, b = (int(x) for x in rng.integers(0, 10, size=2))
        return f"{a} + {b}", Fraction(a + b)
    if level == 2:
        a, b = (int(x) for x in rng.integers(10, 100, size=2))
        op = "+" if rng.random() < 0.5 else "-"
        return f"{a} {op} {b}", _OPS[op](Fraction(a), Fraction(b))
    if level == 3:
        a, b = int(rng.integers(2, 20)), int(rng.integers(2, 13))
        if rng.random() < 0.3:
            a = -a
        if rng.random() < 0.5:
            return f"{a} * {b}", Fraction(a * b)
        return f"{a * b} / {b}", Fraction(a)
    if level == 4:
        tokens: list[Any] = [int(rng.integers(1, 50))]
        for _ in range(2):
            tokens += [str(rng.choice(["+", "-", "*"])), int(rng.integers(1, 13))]
        return " ".join(map(str, tokens)), _evaluate(tokens)
    if level == MULTIDIGIT_LEVEL:
        a, b = (int(x) for x in rng.integers(100, 1000, size=2))
        return f"{a} * {b}", Fraction(a * b)
    # Level 5: a parenthesised group times or divided by another, answers may be fractions.
    a, b, c, d = (int(x) for x in rng.integers(1, 30, size=4))
    inner = str(rng.choice(["+", "-"]))
    outer = str(rng.choice(["*", "/"]))
    tail = str(rng.choice(["+", "-"]))
    e = int(rng.integers(1, 20))
    group = _OPS[inner](Fraction(a), Fraction(b))
    value = _OPS[tail](_OPS[outer](group, Fraction(c)), Fraction(d * e))
    return f"({a} {inner} {b}) {outer} {c} {tail} {d} * {e}", value


def arithmetic_task(rng: np.random.Generator, level: int) -> Task:
    """One arithmetic question at ``level`` (1: one-digit sums ... 5: multi-step with fractions;
    6: multi-digit products, which a small model needs a tool for)."""
    expression, value = _arithmetic_expression(rng, level)
    answer = format_number(value)
    return Task(
        id="",
        prompt=f"What is {expression}?",
        answer=answer,
        solution=_boxed_solution(f"{expression} = {answer}.", answer),
        metadata={"level": level, "expression": expression},
    )


def arithmetic(
    *,
    level: int | str = 2,
    template: str = MATH_TEMPLATE,
    mode: str = "strict",
    answer_form: str = "number",
    **env_kwargs: Any,
) -> TextEnv:
    """``rlvr/Arithmetic-v1``: seeded arithmetic questions; ``level`` 1-6 or ``"mixed"`` (1-5)."""
    if level == "mixed":

        def generate(rng: np.random.Generator) -> Task:
            return arithmetic_task(rng, int(rng.choice(ARITHMETIC_LEVELS)))

    elif level in ARITHMETIC_LEVELS or level == MULTIDIGIT_LEVEL:

        def generate(rng: np.random.Generator) -> Task:
            return arithmetic_task(rng, int(level))

    else:
        raise ValueError(
            f"level must be one of {ARITHMETIC_LEVELS + (MULTIDIGIT_LEVEL,)} or 'mixed', got {level!r}"
        )
    source = ProceduralSource(generate, name="arithmetic", params=f"L{level}")
    return math_env(source, template, env_kwargs, mode=mode, answer_form=answer_form)


# --- algebra ------------------------------------------------------------------------------------


def _nonzero(rng: np.random.Generator, low: int, high: int) -> int:
    value = 0
    while value == 0:
        value = int(rng.integers(low, high + 1))
    return value


def algebra_task(rng: np.random.Generator, kind: str) -> Task:
    """One algebra question of ``kind``: linear, quadratic, simplify or evaluate."""
    import sympy

    x = sympy.Symbol("x")
    if kind == "linear":
        a = _nonzero(rng, -9, 9)
        c = a
        while c == a:
            c = int(rng.integers(-9, 10))
        root = Fraction(int(rng.integers(-12, 13)), int(rng.choice([1, 1, 1, 2, 3])))
        b = int(rng.integers(-20, 21))
        d = (a - c) * root + b  # keeps the solution at ``root``; d may be a fraction
        left = sympy.latex(a * x + b)
        right = sympy.latex(c * x + sympy.Rational(d.numerator, d.denominator))
        answer = format_number(root)
        prompt = f"Solve for $x$: ${left} = {right}$."
        work = f"Collect the x terms: {a - c}x = {format_number(d - b)}, so x = {answer}."
        metadata = {"kind": kind, "expression": f"{left} = {right}"}
        return Task("", prompt, answer, _boxed_solution(work, answer), metadata)
    if kind == "quadratic":
        r1, r2 = (int(v) for v in rng.integers(-9, 10, size=2))
        k = int(rng.choice([1, 1, 2, 3]))
        poly = sympy.expand(k * (x - r1) * (x - r2))
        roots = sorted({r1, r2})
        answer = ", ".join(str(r) for r in roots)
        prompt = (
            f"Find all real solutions of ${sympy.latex(poly)} = 0$. "
            "If there is more than one, list them separated by commas."
        )
        factors = "".join(f"({sympy.latex(x - r)})" for r in (r1, r2))
        work = f"Factor: {k if k > 1 else ''}{factors} = 0."
        metadata = {"kind": kind, "expression": f"{sympy.latex(poly)} = 0"}
        return Task("", prompt, answer, _boxed_solution(work, answer), metadata)
    if kind == "simplify":
        a, b, c, d, e = (_nonzero(rng, -6, 6) for _ in range(5))
        expr = (a * x + b) * (c * x + d) + e * x
        expanded = sympy.expand(expr)
        answer = sympy.latex(expanded)
        sign = "+" if e > 0 else "-"
        expression = (
            f"({sympy.latex(a * x + b)})({sympy.latex(c * x + d)}) {sign} {sympy.latex(abs(e) * x)}"
        )
        return Task(
            "",
            f"Expand and simplify ${expression}$.",
            answer,
            _boxed_solution("Multiply out and collect terms.", answer),
            {"kind": kind, "expression": expression},
        )
    if kind == "evaluate":
        coeffs = [int(v) for v in rng.integers(-5, 6, size=3)]
        poly = coeffs[0] * x**2 + coeffs[1] * x + coeffs[2] + _nonzero(rng, 1, 3) * x**3
        point = int(rng.integers(-4, 5))
        value = int(poly.subs(x, point))
        prompt = f"Evaluate $p(x) = {sympy.latex(poly)}$ at $x = {point}$."
        substituted = sympy.latex(poly).replace("x", f"({point})")  # the sum left to compute
        return Task(
            "",
            prompt,
            str(value),
            _boxed_solution(f"p({point}) = {value}.", str(value)),
            {"kind": kind, "expression": substituted},
        )
    raise ValueError(f"kind must be one of {ALGEBRA_KINDS}, got {kind!r}")


ALGEBRA_FORMS = {
    "linear": "number",
    "quadratic": "number",
    "simplify": "simplified",
    "evaluate": "number",
}
"""The answer form each algebra kind asks for: a solution is a number, an expansion simplified."""


def algebra(
    *,
    kind: str = "mixed",
    template: str = MATH_TEMPLATE,
    mode: str = "strict",
    answer_form: str | None = None,
    **env_kwargs: Any,
) -> TextEnv:
    """``rlvr/Algebra-v1``: seeded linear/quadratic equations, simplification and evaluation.

    ``answer_form`` defaults to :data:`ALGEBRA_FORMS` (by kind); a string applies to every kind.
    """
    if kind != "mixed" and kind not in ALGEBRA_KINDS:
        raise ValueError(f"kind must be one of {ALGEBRA_KINDS} or 'mixed', got {kind!r}")

    def generate(rng: np.random.Generator) -> Task:
        chosen = str(rng.choice(ALGEBRA_KINDS)) if kind == "mixed" else kind
        return algebra_task(rng, chosen)

    source = ProceduralSource(generate, name="algebra", params=kind)
    forms = answer_form or ALGEBRA_FORMS
    return math_env(source, template, env_kwargs, mode=mode, answer_form=forms)


# --- datasets -----------------------------------------------------------------------------------

_GSM8K_FINAL = re.compile(r"####\s*(.+?)\s*$", re.DOTALL)


def gsm8k_answer(solution: str) -> str:
    """The final answer of a GSM8K solution: the number after ``####``, without commas."""
    match = _GSM8K_FINAL.search(solution)
    if match is None:
        raise ValueError(f"GSM8K solution has no '#### answer' line: {solution[-80:]!r}")
    return match.group(1).replace(",", "").strip()


def gsm8k(
    *,
    split: str = "test",
    data_path: str | os.PathLike | None = None,
    template: str = MATH_TEMPLATE,
    mode: str | None = None,
    answer_form: str = "number",
    **env_kwargs: Any,
) -> TextEnv:
    """``rlvr/GSM8K-v1``: grade-school word problems (hub ``openai/gsm8k``, or ``data_path``).

    ``mode`` defaults to "lenient" on the test split (evaluation) and "strict" on train.
    """
    rows = load_benchmark(
        "openai/gsm8k",
        config="main",
        split=split,
        data_path=data_path,
        local_names=(f"gsm8k_{split}.jsonl", f"gsm8k_{split}.jsonl.gz"),
    )
    tasks = [
        Task(
            id=f"gsm8k/{split}/{index}",
            prompt=row["question"],
            answer=gsm8k_answer(row["answer"]),
            solution=row["answer"],
            metadata={"split": split},
        )
        for index, row in enumerate(rows)
    ]
    mode = mode or ("strict" if split == "train" else "lenient")
    source = DatasetSource(tasks, name="gsm8k")
    return math_env(source, template, env_kwargs, mode=mode, answer_form=answer_form)


def math500(
    *,
    data_path: str | os.PathLike | None = None,
    template: str = MATH_TEMPLATE,
    mode: str = "lenient",
    answer_form: str = "any",
    reject_echo: bool = True,
    **env_kwargs: Any,
) -> TextEnv:
    """``rlvr/MATH500-v1``: the MATH-500 competition subset (hub ``HuggingFaceH4/MATH-500``).

    Answers take any form (``\\sqrt{20}`` may be asked to be ``2\\sqrt{5}``, ``\\frac{\\pi}{2}`` has
    no literal), but one that restates an expression of the question is refused
    (``reject_echo``): "Compute $\\dbinom{8}{4}$" is not answered by ``\\binom{8}{4}``.
    """
    rows = load_benchmark(
        "HuggingFaceH4/MATH-500",
        split="test",
        data_path=data_path,
        local_names=("math500_test.jsonl", "math500_test.jsonl.gz"),
    )
    tasks = [
        Task(
            id=row.get("unique_id") or f"math500/{index}",
            prompt=row["problem"],
            answer=row["answer"],
            solution=row["solution"],
            metadata={"subject": row.get("subject"), "level": row.get("level")},
        )
        for index, row in enumerate(rows)
    ]
    source = DatasetSource(tasks, name="math500")
    return math_env(
        source, template, env_kwargs, mode=mode, answer_form=answer_form, reject_echo=reject_echo
    )
