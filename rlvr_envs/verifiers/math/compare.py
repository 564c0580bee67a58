"""Equivalence stage: is a parsed response the same answer as the parsed gold?

First each parsed answer is read as an answer *form*: a scalar (with percent/degree marks), an
unordered collection (a bare list, a set, a ``\\pm`` pair, "2 or 3"), an ordered tuple, a union of
intervals (from bracket notation, ``\\cup``, inequalities or ``x \\in``), a matrix, an equation, an
assignment ``x = 5`` or text. Then forms are compared by rules that keep what carries meaning:

- numbers compare exactly (integers and fractions by rational arithmetic, decimals as the exact
  rationals they write), never with a relative tolerance;
- an irrational gold is never matched by a rational written with decimals (3.14 for \\pi,
  1.414 for \\sqrt{2}): that is an approximation (``0.5\\sqrt{2}`` is not, and may match);
- expressions with variables are equal when they agree at several fixed random points, exactly
  (rational arithmetic) where possible, else in floating point at a 1e-10 relative tolerance, using
  only points where both are real (so ``|x|`` and ``x`` differ, ``\\ln(x^2)`` and ``2\\ln x`` agree);
- percentages are converted only when a percent sign is present; degrees are a unit;
- tuples are ordered, sets and lists are not; interval endpoints must match with their openness;
- an assignment ``x = 3`` answers 3; an equation such as ``x^2 = 3`` does not; equations match
  equations when one is a non-zero multiple of the other;
- several different answers against a single gold are a hedge and are wrong.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

from .evaluate import Evaluator
from .limits import DEFAULT_LIMITS, Deadline, Limits, NotExact, TooLarge, Undefined
from .normalize import normalize_text
from .parse import Node

Form = tuple[Any, ...]

REL_TOL = 1e-10
ABS_TOL = 1e-12
MIN_POINTS = 3
_MAX_PM_VARIANTS = 16
_MAX_ITEMS = 64

_INF: Node = ("const", "inf")
_NEG_INF: Node = ("neg", _INF)


def _make_points(count: int, slots: int) -> list[list[Fraction]]:
    """Fixed pseudo-random evaluation points: the first five positive, the rest of mixed sign."""
    rng = random.Random(9173)
    points = []
    for row in range(count):
        values = []
        for _ in range(slots):
            value = Fraction(rng.randint(113, 2971), rng.randint(101, 997))
            if row >= 5 and rng.random() < 0.6:
                value = -value
            values.append(value)
        points.append(values)
    return points


_POINTS = _make_points(9, 32)
_FLOAT_POINTS = [[complex(float(v)) for v in row] for row in _POINTS]


# --- node utilities -----------------------------------------------------------------------------


def walk(node: Any) -> Iterator[Node]:
    """Every node in ``node`` (a node, a form, or a tuple of them), parents first."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, tuple) and current:
            if isinstance(current[0], str):
                yield current
                stack.extend(item for item in current[1:] if isinstance(item, tuple))
            else:  # a tuple of nodes (terms, items, rows)
                stack.extend(item for item in current if isinstance(item, tuple))


def free_symbols(node: Node) -> frozenset[str]:
    """Names of the variables in ``node``."""
    return frozenset(n[1] for n in walk(node) if n[0] == "sym")


def has_decimal(node: Node) -> bool:
    """True when ``node`` contains a decimal literal such as ``3.14``."""
    return any(n[0] == "num" and n[2] for n in walk(node))


def has_imaginary(node: Node) -> bool:
    """True when ``node`` uses the imaginary unit."""
    return any(n[0] == "const" and n[1] == "i" for n in walk(node))


def canonical(node: Any) -> Any:
    """A structural key: groups dropped, sums and products order-free, decimals as values."""
    if not isinstance(node, tuple) or not node or not isinstance(node[0], str):
        if isinstance(node, tuple):
            return tuple(canonical(item) for item in node)
        return node
    kind = node[0]
    if kind == "group":
        return canonical(node[1])
    if kind == "num":
        return ("num", node[1])
    if kind in ("add", "mul"):
        return (kind, tuple(sorted((canonical(item) for item in node[1]), key=repr)))
    return tuple(canonical(item) for item in node)


def _is_label(node: Node) -> bool:
    """A name that an answer can be assigned to: x, x_1, AB, f(3), \\text{Area}, and names built
    from names: ``(p, q)``, ``V_1:V_2``, ``|AB|``, ``\\frac{NO}{BO}``."""
    kind = node[0]
    if kind in ("sym", "text"):
        return True
    if kind == "mul":
        factors = node[1]
        return factors[0][0] == "sym" and all(f[0] in ("sym", "group") for f in factors[1:])
    if kind == "bracket":
        return node[1:3] == ("(", ")") and all(_is_label(item) for item in node[3])
    if kind == "ratio":
        return all(_is_label(item) for item in node[1])
    if kind == "div":
        return _is_label(node[1]) and _is_label(node[2])
    if kind == "func" and node[1] == "abs":
        return _is_label(node[2][0])
    return False


def _endpoint_sign(node: Node) -> int:
    """+1 for +infinity, -1 for -infinity, 0 for a finite endpoint."""
    while node[0] == "group":
        node = node[1]
    if node == _INF:
        return 1
    if node[0] == "neg":
        return -_endpoint_sign(node[1])
    return 0


def _expand_pm(node: Any, budget: list[int]) -> list[Any]:
    """All sign choices of the ``\\pm`` in ``node`` (a small bounded number of variants)."""
    if not isinstance(node, tuple) or not node or not isinstance(node[0], str):
        if isinstance(node, tuple):
            options = [_expand_pm(item, budget) for item in node]
            return [tuple(choice) for choice in itertools.product(*options)]
        return [node]
    if node[0] == "pm":
        left, right = node[1], node[2]
        rights = _expand_pm(right, budget)
        lefts = _expand_pm(left, budget) if left is not None else [None]
        variants = []
        for a, b in itertools.product(lefts, rights):
            if a is None:
                variants += [b, ("neg", b)]
            else:
                variants += [("add", (a, b)), ("add", (a, ("neg", b)))]
        budget[0] -= len(variants)
        if budget[0] < 0:
            raise TooLarge("too many \\pm combinations")
        return variants
    if not any(n[0] == "pm" for n in walk(node)):
        return [node]
    options = [_expand_pm(item, budget) for item in node[1:]]
    return [(node[0], *choice) for choice in itertools.product(*options)]


# --- answer forms -------------------------------------------------------------------------------


def _interval(lo: Node, hi: Node, lo_closed: bool, hi_closed: bool) -> Form:
    return ("intervals", ((lo, hi, lo_closed, hi_closed),))


_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "!=": "!="}


def _linear(node: Node, evaluator: Evaluator) -> tuple[str, Fraction, Fraction] | None:
    """``(variable, slope, intercept)`` when ``node`` is a linear function of one variable."""
    names = free_symbols(node)
    if len(names) != 1:
        return None
    (name,) = names
    try:
        samples = [
            (x, evaluator.exact(node, {name: x}))
            for x in (Fraction(0), Fraction(1), Fraction(-5, 3), Fraction(11, 7))
        ]
    except (NotExact, Undefined, TooLarge):
        return None
    if not all(isinstance(value, Fraction) for _, value in samples):
        return None
    intercept = samples[0][1]
    slope = samples[1][1] - intercept
    if slope == 0 or any(value != slope * x + intercept for x, value in samples):
        return None
    return name, slope, intercept


def _solved_relation(node: Node, evaluator: Evaluator) -> Node | None:
    """``-x > -1`` or ``0 < 2x + 2 <= 6``: rewritten with the variable alone, when linear."""
    ops, parts = node[1], node[2]
    if len(parts) == 2:
        difference = ("add", (parts[0], ("neg", parts[1])))
        linear = _linear(difference, evaluator)
        if linear is None:
            return None
        name, slope, intercept = linear
        op = ops[0] if slope > 0 else _FLIP[ops[0]]
        return ("rel", (op,), (("sym", name), ("num", -intercept / slope, False)))
    middle = parts[1] if len(parts) == 3 else None
    if middle is None or free_symbols(parts[0]) or free_symbols(parts[2]):
        return None
    linear = _linear(middle, evaluator)
    if linear is None:
        return None
    name, slope, intercept = linear
    ends = [("add", (part, ("num", -intercept, False))) for part in (parts[0], parts[2])]
    ends = [("div", end, ("num", slope, False)) for end in ends]
    if slope > 0:
        return ("rel", ops, (ends[0], ("sym", name), ends[1]))
    return ("rel", (_FLIP[ops[0]], _FLIP[ops[1]]), (ends[0], ("sym", name), ends[1]))


def _relation_intervals(node: Node, evaluator: Evaluator | None = None) -> Form | None:
    """``x > 2``, ``-2 <= x <= 7``, ``x != 3``: the set of x as a union of intervals."""
    simple = _simple_relation_intervals(node, evaluator)
    if simple is not None:
        return simple
    evaluator = evaluator or Evaluator(DEFAULT_LIMITS, Deadline(DEFAULT_LIMITS.timeout_s))
    solved = _solved_relation(node, evaluator)
    return _simple_relation_intervals(solved, evaluator) if solved is not None else None


def _is_variable(node: Node) -> bool:
    """What an inequality can be about: ``x``, ``x_1`` or a value such as ``f(x)``."""
    return node[0] == "sym" or (node[0] == "mul" and _is_label(node) and node[1][0][0] == "sym")


def _simple_relation_intervals(node: Node, evaluator: Evaluator | None = None) -> Form | None:
    ops, parts = node[1], node[2]
    if len(parts) == 2:
        (op,), (a, b) = ops, parts
        if _is_label(b) and not _is_label(a):
            a, b = b, a
            op = _FLIP.get(op, op)
        if not _is_variable(a) or free_symbols(b):
            return None
        if op == "<":
            return _interval(_NEG_INF, b, False, False)
        if op == "<=":
            return _interval(_NEG_INF, b, False, True)
        if op == ">":
            return _interval(b, _INF, False, False)
        if op == ">=":
            return _interval(b, _INF, True, False)
        if op == "!=":
            return ("intervals", ((_NEG_INF, b, False, False), (b, _INF, False, False)))
        return None
    if len(parts) != 3 or free_symbols(parts[0]) or free_symbols(parts[2]):
        return None
    lo, middle, hi = parts
    if all(op in (">", ">=") for op in ops):
        lo, hi, ops = hi, lo, (_FLIP[ops[1]], _FLIP[ops[0]])
    if not all(op in ("<", "<=") for op in ops):
        return None
    lo_closed, hi_closed = ops[0] == "<=", ops[1] == "<="
    if _is_variable(middle):
        return _interval(lo, hi, lo_closed, hi_closed)
    if middle[0] == "func" and middle[1] == "abs" and _is_variable(middle[2][0]):
        return _abs_between(lo, hi, lo_closed, hi_closed, evaluator)
    return None


def _abs_between(
    lo: Node, hi: Node, lo_closed: bool, hi_closed: bool, evaluator: Evaluator | None
) -> Form | None:
    """``1 <= |z| <= 3/2``: the two mirrored intervals of z (one when the lower end is negative)."""
    evaluator = evaluator or Evaluator(DEFAULT_LIMITS, Deadline(DEFAULT_LIMITS.timeout_s))
    try:
        low = evaluator.exact(lo)
    except (NotExact, Undefined, TooLarge):
        return None
    if not isinstance(low, Fraction):
        return None
    if low < 0 or (low == 0 and lo_closed):
        return _interval(("neg", hi), hi, hi_closed, hi_closed)
    mirrored = (("neg", hi), ("neg", lo), hi_closed, lo_closed)
    return ("intervals", (mirrored, (lo, hi, lo_closed, hi_closed)))


def _as_intervals(form: Form) -> Form | None:
    if form[0] == "intervals":
        return form
    if form[0] == "tuple" and len(form[1]) == 2 and form[2:] == ("(", ")"):
        lo, hi = form[1]
        if lo[0] == "scalar" and hi[0] == "scalar":
            return _interval(lo[1], hi[1], False, False)
    if form[0] == "multi" and form[2]:  # a set of isolated points {a, b}
        points = []
        for item in form[1]:
            if item[0] != "scalar":
                return None
            points.append((item[1], item[1], True, True))
        return ("intervals", tuple(points))
    return None


def _flat_items(nodes: tuple[Node, ...], evaluator: Evaluator | None) -> list[Form]:
    """Forms of list items, with ``a \\pm b`` and "a or b" items spread into the list."""
    items: list[Form] = []
    for item in nodes:
        form = form_of(item, evaluator)
        if form[0] == "multi" and not form[2]:
            items.extend(form[1])
        else:
            items.append(form)
    if len(items) > _MAX_ITEMS:
        raise TooLarge("too many list items")
    return items


def form_of(node: Node, evaluator: Evaluator | None = None) -> Form:
    """Read a parsed answer as one of the answer forms (see the module docstring).

    Linear inequalities in one variable are solved (``-x > -1`` is ``x < 1``) with
    ``evaluator`` (which carries the call's limits and deadline), or a default one.
    """
    kind = node[0]
    if kind == "group":
        return form_of(node[1], evaluator)
    if kind == "list":
        items = _flat_items(node[1], evaluator)
        if len(items) > 1 and all(item[0] == "intervals" for item in items):
            return ("intervals", tuple(iv for item in items for iv in item[1]))
        if len(items) == 1:
            return items[0]
        return _solution_tuples(items) or ("multi", tuple(items), False)
    if kind == "set":
        return ("multi", tuple(_flat_items(node[1], evaluator)), True)
    if kind == "bracket":
        opener, closer, items = node[1], node[2], node[3]
        if len(items) == 2 and (opener, closer) != ("(", ")"):
            return _interval(items[0], items[1], opener == "[", closer == "]")
        return ("tuple", tuple(form_of(item, evaluator) for item in items), opener, closer)
    if kind == "ratio":
        return ("tuple", tuple(form_of(item, evaluator) for item in node[1]), ":", ":")
    if kind == "union":
        intervals = []
        for part in node[1]:
            converted = _as_intervals(form_of(part, evaluator))
            if converted is None:
                return ("unknown", node)
            intervals.extend(converted[1])
        return ("intervals", tuple(intervals))
    if kind == "in":
        return form_of(node[2], evaluator) if _is_label(node[1]) else ("unknown", node)
    if kind == "rel":
        return _relation_intervals(node, evaluator) or ("unknown", node)
    if kind == "reals":
        return _interval(_NEG_INF, _INF, False, False)
    if kind == "eq":
        parts = node[1]
        if _is_label(parts[0]):
            return ("assign", parts[0], form_of(parts[-1], evaluator))
        if len(parts) == 2 and _is_label(parts[1]):
            return ("assign", parts[1], form_of(parts[0], evaluator))
        if not any(free_symbols(part) for part in parts):
            return ("numeq", parts)
        return ("equation", parts[0], parts[-1])
    if kind == "matrix":
        return (
            "matrix",
            tuple(tuple(form_of(cell, evaluator) for cell in row) for row in node[1]),
        )
    if kind == "text":
        return ("text", normalize_text(node[1]))
    if kind == "pm" or any(n[0] == "pm" for n in walk(node)):
        variants = _expand_pm(node, [_MAX_PM_VARIANTS])
        return ("multi", tuple(form_of(v, evaluator) for v in variants), False)
    if kind == "percent":
        return ("scalar", node[1], True)
    if kind == "degree":
        return ("scalar", node[1], False)
    if kind in ("add", "mul", "neg") and any(n[0] == "matrix" for n in walk(node)):
        rows = _matrix_value(node)
        if rows is not None:
            return ("matrix", tuple(tuple(("scalar", c, False) for c in row) for row in rows))
    return ("scalar", node, False)


def _solution_tuples(items: list[Form]) -> Form | None:
    """``p=5, q=2; p=7, q=2``: assignments whose labels repeat in a cycle are solution tuples."""
    if len(items) < 4 or not all(item[0] == "assign" for item in items):
        return None
    labels = [canonical(item[1]) for item in items]
    size = labels.index(labels[0], 1) if labels[0] in labels[1:] else 0
    if size < 2 or len(items) % size or len(set(labels[:size])) != size:
        return None
    if any(labels[i] != labels[i % size] for i in range(len(items))):
        return None
    solutions = [
        ("tuple", tuple(item[2] for item in items[i : i + size]), "(", ")")
        for i in range(0, len(items), size)
    ]
    return ("multi", tuple(solutions), False)


_MAX_MATRIX_CELLS = 400


def _matrix_value(node: Node) -> tuple[tuple[Node, ...], ...] | None:
    """Sums, differences and products of matrices (and scalar multiples) as one matrix of cell
    expressions; None when the shapes do not fit or something else is mixed in."""
    kind = node[0]
    if kind == "group":
        return _matrix_value(node[1])
    if kind == "matrix":
        return node[1]
    if kind == "neg":
        rows = _matrix_value(node[1])
        return None if rows is None else tuple(tuple(("neg", c) for c in row) for row in rows)
    if kind == "add":
        terms = [_matrix_value(term) for term in node[1]]
        if any(t is None for t in terms) or len({(len(t), len(t[0])) for t in terms}) != 1:
            return None
        return tuple(
            tuple(("add", tuple(t[i][j] for t in terms)) for j in range(len(terms[0][0])))
            for i in range(len(terms[0]))
        )
    if kind != "mul":
        return None
    result: tuple[tuple[Node, ...], ...] | None = None
    scale: list[Node] = []
    for factor in node[1]:
        rows = _matrix_value(factor) if any(n[0] == "matrix" for n in walk(factor)) else None
        if rows is None:
            if any(n[0] == "matrix" for n in walk(factor)):
                return None
            scale.append(factor)
        elif result is None:
            result = rows
        else:
            inner = len(rows)
            if len(result[0]) != inner or len(result) * len(rows[0]) * inner > _MAX_MATRIX_CELLS:
                return None
            result = tuple(
                tuple(
                    ("add", tuple(("mul", (row[k], rows[k][j])) for k in range(inner)))
                    for j in range(len(rows[0]))
                )
                for row in result
            )
    if result is None:
        return None
    return tuple(tuple(("mul", (*scale, c)) if scale else c for c in row) for row in result)


def form_node(form: Form) -> Node | None:
    """The expression behind a scalar form (None for other forms)."""
    return form[1] if form[0] == "scalar" else None


# --- comparison ---------------------------------------------------------------------------------


class Comparer:
    """Decides equivalence of answer forms under one call's limits and deadline."""

    def __init__(
        self, limits: Limits, deadline: Deadline, *, numeric_digits: int | None = None
    ) -> None:
        self.evaluator = Evaluator(limits, deadline)
        self.deadline = deadline
        self.numeric_digits = numeric_digits  # None: decimals are exact values, never roundings
        self.reason = ""  # why the last comparison failed, when it is worth saying

    def equal(self, gold: Form, response: Form) -> bool:
        """True when ``response`` is the same answer as ``gold``."""
        self.deadline.tick()
        g, r = gold[0], response[0]
        if r == "assign":
            if g == "assign":
                if self.labels_equal(gold[1], response[1]):
                    return self.equal(gold[2], response[2])
                renamed = _renamed_argument(gold[1], response[1], response[2])
                return renamed is not None and self.equal(gold[2], renamed)
            if g == "equation":
                rhs = form_node(response[2])
                return rhs is not None and self.equations_equal(gold[1:], (response[1], rhs))
            return self.equal(gold, response[2])
        if g == "assign":
            rhs = form_node(gold[2])
            if r == "equation" and rhs is not None and free_symbols(rhs):
                return self.equations_equal((gold[1], rhs), response[1:])
            return self.equal(gold[2], response)
        if r == "numeq":
            parts = response[1]
            if not all(self.values_equal(parts[0], part) for part in parts[1:]):
                self.reason = "the response's equation is false"
                return False
            return self.equal(gold, ("scalar", parts[-1], False))
        if g == "numeq":
            return self.equal(("scalar", gold[1][-1], False), response)
        if g == "multi":
            golds = self.distinct(gold[1])
            if r == "tuple" and gold[2]:
                self.reason = "a tuple where a set was expected"
                return False
            if r in ("multi", "tuple"):
                return self.same_collection(golds, self.distinct(response[1]))
            return len(golds) == 1 and self.equal(golds[0], response)
        if r == "multi":
            if g == "tuple" and not response[2]:  # "1, 2" for (1, 2): order counts, repeats too
                return self.same_sequence(gold[1], response[1])
            answers = self.distinct(response[1])
            if len(answers) == 1:
                return self.equal(gold, answers[0])
            if g == "intervals" and response[2]:
                converted = _as_intervals(response)
                return converted is not None and self.equal(gold, converted)
            if g == "scalar" or g == "assign":
                self.reason = "several different answers"
            return False
        if g == "tuple":
            if r == "tuple":
                return gold[2:] == response[2:] and self.same_sequence(gold[1], response[1])
            if r == "intervals" and gold[2:] == ("(", ")"):
                converted = _as_intervals(gold)
                return converted is not None and self.intervals_equal(converted, response)
            if r == "matrix":
                return self.same_sequence(gold[1], _vector(response))
            return False
        if g == "intervals":
            converted = _as_intervals(response)
            return converted is not None and self.intervals_equal(gold, converted)
        if g == "matrix":
            if r == "matrix":
                return (
                    len(gold[1]) == len(response[1])
                    and len(gold[1][0]) == len(response[1][0])
                    and all(
                        self.equal(a, b)
                        for row_a, row_b in zip(gold[1], response[1])
                        for a, b in zip(row_a, row_b)
                    )
                )
            if r == "tuple" and response[2:] == ("(", ")"):
                return self.same_sequence(_vector(gold), response[1])
            return False
        if g == "equation":
            return r == "equation" and self.equations_equal(gold[1:], response[1:])
        if g == "text":
            return r == "text" and gold[1] == response[1]
        if g == "scalar":
            return r == "scalar" and self.scalars_equal(gold, response)
        return canonical(gold) == canonical(response)

    def labels_equal(self, a: Node, b: Node) -> bool:
        return canonical(a) == canonical(b)

    def distinct(self, items: tuple[Form, ...]) -> list[Form]:
        kept: list[Form] = []
        for item in items:
            if not any(self.equal(other, item) for other in kept):
                kept.append(item)
        return kept

    def same_collection(self, golds: list[Form], answers: list[Form]) -> bool:
        if len(golds) != len(answers):
            if len(answers) > len(golds):
                self.reason = "more answers than expected"
            return False
        remaining = list(answers)
        for gold in golds:
            for index, answer in enumerate(remaining):
                if self.equal(gold, answer):
                    del remaining[index]
                    break
            else:
                return False
        return True

    def same_sequence(self, golds: tuple[Form, ...], answers: tuple[Form, ...]) -> bool:
        return len(golds) == len(answers) and all(self.equal(a, b) for a, b in zip(golds, answers))

    def intervals_equal(self, gold: Form, response: Form) -> bool:
        golds, answers = list(gold[1]), list(response[1])
        if len(golds) != len(answers):
            return False
        remaining = list(answers)
        for lo, hi, lo_closed, hi_closed in golds:
            for index, (lo2, hi2, lo2_closed, hi2_closed) in enumerate(remaining):
                if (
                    lo_closed == lo2_closed
                    and hi_closed == hi2_closed
                    and self.endpoints_equal(lo, lo2)
                    and self.endpoints_equal(hi, hi2)
                ):
                    del remaining[index]
                    break
            else:
                return False
        return True

    def endpoints_equal(self, a: Node, b: Node) -> bool:
        sign_a, sign_b = _endpoint_sign(a), _endpoint_sign(b)
        if sign_a or sign_b:
            return sign_a == sign_b
        return self.values_equal(a, b)

    def scalars_equal(self, gold: Form, response: Form) -> bool:
        value, answer = gold[1], response[1]
        if value[0] == "base" or answer[0] == "base":
            return _numerals_equal(value, answer)
        if gold[2] == response[2]:
            return self.values_equal(value, answer)
        hundred = ("num", Fraction(100), False)
        if gold[2]:  # gold 25%: 25 and 0.25 both state it
            return self.values_equal(value, answer) or self.values_equal(
                ("div", value, hundred), answer
            )
        return self.values_equal(value, answer) or self.values_equal(
            value, ("div", answer, hundred)
        )

    # --- values -------------------------------------------------------------------------------

    def values_equal(self, gold: Node, answer: Node) -> bool:
        """Equality of two expressions (``answer`` is the side whose decimals are suspect)."""
        if canonical(gold) == canonical(answer):
            return True
        symbols = free_symbols(gold) | free_symbols(answer)
        approximate = has_decimal(answer) and not has_decimal(gold)
        real_only = not (has_imaginary(gold) or has_imaginary(answer))
        if not symbols:
            verdict = self.point_equal(gold, answer, None, approximate, real_only=False)
            return bool(verdict)
        names = sorted(symbols)
        agreed = 0
        for row, float_row in zip(_POINTS, _FLOAT_POINTS):
            env = {name: row[i % len(row)] for i, name in enumerate(names)}
            float_env = {name: float_row[i % len(float_row)] for i, name in enumerate(names)}
            verdict = self.point_equal(gold, answer, (env, float_env), approximate, real_only)
            if verdict is False:
                return False
            if verdict:
                agreed += 1
        return agreed >= MIN_POINTS

    def point_equal(
        self,
        gold: Node,
        answer: Node,
        envs: tuple[dict[str, Fraction], dict[str, complex]] | None,
        approximate: bool,
        real_only: bool,
    ) -> bool | None:
        """Equal at one point: True, False, or None when undefined or not real there."""
        env, float_env = envs if envs is not None else (None, None)
        try:
            exact_gold = self.exact_or_none(gold, env)
            exact_answer = self.exact_or_none(answer, env)
        except Undefined:
            return None
        if exact_gold is not None and exact_answer is not None:
            if exact_gold == exact_answer:
                return True
            return envs is None and self.rounds_to(answer, exact_gold)
        if approximate and exact_gold is None and exact_answer is not None:
            # A rational written with decimals against an irrational gold: 3.14 for \pi.
            if envs is None and self.rounds_to(answer, None, gold):
                return True
            self.reason = "a decimal approximation of an exact answer"
            return False
        try:
            a = self.evaluator.numeric(gold, float_env)
            b = self.evaluator.numeric(answer, float_env)
        except (Undefined, NotExact):
            return None
        scale = max(abs(a), abs(b), 1.0)
        if real_only and (abs(a.imag) > 1e-12 * scale or abs(b.imag) > 1e-12 * scale):
            return None
        return abs(a - b) <= REL_TOL * max(abs(a), abs(b)) + ABS_TOL

    def rounds_to(self, answer: Node, exact_gold: Any, gold: Node | None = None) -> bool:
        """A decimal literal with enough significant digits, within one unit of its last digit.

        Only with ``numeric_digits`` set (lenient mode): ``0.0833333333333333`` for 1/12,
        ``3.14159`` for \\pi; never 0.08 or 3.14 (too few digits at the default of 6).
        """
        literal = answer[1] if answer[0] == "neg" else answer
        if self.numeric_digits is None or literal[0] != "num" or not literal[2]:
            return False
        digits, value = literal[2], literal[1]
        if digits < self.numeric_digits or value == 0:
            return False
        value = -value if answer[0] == "neg" else value
        exponent = math.floor(math.log10(abs(value)))
        unit = Fraction(10) ** (exponent - digits + 1)
        if isinstance(exact_gold, Fraction):
            return abs(value - exact_gold) <= unit
        if exact_gold is not None or gold is None:
            return False
        try:
            target = self.evaluator.numeric(gold)
        except (Undefined, NotExact, TooLarge):
            return False
        return abs(target.imag) <= ABS_TOL and abs(float(value) - target.real) <= float(unit) * (
            1 + 1e-9
        )

    def exact_or_none(self, node: Node, env: dict[str, Fraction] | None) -> Any:
        try:
            return self.evaluator.exact(node, env)
        except NotExact:
            return None

    def equations_equal(self, gold: tuple[Node, Node], answer: tuple[Node, Node]) -> bool:
        """Equations are equal when one side-difference is a non-zero multiple of the other."""
        f = ("add", (gold[0], ("neg", gold[1])))
        h = ("add", (answer[0], ("neg", answer[1])))
        symbols = sorted(free_symbols(f) | free_symbols(h))
        if not symbols:
            return canonical(gold) == canonical(answer)
        ratio: Any = None
        agreed = 0
        for row, float_row in zip(_POINTS, _FLOAT_POINTS):
            env = {name: row[i % len(row)] for i, name in enumerate(symbols)}
            float_env = {name: float_row[i % len(float_row)] for i, name in enumerate(symbols)}
            try:
                try:
                    a: Any = self.evaluator.exact(f, env)
                    b: Any = self.evaluator.exact(h, env)
                except NotExact:
                    a = self.evaluator.numeric(f, float_env)
                    b = self.evaluator.numeric(h, float_env)
            except (Undefined, NotExact):
                continue
            if a == 0 or (isinstance(a, complex) and abs(a) <= ABS_TOL):
                if not (b == 0 or (isinstance(b, complex) and abs(b) <= ABS_TOL)):
                    return False
                agreed += 1
                continue
            quotient = b / a
            if ratio is None:
                ratio = quotient
            elif isinstance(quotient, complex) or isinstance(ratio, complex):
                if abs(complex(quotient) - complex(ratio)) > REL_TOL * max(abs(ratio), 1.0):
                    return False
            elif quotient != ratio:
                return False
            agreed += 1
        return agreed >= MIN_POINTS and ratio is not None and ratio != 0


def _function_label(node: Node) -> tuple[str, str] | None:
    """``f(x)``: the function's name and its argument's name."""
    if node[0] != "mul" or len(node[1]) != 2:
        return None
    name, argument = node[1]
    if name[0] != "sym" or argument[0] != "group" or argument[1][0] != "sym":
        return None
    return name[1], argument[1][1]


def _rename(item: Any, old: str, new: str) -> Any:
    if item == ("sym", old):
        return ("sym", new)
    if isinstance(item, tuple):
        return tuple(_rename(part, old, new) for part in item)
    return item


def _renamed_argument(gold_label: Node, label: Node, value: Form) -> Form | None:
    """``W(x) = 1 - x`` answering ``W(n)``: the value with x renamed n (None: other labels)."""
    expected, given = _function_label(gold_label), _function_label(label)
    if expected is None or given is None or expected[0] != given[0]:
        return None
    if expected[1] != given[1] and expected[1] in free_symbols(value):
        return None  # "f(t) = 2x": not f(x) = 2x with a renamed argument
    return _rename(value, given[1], expected[1])


def _vector(form: Form) -> tuple[Form, ...]:
    """The entries of a row or column matrix (empty for other shapes)."""
    rows = form[1]
    if len(rows) == 1:
        return rows[0]
    if all(len(row) == 1 for row in rows):
        return tuple(row[0] for row in rows)
    return ()


def _numerals_equal(a: Node, b: Node) -> bool:
    """``52_8`` matches ``52_8``, ``52_{8}`` and a bare ``52``; never the decimal value 42."""

    def digits(node: Node) -> tuple[str, int | None] | None:
        if node[0] == "base":
            return node[1].upper(), node[2]
        if node[0] == "num" and node[1].denominator == 1 and node[1] >= 0 and not node[2]:
            return str(node[1].numerator), None
        return None

    left, right = digits(a), digits(b)
    if left is None or right is None or left[0] != right[0]:
        return False
    return left[1] is None or right[1] is None or left[1] == right[1]
