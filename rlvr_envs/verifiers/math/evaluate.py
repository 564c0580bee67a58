"""Evaluation: the value of a parsed expression, exactly when possible, numerically otherwise.

``exact`` computes in the rationals (and the Gaussian rationals, for ``i``) with Python integers.
Every operation that can grow a number is sized *before* it runs: a power, a factorial or a
binomial whose result would exceed ``Limits.max_int_bits`` raises :class:`TooLarge` instead of
spending minutes in C code, so ``10^{10^{10}}`` or ``100000!`` costs microseconds to refuse.

``numeric`` computes in complex floating point (``cmath``) for what has no exact rational value
(``\\pi``, ``\\sqrt{2}``, ``\\sin 1``). Overflow, underflow of a non-zero power and non-finite
results raise :class:`TooLarge` / :class:`Undefined` rather than producing a misleading number.
"""

from __future__ import annotations

import cmath
import math
from fractions import Fraction
from typing import Any

from .limits import Deadline, Limits, NotExact, TooLarge, Undefined
from .parse import Node


class Gaussian:
    """An exact complex number with rational parts (only built when ``i`` appears)."""

    __slots__ = ("re", "im")

    def __init__(self, re: Fraction, im: Fraction) -> None:
        self.re = re
        self.im = im

    @staticmethod
    def of(value: Exact) -> Gaussian:
        return value if isinstance(value, Gaussian) else Gaussian(value, Fraction(0))

    def simplify(self) -> Exact:
        return self.re if self.im == 0 else self

    def __add__(self, other: Exact) -> Exact:
        other = Gaussian.of(other)
        return Gaussian(self.re + other.re, self.im + other.im).simplify()

    __radd__ = __add__

    def __neg__(self) -> Gaussian:
        return Gaussian(-self.re, -self.im)

    def __sub__(self, other: Exact) -> Exact:
        return self + (-Gaussian.of(other))

    def __rsub__(self, other: Exact) -> Exact:
        return Gaussian.of(other) + (-self)

    def __mul__(self, other: Exact) -> Exact:
        other = Gaussian.of(other)
        return Gaussian(
            self.re * other.re - self.im * other.im, self.re * other.im + self.im * other.re
        ).simplify()

    __rmul__ = __mul__

    def __truediv__(self, other: Exact) -> Exact:
        other = Gaussian.of(other)
        norm = other.re * other.re + other.im * other.im
        if norm == 0:
            raise ZeroDivisionError
        return Gaussian(
            (self.re * other.re + self.im * other.im) / norm,
            (self.im * other.re - self.re * other.im) / norm,
        ).simplify()

    def __rtruediv__(self, other: Exact) -> Exact:
        return Gaussian.of(other) / self

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Fraction, int)):
            return self.im == 0 and self.re == other
        if isinstance(other, Gaussian):
            return self.re == other.re and self.im == other.im
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.re, self.im))

    def __complex__(self) -> complex:
        return complex(float(self.re), float(self.im))

    def __repr__(self) -> str:
        return f"Gaussian({self.re}, {self.im})"


Exact = Fraction | Gaussian

_CONTAINERS = frozenset(
    {
        "list",
        "bracket",
        "set",
        "union",
        "setop",
        "rel",
        "eq",
        "in",
        "matrix",
        "text",
        "reals",
        "ratio",
    }
)


def _iroot(n: int, k: int) -> int | None:
    """The exact integer k-th root of ``n >= 0``, or None."""
    if n < 2:
        return n
    guess = int(round(n ** (1.0 / k))) if n.bit_length() < 1000 else 1 << (n.bit_length() // k + 1)
    # Newton's method from above converges to floor(n ** (1/k)).
    x = max(guess, 1)
    while True:
        y = ((k - 1) * x + n // x ** (k - 1)) // k
        if y >= x:
            break
        x = y
    for candidate in (x - 1, x, x + 1):
        if candidate >= 0 and candidate**k == n:
            return candidate
    return None


def exact_root(value: Fraction, k: int) -> Fraction:
    """The exact rational k-th root of ``value`` (real roots only), else NotExact."""
    if value < 0:
        if k % 2 == 0:
            raise NotExact
        return -exact_root(-value, k)
    numerator = _iroot(value.numerator, k)
    denominator = _iroot(value.denominator, k)
    if numerator is None or denominator is None:
        raise NotExact
    return Fraction(numerator, denominator)


class Evaluator:
    """Evaluates nodes under one call's limits and deadline."""

    def __init__(self, limits: Limits, deadline: Deadline) -> None:
        self.limits = limits
        self.deadline = deadline

    # --- exact ------------------------------------------------------------------------------

    def check_size(self, value: Exact) -> Exact:
        limit = self.limits.max_int_bits
        parts = (value.re, value.im) if isinstance(value, Gaussian) else (value,)
        for part in parts:
            if part.numerator.bit_length() > limit or part.denominator.bit_length() > limit:
                raise TooLarge("a value exceeds the integer size limit")
        return value

    def exact(self, node: Node, env: dict[str, Fraction] | None = None) -> Exact:
        """The exact value of ``node`` (NotExact, Undefined or TooLarge when there is none)."""
        self.deadline.tick()
        kind = node[0]
        if kind == "num":
            return node[1]
        if kind == "group":
            return self.exact(node[1], env)
        if kind == "add":
            total: Exact = Fraction(0)
            for term in node[1]:
                total = self.check_size(total + self.exact(term, env))
            return total
        if kind == "mul":
            product: Exact = Fraction(1)
            for factor in node[1]:
                product = self.check_size(product * self.exact(factor, env))
            return product
        if kind == "neg":
            return -self.exact(node[1], env)
        if kind == "div":
            numerator = self.exact(node[1], env)
            denominator = self.exact(node[2], env)
            if denominator == 0:
                raise Undefined("division by zero")
            return self.check_size(numerator / denominator)
        if kind == "pow":
            return self.exact_power(self.exact(node[1], env), self.exact(node[2], env))
        if kind == "sym":
            if env is not None and node[1] in env:
                return env[node[1]]
            raise NotExact
        if kind == "const":
            if node[1] == "i":
                return Gaussian(Fraction(0), Fraction(1))
            raise NotExact
        if kind == "func":
            return self.exact_function(node[1], [self.exact(arg, env) for arg in node[2]])
        if kind == "root":
            index = self.exact(node[2], env)
            if not isinstance(index, Fraction) or index.denominator != 1 or index <= 0:
                raise NotExact
            return self.exact_power(self.exact(node[1], env), Fraction(1, int(index)))
        if kind == "fact":
            return Fraction(self.factorial(self.exact(node[1], env)))
        if kind == "binom":
            return Fraction(self.binomial(self.exact(node[1], env), self.exact(node[2], env)))
        if kind == "percent":
            return self.exact(node[1], env) / 100
        if kind == "degree":
            return self.exact(node[1], env)
        if kind == "base":
            return Fraction(self.base_value(node))
        if kind == "pm" or kind in _CONTAINERS:
            raise Undefined(f"{kind} is not a single number")
        raise NotExact

    def base_value(self, node: Node) -> int:
        try:
            return int(node[1], node[2])
        except ValueError:
            raise Undefined(f"{node[1]} is not a base-{node[2]} numeral") from None

    def exact_power(self, base: Exact, exponent: Exact) -> Exact:
        if isinstance(exponent, Gaussian):
            raise NotExact
        if exponent.denominator == 1:
            n = exponent.numerator
            if base == 0:
                if n < 0:
                    raise Undefined("zero to a negative power")
                return Fraction(1) if n == 0 else Fraction(0)
            if base == 1:
                return Fraction(1)
            if base == -1:
                return Fraction(-1 if n % 2 else 1)
            if isinstance(base, Gaussian):
                size = max(abs(base.re.numerator), abs(base.im.numerator), 1).bit_length()
                size = max(size, base.re.denominator.bit_length(), base.im.denominator.bit_length())
            else:
                size = max(base.numerator.bit_length(), base.denominator.bit_length())
            if size * abs(n) > self.limits.max_int_bits:
                raise TooLarge("a power exceeds the integer size limit")
            if isinstance(base, Gaussian):
                result: Exact = Fraction(1)
                for _ in range(abs(n)):
                    self.deadline.tick()
                    result = result * base
                return Fraction(1) / result if n < 0 else result
            return base**n
        if isinstance(base, Gaussian) or exponent.denominator > 64:
            raise NotExact
        root = exact_root(base, exponent.denominator)
        return self.exact_power(root, Fraction(exponent.numerator))

    def factorial(self, value: Exact) -> int:
        if isinstance(value, Gaussian) or value.denominator != 1:
            raise NotExact
        n = value.numerator
        if n < 0:
            raise Undefined("factorial of a negative number")
        if n > self.limits.max_factorial:
            raise TooLarge(f"{n}! is beyond the factorial limit")
        return math.factorial(n)

    def binomial(self, top: Exact, bottom: Exact) -> int:
        if isinstance(top, Gaussian) or isinstance(bottom, Gaussian):
            raise NotExact
        if top.denominator != 1 or bottom.denominator != 1:
            raise NotExact
        n, k = top.numerator, bottom.numerator
        if n < 0:
            raise NotExact
        if n > self.limits.max_int_bits:
            raise TooLarge("binomial coefficient too large")
        return math.comb(n, k) if 0 <= k <= n else 0

    def exact_function(self, name: str, args: list[Exact]) -> Exact:
        if name == "sqrt":
            (value,) = args
            if isinstance(value, Gaussian):
                raise NotExact
            if value < 0:
                return Gaussian(Fraction(0), exact_root(-value, 2))
            return exact_root(value, 2)
        if name == "abs":
            (value,) = args
            if isinstance(value, Gaussian):
                return exact_root(value.re * value.re + value.im * value.im, 2)
            return abs(value)
        if any(isinstance(arg, Gaussian) for arg in args):
            raise NotExact
        if name in ("floor", "ceil"):
            return Fraction(math.floor(args[0]) if name == "floor" else math.ceil(args[0]))
        if name in ("gcd", "lcm"):
            if any(arg.denominator != 1 for arg in args):
                raise Undefined(f"{name} of non-integers")
            integers = [arg.numerator for arg in args]
            return Fraction(math.gcd(*integers) if name == "gcd" else math.lcm(*integers))
        if name in ("max", "min"):
            return max(args) if name == "max" else min(args)
        raise NotExact

    # --- numeric ----------------------------------------------------------------------------

    def numeric(self, node: Node, env: dict[str, complex] | None = None) -> complex:
        """The complex floating-point value of ``node``."""
        try:
            value = self._numeric(node, env)
        except OverflowError:
            raise TooLarge("a value overflows floating point") from None
        except (ZeroDivisionError, ValueError):
            raise Undefined("outside the domain") from None
        if not (math.isfinite(value.real) and math.isfinite(value.imag)):
            raise TooLarge("a value is not finite")
        return value

    def _numeric(self, node: Node, env: dict[str, complex] | None) -> complex:
        self.deadline.tick()
        kind = node[0]
        if kind == "num":
            return complex(float(node[1]))
        if kind == "group":
            return self._numeric(node[1], env)
        if kind == "add":
            return sum((self._numeric(term, env) for term in node[1]), 0j)
        if kind == "mul":
            product = 1 + 0j
            for factor in node[1]:
                product *= self._numeric(factor, env)
            return product
        if kind == "neg":
            return -self._numeric(node[1], env)
        if kind == "div":
            return self._numeric(node[1], env) / self._numeric(node[2], env)
        if kind == "pow":
            return self.numeric_power(self._numeric(node[1], env), node[2], env)
        if kind == "sym":
            if env is not None and node[1] in env:
                return env[node[1]]
            raise NotExact
        if kind == "const":
            name = node[1]
            if name == "pi":
                return complex(math.pi)
            if name == "e":
                return complex(math.e)
            if name == "i":
                return 1j
            raise NotExact  # infinity is compared structurally, never as a number
        if kind == "func":
            args = [self._numeric(arg, env) for arg in node[2]]
            return self.numeric_function(node[1], args)
        if kind == "root":
            radicand = self._numeric(node[1], env)
            index = self._numeric(node[2], env)
            if index == 0:
                raise Undefined("zeroth root")
            return self.real_root_or_power(
                radicand, 1 / index.real if not index.imag else 1 / index
            )
        if kind == "fact":
            return self.numeric_gamma(self._numeric(node[1], env) + 1)
        if kind == "binom":
            n = self._numeric(node[1], env)
            k = self._numeric(node[2], env)
            return self.numeric_gamma(n + 1) / (
                self.numeric_gamma(k + 1) * self.numeric_gamma(n - k + 1)
            )
        if kind == "percent":
            return self._numeric(node[1], env) / 100
        if kind == "degree":
            return self._numeric(node[1], env)
        if kind == "base":
            return complex(self.base_value(node))
        if kind == "pm" or kind in _CONTAINERS:
            raise Undefined(f"{kind} is not a single number")
        raise NotExact

    def numeric_power(self, base: complex, exponent_node: Node, env: Any) -> complex:
        exponent = self._numeric(exponent_node, env)
        if base == 0:
            if exponent.real <= 0:
                raise Undefined("zero to a non-positive power")
            return 0j
        result = self.real_root_or_power(base, exponent)
        if result == 0:
            raise TooLarge("a power underflows floating point")
        return result

    def real_root_or_power(self, base: complex, exponent: complex) -> complex:
        """Real odd roots of negative reals stay real (the cube root of -8 is -2)."""
        if not base.imag and not exponent.imag:
            b, e = base.real, exponent.real
            if b > 0:
                return complex(math.pow(b, e))
            if e == int(e):
                return complex(math.pow(b, e))
            ratio = Fraction(e).limit_denominator(64)
            if ratio.denominator % 2 and abs(float(ratio) - e) < 1e-12:
                magnitude = math.pow(-b, e)
                return complex(-magnitude if ratio.numerator % 2 else magnitude)
        return complex(base**exponent)

    def numeric_gamma(self, value: complex) -> complex:
        if value.imag:
            raise NotExact
        x = value.real
        if x <= 0 and x == int(x):
            raise Undefined("gamma pole")
        if x > 171:
            raise TooLarge("factorial overflows floating point")
        return complex(math.gamma(x))

    def numeric_function(self, name: str, args: list[complex]) -> complex:
        if name in _CMATH:
            (value,) = args
            return _CMATH[name](value)
        if name in _RECIPROCAL:
            (value,) = args
            return 1 / _RECIPROCAL[name](value)
        if name == "abs":
            return complex(abs(args[0]))
        if name == "log_base":
            return cmath.log(args[0]) / cmath.log(args[1])
        if name == "log10":
            return cmath.log10(args[0])
        if any(arg.imag for arg in args):
            raise NotExact
        reals = [arg.real for arg in args]
        if name in ("floor", "ceil"):
            return complex(math.floor(reals[0]) if name == "floor" else math.ceil(reals[0]))
        if name in ("max", "min"):
            return complex(max(reals) if name == "max" else min(reals))
        raise NotExact


_CMATH = {
    "sqrt": cmath.sqrt,
    "sin": cmath.sin,
    "cos": cmath.cos,
    "tan": cmath.tan,
    "arcsin": cmath.asin,
    "arccos": cmath.acos,
    "arctan": cmath.atan,
    "sinh": cmath.sinh,
    "cosh": cmath.cosh,
    "tanh": cmath.tanh,
    "ln": cmath.log,
    "exp": cmath.exp,
    "arccot": lambda z: cmath.atan(1 / z),
    "arcsec": lambda z: cmath.acos(1 / z),
    "arccsc": lambda z: cmath.asin(1 / z),
}
_RECIPROCAL = {
    "cot": cmath.tan,
    "sec": cmath.cos,
    "csc": cmath.sin,
    "coth": cmath.tanh,
}
