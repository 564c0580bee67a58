"""Answer-form rules: a right value is not enough when the task is to compute or to simplify.

``\\boxed{3 + 5}`` has the value 8, but to "What is 3 + 5?" it is an echo of the question, not an
answer; a policy rewarded for it learns to copy instead of compute. So a task can require a form:

- ``"any"``: every way of writing the value counts (Math-Verify's behaviour);
- ``"number"``: an integer, decimal or fraction literal (``-3``, ``0.5``, ``\\frac{7}{2}``,
  ``2\\frac{1}{2}``, ``25\\%``, ``1.5 \\times 10^{3}``), with no operation left to do: a
  fraction is in lowest terms (``32/8`` is the question "What is 32 / 8?" again);
- ``"simplified"``: no operation left that evaluates to a literal (``2+3``, ``\\sqrt{4}``,
  ``\\frac{6}{4}``), no like terms left to collect (``3x + 2x``) and, unless the gold answer itself
  keeps one, no product or power of a sum left to expand (``(x+1)(x-2)``).

These rules look at the *response's* answer only after it has been found equal to the gold, so a
wrong value is still ``wrong``; a right value in a form the task refuses is ``wrong_form`` with the
reason "unevaluated expression". :func:`echoed_span` catches the plain echo on tasks whose form is
"any": an answer that restates an expression of the question that the gold does not.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from fractions import Fraction

from .compare import Form, canonical, free_symbols, walk
from .evaluate import Evaluator
from .limits import NotExact, TooLarge, Undefined
from .parse import Node

ANSWER_FORMS = ("any", "number", "simplified")


def check_answer_form(answer_form: str) -> None:
    """Raise ValueError unless ``answer_form`` is one of :data:`ANSWER_FORMS`."""
    if answer_form not in ANSWER_FORMS:
        raise ValueError(f"answer_form must be one of {ANSWER_FORMS}, got {answer_form!r}")


def answer_nodes(form: Form) -> Iterator[Node]:
    """The expressions a response form answers with: values of assignments, interval ends, sides."""
    kind = form[0]
    if kind == "scalar":
        yield form[1]
    elif kind == "assign":
        yield from answer_nodes(form[2])
    elif kind == "numeq":
        yield form[1][-1]  # "3 + 5 = 8" answers 8
    elif kind in ("multi", "tuple"):
        for item in form[1]:
            yield from answer_nodes(item)
    elif kind == "matrix":
        for row in form[1]:
            for cell in row:
                yield from answer_nodes(cell)
    elif kind == "intervals":
        for low, high, _, _ in form[1]:
            yield low
            yield high
    elif kind == "equation":
        yield form[1]
        yield form[2]


def _integer(node: Node) -> bool:
    return node[0] == "num" and not node[2] and node[1].denominator == 1


def _signed(node: Node, inner: Callable[[Node], bool]) -> bool:
    return inner(_unsigned(node))


def is_number_literal(node: Node, *, reduced: bool = False) -> bool:
    """An integer, decimal, fraction or mixed-number literal (``reduced``: a fraction in lowest terms)."""
    node = _unsigned(node)
    kind = node[0]
    if kind in ("num", "base"):
        return True
    if kind in ("percent", "degree"):
        return is_number_literal(node[1], reduced=reduced)
    if kind == "div":
        top, bottom = _unsigned(node[1]), _unsigned(node[2])
        if not (_integer(top) and _integer(bottom)) or bottom[1] == 0:
            return False
        return not reduced or (
            bottom[1] != 1 and math.gcd(top[1].numerator, bottom[1].numerator) == 1
        )
    if kind == "mul" and len(node[1]) == 2:  # scientific notation: 1.5 \times 10^{3}
        mantissa, power = node[1]
        return (
            _unsigned(mantissa)[0] == "num"
            and power[0] == "pow"
            and power[1] == ("num", Fraction(10), 0)
            and _signed(power[2], _integer)
        )
    return False


def _unsigned(node: Node) -> Node:
    while node[0] in ("neg", "group"):
        node = node[1]
    return node


def _rational(node: Node, evaluator: Evaluator) -> bool:
    """True when ``node`` has no variables and an exact rational value."""
    if free_symbols(node):
        return False
    try:
        return isinstance(evaluator.exact(node), Fraction)
    except (NotExact, Undefined, TooLarge):
        return False


def _has_sum(node: Node) -> bool:
    node = _unsigned(node)
    return node[0] == "add" and bool(free_symbols(node))


def _left_to_expand(node: Node) -> bool:
    """A product with a sum among its factors, or an integer power of a sum."""
    for sub in walk(node):
        if sub[0] == "mul" and any(_has_sum(factor) for factor in sub[1]):
            return True
        if sub[0] == "pow" and _has_sum(sub[1]) and _signed(sub[2], _integer):
            return True
    return False


def _monomial(term: Node, evaluator: Evaluator) -> tuple:
    """The part of a term that is not a rational coefficient (``3x^2`` -> ``x^2``)."""
    term = _unsigned(term)
    factors = term[1] if term[0] == "mul" else (term,)
    return tuple(sorted((canonical(f) for f in factors if not _rational(f, evaluator)), key=repr))


def _not_simplified(node: Node, evaluator: Evaluator, expand: bool) -> str | None:
    for sub in walk(node):
        if sub[0] not in ("num", "sym", "const") and not is_number_literal(sub, reduced=True):
            if _rational(sub, evaluator) and not _signed(sub, lambda n: n[0] == "num"):
                return "an operation left that evaluates to a number"
        if sub[0] == "add":
            parts = [_monomial(term, evaluator) for term in sub[1]]
            if len(set(parts)) < len(parts):
                return "like terms left to collect"
    if expand and _left_to_expand(node):
        return "a product or power of a sum left to expand"
    return None


def form_problem(response: Form, gold: Form, answer_form: str, evaluator: Evaluator) -> str | None:
    """Why ``response`` is not in ``answer_form`` (None when it is, or the form is "any")."""
    if answer_form == "any":
        return None
    nodes = list(answer_nodes(response))
    if answer_form == "number":
        for node in nodes:
            if not is_number_literal(node, reduced=True):
                return "unevaluated expression: the task asks for a number"
        return None
    expand = not any(_left_to_expand(node) for node in answer_nodes(gold))
    for node in nodes:
        problem = _not_simplified(node, evaluator, expand)
        if problem is not None:
            return f"unevaluated expression: {problem}"
    return None


def echoed_span(response: Form, gold: Form, question_forms: list[Form]) -> bool:
    """True when the response restates an expression of the question that the gold does not
    ("Write $\\frac{3}{20}$ as a decimal" answered ``\\frac{3}{20}``); a value the question
    states (``$x = 3$``) is data, not an expression to compute, and is never an echo."""
    gold_key = canonical(gold)
    keys = {canonical(response)} | {canonical(("scalar", n, False)) for n in answer_nodes(response)}
    for form in question_forms:
        key = canonical(form)
        if form[0] != "assign" and key != gold_key and key in keys:
            return True
    return False
