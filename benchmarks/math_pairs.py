"""Seeded generator of labelled (gold, response, expected, category) pairs for the math benchmark.

Every pair's label is known by construction: a positive renders the gold value in another
notation (a fraction as a decimal, a set in another order, an interval as an inequality...); a
negative perturbs the value or breaks a rule that carries meaning (order of a tuple, openness of an
interval, a decimal approximation of an irrational, a hedge). ``python benchmarks/math_pairs.py``
prints a sample.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from fractions import Fraction

Pair = dict[str, object]

_TEMPLATES = (
    "Let me work through this carefully.\nSo the answer is $\\boxed{{{}}}$.",
    "Final Answer: The final answer is ${}$. I hope it is correct.",
    "<think>Compute step by step.</think>\n<answer>$\\boxed{{{}}}$</answer>",
    "Putting everything together, the answer is ${}$.",
    "We get \\[\\boxed{{{}}}\\]",
)


def _wrap(rng: random.Random, answer: str) -> str:
    return rng.choice(_TEMPLATES).format(answer)


def _frac(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    sign = "-" if value < 0 else ""
    return f"{sign}\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"


def _decimal(value: Fraction) -> str | None:
    """The exact decimal expansion when it terminates (at most 8 places)."""
    for places in range(0, 9):
        scaled = value * 10**places
        if scaled.denominator == 1:
            text = f"{abs(scaled.numerator):0{places + 1}d}"
            body = text if places == 0 else f"{text[:-places]}.{text[-places:]}"
            return ("-" if value < 0 else "") + body
    return None


def _thousands(n: int, separator: str) -> str:
    return f"{n:,}".replace(",", separator)


def integer(rng: random.Random, positive: bool) -> tuple[str, str]:
    n = rng.choice([rng.randint(-99, 999), rng.randint(1000, 9_999_999)])
    gold = str(n)
    if positive:
        forms = [str(n), f"{n}.0", f"\\frac{{{2 * n}}}{{2}}", f"{n} + 0"]
        if n >= 1000:
            forms += [_thousands(n, ","), _thousands(n, "\\,"), _thousands(n, "{,}")]
        return gold, rng.choice(forms)
    forms = [str(n + rng.choice([-1, 1])), str(n + 10 ** rng.randint(1, 3))]
    if n != 0:
        forms += [str(n * 10), str(-n)]
    if 2 < n < 10:
        forms.append(f"{n}!")
    if abs(n) >= 10:
        forms.append(str(n)[1:] or "0")
    return gold, rng.choice(forms)


def fraction(rng: random.Random, positive: bool) -> tuple[str, str]:
    q = rng.randint(2, 40)
    p = rng.randint(-60, 60)
    while Fraction(p, q).denominator == 1:
        p += 1
    value = Fraction(p, q)
    gold = _frac(value)
    if positive:
        k = rng.randint(2, 5)
        forms = [
            f"{value.numerator}/{value.denominator}",
            f"\\dfrac{{{value.numerator}}}{{{value.denominator}}}",
            _frac(value).replace("\\frac", "\\tfrac"),
            f"\\frac{{{value.numerator * k}}}{{{value.denominator * k}}}",
        ]
        if _decimal(value):
            forms.append(_decimal(value))
        if value > 1:
            whole = value.numerator // value.denominator
            rest = value - whole
            forms.append(f"{whole}\\frac{{{rest.numerator}}}{{{rest.denominator}}}")
        return gold, rng.choice(forms)
    forms = [
        _frac(1 / value),
        _frac(value + Fraction(1, value.denominator)),
        _frac(-value),
        f"{float(value):.3f}" if _decimal(value) is None else _frac(value * 2),
    ]
    return gold, rng.choice(forms)


def decimal(rng: random.Random, positive: bool) -> tuple[str, str]:
    places = rng.randint(1, 4)
    value = Fraction(rng.randint(1, 99999), 10**places)
    while value.denominator == 1:
        value += Fraction(1, 10**places)
    gold = _decimal(value) or _frac(value)
    if positive:
        forms = [_frac(value), gold + "0", f"{value.numerator}/{value.denominator}"]
        if gold.startswith("0."):
            forms.append(gold[1:])
        return gold, rng.choice(forms)
    shifted = value + Fraction(rng.choice([-1, 1]), 10**places)
    forms = [_decimal(shifted) or "0", _decimal(value * 10) or "0", _decimal(value / 10) or "0"]
    return gold, rng.choice(forms)


def percent(rng: random.Random, positive: bool) -> tuple[str, str]:
    n = rng.randint(1, 99)
    gold = f"{n}\\%"
    if positive:
        return gold, rng.choice([str(n), f"{n}\\%", _decimal(Fraction(n, 100)), f"{n} percent"])
    return gold, rng.choice([str(n * 100), _decimal(Fraction(n, 1000)), f"{n + 1}\\%"])


def scientific(rng: random.Random, positive: bool) -> tuple[str, str]:
    mantissa = Fraction(rng.randint(101, 999), 100)
    exponent = rng.choice([-7, -5, -3, 4, 6, 9, 12])
    value = mantissa * Fraction(10) ** exponent
    gold = f"{_decimal(mantissa)} \\times 10^{{{exponent}}}"
    if positive:
        forms = [f"{_decimal(mantissa)}e{exponent}", _decimal(value) or gold]
        forms.append(f"{_decimal(mantissa * 10)} \\times 10^{{{exponent - 1}}}")
        return gold, rng.choice([f for f in forms if f])
    return gold, rng.choice(
        [
            f"{_decimal(mantissa)} \\times 10^{{{exponent + 1}}}",
            f"{_decimal(mantissa)} \\times 10^{{{-exponent}}}",
            f"{_decimal(mantissa + Fraction(1, 100))} \\times 10^{{{exponent}}}",
        ]
    )


_UNITS = ("cm", "meters", "inches", "dollars", "square feet", "cents", "minutes")


def units(rng: random.Random, positive: bool) -> tuple[str, str]:
    n = rng.randint(2, 5000)
    unit = rng.choice(_UNITS)
    gold = f"{n} \\text{{ {unit}}}" if rng.random() < 0.5 else str(n)
    if positive:
        return gold, rng.choice([str(n), f"{n} \\text{{ {unit}}}", f"{n}\\mbox{{ {unit}}}"])
    return gold, f"{n + rng.randint(1, 9)} \\text{{ {unit}}}"


def degrees(rng: random.Random, positive: bool) -> tuple[str, str]:
    n = rng.randint(1, 359)
    gold = f"{n}^\\circ"
    if positive:
        return gold, rng.choice(
            [str(n), f"{n}^{{\\circ}}", f"{n}\u00b0", f"{n} \\text{{ degrees}}"]
        )
    return gold, rng.choice([f"{n + 1}^\\circ", f"{360 - n if n != 180 else 90}^\\circ"])


def roots(rng: random.Random, positive: bool) -> tuple[str, str]:
    values = rng.sample(range(-12, 13), rng.randint(2, 3))
    gold = ", ".join(map(str, sorted(values)))
    if positive:
        shuffled = values[:]
        rng.shuffle(shuffled)
        forms = [
            ", ".join(map(str, shuffled)),
            " \\text{ or } ".join(f"x = {v}" for v in shuffled),
            "\\{" + ", ".join(map(str, shuffled)) + "\\}",
        ]
        return gold, rng.choice(forms)
    broken = values[:]
    choice = rng.randrange(3)
    if choice == 0:
        broken.pop()
    elif choice == 1:
        broken.append(max(values) + 1)
    else:
        broken[0] = -broken[0] if broken[0] != 0 and -broken[0] not in broken else broken[0] + 20
    return gold, ", ".join(map(str, broken))


def tuples(rng: random.Random, positive: bool) -> tuple[str, str]:
    values = rng.sample(range(-20, 21), rng.randint(2, 4))
    gold = "(" + ", ".join(map(str, values)) + ")"
    if positive:
        return gold, rng.choice(
            [
                "\\left(" + ",".join(map(str, values)) + "\\right)",
                "(" + ", ".join(_frac(Fraction(v * 2, 2)) for v in values) + ")",
            ]
        )
    swapped = values[:]
    swapped[0], swapped[1] = swapped[1], swapped[0]
    changed = values[:]
    changed[-1] += 1
    return gold, rng.choice(
        ["(" + ", ".join(map(str, swapped)) + ")", "(" + ", ".join(map(str, changed)) + ")"]
    )


def intervals(rng: random.Random, positive: bool) -> tuple[str, str]:
    lo = rng.randint(-10, 5)
    hi = lo + rng.randint(1, 10)
    lo_closed, hi_closed = rng.random() < 0.5, rng.random() < 0.5
    gold = f"{'[' if lo_closed else '('}{lo}, {hi}{']' if hi_closed else ')'}"
    if positive:
        less = ("\\le" if lo_closed else "<", "\\le" if hi_closed else "<")
        return gold, rng.choice(
            [f"{lo} {less[0]} x {less[1]} {hi}", f"x \\in {gold}", gold.replace(", ", ",")]
        )
    flipped = f"{'(' if lo_closed else '['}{lo}, {hi}{']' if hi_closed else ')'}"
    return gold, rng.choice([flipped, f"{gold[0]}{lo}, {hi + 1}{gold[-1]}"])


def matrices(rng: random.Random, positive: bool) -> tuple[str, str]:
    rows, cols = rng.choice([(2, 2), (3, 1), (2, 1), (2, 3)])
    cells = [
        [Fraction(rng.randint(-9, 9), rng.choice([1, 1, 2, 4])) for _ in range(cols)]
        for _ in range(rows)
    ]

    def render(grid: list[list[Fraction]], env: str, cell: Callable[[Fraction], str]) -> str:
        body = " \\\\ ".join(" & ".join(cell(v) for v in row) for row in grid)
        return f"\\begin{{{env}}} {body} \\end{{{env}}}"

    gold = render(cells, "pmatrix", _frac)
    if positive:
        return gold, rng.choice(
            [
                render(cells, "bmatrix", _frac),
                render(cells, "pmatrix", lambda v: _decimal(v) or _frac(v)),
            ]
        )
    changed = [row[:] for row in cells]
    changed[0][0] += 1
    return gold, render(changed, "pmatrix", _frac)


def equations(rng: random.Random, positive: bool) -> tuple[str, str]:
    a = rng.randint(-20, 20)
    if rng.random() < 0.5:
        gold = f"x = {a}" if rng.random() < 0.5 else str(a)
        if positive:
            return gold, rng.choice([str(a), f"x = {a}", f"x={_frac(Fraction(a))}"])
        return gold, rng.choice([f"x^2 = {a}", f"x = {a + 1}", f"2x = {a}"])
    m, c = rng.randint(-5, 5) or 1, rng.randint(-9, 9)
    gold = f"y = {m}x + {c}".replace("+ -", "- ")
    if positive:
        return gold, rng.choice(
            [
                f"y - {m}x = {c}".replace("- -", "+ "),
                f"{2 * m}x - 2y + {2 * c} = 0".replace("+ -", "- "),
            ]
        )
    return gold, f"y = {m}x + {c + 1}".replace("+ -", "- ")


def polynomials(rng: random.Random, positive: bool) -> tuple[str, str]:
    r, s = rng.randint(-9, 9), rng.randint(-9, 9)
    k = rng.choice([1, 2, 3])
    var = rng.choice("xytk")
    b, c = -k * (r + s), k * r * s

    def signed(value: int, suffix: str = "") -> str:
        return f"+ {value}{suffix}" if value >= 0 else f"- {-value}{suffix}"

    expanded = f"{k if k > 1 else ''}{var}^2 {signed(b, var)} {signed(c)}"
    factored = f"{k if k > 1 else ''}({var} {signed(-r)})({var} {signed(-s)})"
    gold, other = (expanded, factored) if rng.random() < 0.5 else (factored, expanded)
    if positive:
        return gold, other
    return gold, rng.choice(
        [
            f"{expanded} + 1",
            f"{k if k > 1 else ''}({var} {signed(r)})({var} {signed(-s)})"
            if r
            else f"{expanded} - {var}",
        ]
    )


def irrational(rng: random.Random, positive: bool) -> tuple[str, str]:
    a, b = rng.randint(2, 9), rng.choice([2, 3, 5, 6, 7, 10, 11])
    if rng.random() < 0.5:
        gold = f"{a}\\sqrt{{{b}}}"
        value = a * b**0.5
        if positive:
            short = f"{a} \\sqrt{b}" if b < 10 else gold  # \sqrt10 would be sqrt(1)*0 in TeX
            return gold, rng.choice([f"\\sqrt{{{a * a * b}}}", short, f"\\sqrt{{{b}}} \\cdot {a}"])
        return gold, rng.choice([f"{value:.3f}", f"{value:.6f}", f"{a}\\sqrt{{{b + 1}}}"])
    gold = f"\\frac{{{a}\\pi}}{{{b}}}"
    if positive:
        return gold, rng.choice([f"{a}\\pi/{b}", f"\\frac{{{a}}}{{{b}}}\\pi"])
    return gold, rng.choice([f"{a * 3.14159 / b:.4f}", f"\\frac{{{a}\\pi}}{{{b + 1}}}"])


def complex_numbers(rng: random.Random, positive: bool) -> tuple[str, str]:
    a, b = rng.randint(-9, 9), rng.randint(1, 9)
    gold = f"{a} + {b}i"
    if positive:
        return gold, rng.choice([f"{b}i + {a}", f"{a}+{b} i"])
    return gold, rng.choice([f"{a} - {b}i", f"{b} + {a}i" if a != b else f"{a + 1} + {b}i"])


def choices(rng: random.Random, positive: bool) -> tuple[str, str]:
    letter = rng.choice("ABCDE")
    gold = f"\\text{{({letter})}}"
    if positive:
        return gold, rng.choice(
            [letter, f"({letter})", f"\\text{{({letter})}}", f"\\textbf{{({letter})}}"]
        )
    other = rng.choice([c for c in "ABCDE" if c != letter])
    return gold, rng.choice([other, f"({other})"])


_NAMES = (
    "Evelyn",
    "Navin",
    "Alice",
    "Bob",
    "Carla",
    "east",
    "west",
    "even",
    "odd",
    "ellipse",
    "parabola",
)


def text(rng: random.Random, positive: bool) -> tuple[str, str]:
    name = rng.choice(_NAMES)
    gold = f"\\text{{{name}}}"
    if positive:
        return gold, rng.choice([name, name.lower(), name.upper(), f"\\text{{{name}}}"])
    return gold, rng.choice([n for n in _NAMES if n != name])


def hedges(rng: random.Random, positive: bool) -> tuple[str, str]:
    a = rng.randint(1, 50)
    b = a + rng.randint(1, 5)
    if positive:
        # A discarded earlier box followed by the final one.
        return str(
            a
        ), f"First I got \\boxed{{{b}}}. Wait, that is wrong. Redo: the answer is \\boxed{{{a}}}"
    return str(a), rng.choice(
        [
            f"The answer is either {a} or {b}.",
            f"\\boxed{{{a}}} or \\boxed{{{b}}}",
            f"\\boxed{{{a}, {b}}}",
            f"\\boxed{{\\pm {a}}}",
        ]
    )


def bases(rng: random.Random, positive: bool) -> tuple[str, str]:
    base = rng.randint(2, 9)
    n = rng.randint(base, 500)
    digits = ""
    m = n
    while m:
        digits = str(m % base) + digits
        m //= base
    gold = f"{digits}_{{{base}}}" if rng.random() < 0.5 else f"{digits}_{base}"
    if positive:
        return gold, rng.choice([f"{digits}_{base}", f"{digits}_{{{base}}}", digits])
    return gold, rng.choice([str(n) if str(n) != digits else str(n + 1), f"{digits}_{base + 1}"])


GENERATORS: dict[str, Callable[[random.Random, bool], tuple[str, str]]] = {
    "integer": integer,
    "fraction": fraction,
    "decimal": decimal,
    "percent": percent,
    "scientific": scientific,
    "units": units,
    "degrees": degrees,
    "set": roots,
    "tuple": tuples,
    "interval": intervals,
    "matrix": matrices,
    "equation": equations,
    "symbolic": polynomials,
    "irrational": irrational,
    "complex": complex_numbers,
    "choice": choices,
    "text": text,
    "hedge": hedges,
    "base": bases,
}


def generate_pairs(count: int = 1000, seed: int = 0) -> list[Pair]:
    """``count`` labelled pairs, spread evenly over the categories, half of them positive."""
    rng = random.Random(seed)
    names = list(GENERATORS)
    pairs: list[Pair] = []
    for index in range(count):
        category = names[index % len(names)]
        positive = (index // len(names)) % 2 == 0
        gold, answer = GENERATORS[category](rng, positive)
        response = answer if category == "hedge" else _wrap(rng, answer)
        pairs.append(
            {"category": category, "gold": gold, "response": response, "expected": positive}
        )
    return pairs


if __name__ == "__main__":
    for pair in generate_pairs(40, seed=1):
        print(pair)
