"""Property-based tests: values rendered in other notations verify, perturbed values do not."""

from __future__ import annotations

import time
from fractions import Fraction

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rlvr_envs.verdict import Status
from rlvr_envs.verifiers.math import verify

FAST = settings(max_examples=150, deadline=None)


def boxed(answer: str) -> str:
    return f"Working through it step by step, the final answer is $\\boxed{{{answer}}}$."


def correct(response: str, gold: str) -> bool:
    return verify(response, gold).correct


def group_thousands(n: int, separator: str) -> str:
    return f"{n:,}".replace(",", separator)


INTEGER_NOTATIONS = {
    "plain": str,
    "decimal point": lambda n: f"{n}.0",
    "trailing zeros": lambda n: f"{n}.000",
    "fraction": lambda n: f"\\frac{{{2 * n}}}{{2}}",
    "comma": lambda n: group_thousands(n, ","),
    "thin space": lambda n: group_thousands(n, "\\,"),
    "braced comma": lambda n: group_thousands(n, "{,}"),
    "comma bang": lambda n: group_thousands(n, ",\\!"),
    "unicode minus": lambda n: str(n).replace("-", "\u2212"),
    "plus zero": lambda n: f"{n} + 0",
    "dollar": lambda n: f"\\${n}" if n >= 0 else str(n),
}


@FAST
@given(st.integers(-(10**15), 10**15), st.sampled_from(sorted(INTEGER_NOTATIONS)))
def test_integers_in_any_notation_verify(n, notation):
    assert correct(boxed(INTEGER_NOTATIONS[notation](n)), str(n))


@FAST
@given(st.integers(-(10**15), 10**15), st.integers(-(10**6), 10**6).filter(bool))
def test_perturbed_integers_do_not_verify(n, offset):
    assert not correct(boxed(str(n + offset)), str(n))
    assert not correct(boxed(group_thousands(n + offset, ",")), group_thousands(n, ","))


@FAST
@given(st.integers(1, 10**6), st.integers(0, 12))
def test_scientific_notation_verifies(mantissa, exponent):
    value = mantissa * 10**exponent
    assert correct(boxed(f"{mantissa} \\times 10^{{{exponent}}}"), str(value))
    assert correct(boxed(f"{mantissa}e{exponent}"), str(value))
    assert not correct(boxed(f"{mantissa} \\times 10^{{{exponent + 1}}}"), str(value))


def terminating_decimal(value: Fraction) -> str | None:
    for places in range(12):
        scaled = value * 10**places
        if scaled.denominator == 1:
            digits = f"{abs(scaled.numerator):0{places + 1}d}"
            body = digits if not places else f"{digits[:-places]}.{digits[-places:]}"
            return ("-" if value < 0 else "") + body
    return None


fractions = st.builds(Fraction, st.integers(-5000, 5000), st.integers(2, 400)).filter(
    lambda f: f.denominator > 1
)


@FAST
@given(fractions, st.integers(2, 9))
def test_fractions_in_any_notation_verify(value, scale):
    gold = f"\\frac{{{value.numerator}}}{{{value.denominator}}}"
    p, q = value.numerator, value.denominator
    renderings = [
        f"{p}/{q}",
        f"\\dfrac{{{p}}}{{{q}}}",
        f"\\frac{{{p * scale}}}{{{q * scale}}}",
        f"{'-' if p < 0 else ''}\\frac{{{abs(p)}}}{{{q}}}",
        f"\\frac{{{p}}}{{{q}}}".replace("-", "\u2212"),
    ]
    if p > q:
        renderings.append(f"{p // q}\\frac{{{p % q}}}{{{q}}}")
    decimal = terminating_decimal(value)
    if decimal is not None:
        renderings += [decimal, decimal + "00"]
    for rendering in renderings:
        assert correct(boxed(rendering), gold), rendering


@FAST
@given(fractions, st.integers(1, 50))
def test_perturbed_fractions_do_not_verify(value, bump):
    gold = f"\\frac{{{value.numerator}}}{{{value.denominator}}}"
    wrong = value + Fraction(1, value.denominator * bump)
    assert not correct(boxed(f"\\frac{{{wrong.numerator}}}{{{wrong.denominator}}}"), gold)
    assert not correct(boxed(f"{value.denominator}/{value.numerator}"), gold) or value in (1, -1)
    approximate = f"{float(value):.4f}"
    assume(Fraction(approximate) != value)
    assert not correct(boxed(approximate), gold)


@FAST
@given(st.lists(st.integers(-50, 50), min_size=2, max_size=5, unique=True), st.randoms())
def test_sets_are_order_free_and_complete(values, rng):
    gold = ", ".join(map(str, values))
    shuffled = values[:]
    rng.shuffle(shuffled)
    assert correct(boxed(", ".join(map(str, shuffled))), gold)
    assert correct(boxed("\\{" + ", ".join(map(str, shuffled)) + "\\}"), gold)
    assert correct(boxed(" \\text{ or } ".join(f"x = {v}" for v in shuffled)), gold)
    assert not correct(boxed(", ".join(map(str, shuffled[1:]))), gold)
    assert not correct(boxed(", ".join(map(str, shuffled + [max(values) + 1]))), gold)


@FAST
@given(st.lists(st.integers(-50, 50), min_size=2, max_size=5, unique=True), st.randoms())
def test_tuples_are_ordered(values, rng):
    gold = "(" + ", ".join(map(str, values)) + ")"
    shuffled = values[:]
    rng.shuffle(shuffled)
    assert correct(boxed("\\left(" + ",".join(map(str, values)) + "\\right)"), gold)
    assert correct(boxed("(" + ", ".join(map(str, shuffled)) + ")"), gold) is (shuffled == values)


@FAST
@given(st.integers(-100, 100), st.integers(1, 100), st.booleans(), st.booleans())
def test_intervals_keep_openness(lo, width, lo_closed, hi_closed):
    hi = lo + width
    gold = f"{'[' if lo_closed else '('}{lo}, {hi}{']' if hi_closed else ')'}"
    less = ("\\le" if lo_closed else "<", "\\le" if hi_closed else "<")
    assert correct(boxed(f"{lo} {less[0]} x {less[1]} {hi}"), gold)
    assert correct(boxed(f"x \\in {gold}"), gold)
    flipped = f"{'(' if lo_closed else '['}{lo}, {hi}{']' if hi_closed else ')'}"
    assert not correct(boxed(flipped), gold)


@FAST
@given(
    st.integers(-9, 9),
    st.integers(-9, 9),
    st.integers(1, 5),
    st.sampled_from("xyatk"),
    st.integers(1, 9),
)
def test_factored_and_expanded_polynomials_agree(r, s, k, var, bump):
    expanded = f"{k}{var}^2 + {-k * (r + s)}{var} + {k * r * s}".replace("+ -", "- ")
    factored = f"{k}({var} - {r})({var} - {s})".replace("- -", "+ ")
    assert correct(boxed(factored), expanded)
    assert correct(boxed(expanded), factored)
    assert not correct(boxed(f"{expanded} + {bump}"), factored)
    assert not correct(
        boxed(f"{k}({var} - {r + bump})({var} - {s})".replace("- -", "+ ")), expanded
    )


ALLOWED = {Status.CORRECT, Status.WRONG, Status.NO_ANSWER, Status.INVALID_INPUT, Status.TIMEOUT}
LATEX_BITS = st.sampled_from(
    list("0123456789xyei+-*/^_!()[]{},;=<>|%. ")
    + [
        r"\frac",
        r"\sqrt",
        r"\pi",
        r"\infty",
        r"\pm",
        r"\le",
        r"\in",
        r"\cup",
        r"\text{",
        "}",
        r"\sin",
        r"\ln",
        r"\binom",
        r"\begin{pmatrix}",
        r"\end{pmatrix}",
        "&",
        r"\\",
        r"^\circ",
        r"\%",
        r"\,",
        r"\overline",
        r"\boxed{",
        r"\left(",
        r"\right)",
        "10^{10^{10}}",
        "999!",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(LATEX_BITS, max_size=60).map("".join), st.lists(LATEX_BITS, max_size=8).map("".join)
)
def test_arbitrary_latex_never_crashes_and_stays_bounded(response, gold):
    started = time.perf_counter()
    verdict = verify(f"\\boxed{{{response}}}", gold or "1", timeout_s=0.5)
    assert time.perf_counter() - started < 1.0
    # A gold that does not parse is an error of the task; anything else is a proper status.
    assert verdict.status in ALLOWED or verdict.reason.startswith("the gold answer")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.text(max_size=20))
def test_arbitrary_text_never_crashes(response, gold):
    verdict = verify(response, gold or "1")
    assert verdict.status in ALLOWED or verdict.reason.startswith(("the gold answer", "invalid"))
