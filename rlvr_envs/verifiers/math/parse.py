"""Parsing stage: a normalised answer string (LaTeX or plain text) to a small immutable AST.

A hand-written tokenizer and Pratt parser. One grammar covers both ``\\frac{1}{2}`` and ``1/2``,
``\\sqrt{2}`` and ``sqrt(2)``, ``x^{2}`` and ``x**2``. Nodes are plain tuples whose first element
names the kind (``("num", Fraction, decimal_digits)``: 0 for an integer or fraction, else the
significant digits the decimal writes, ``("add", terms)``, ...), so parsed answers can be
cached and shared between threads.

Conventions that decide meaning (and therefore grading):

- ``1\\frac{4}{5}`` (an integer directly followed by an integer fraction) is the mixed number 9/5;
- ``52_8`` is the numeral 52 in base 8 (kept as digits, compared as written);
- ``e`` is Euler's number and ``i`` the imaginary unit; other letters are variables, and adjacent
  letters multiply (``ab`` is a*b);
- ``x^2 = 3`` stays an equation; which equations are answers is decided by the comparison stage;
- ``a, b`` (a bare list), ``(a, b)`` (a tuple or open interval), ``[a, b)`` (an interval) and
  ``\\{a, b\\}`` (a set) are different nodes, so bracket types and openness are never lost;
- ``a:b`` is a ratio, kept part by part (``12:00`` is not ``1:00``).
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from .limits import Deadline, Limits, TooLarge
from .normalize import closing_brace

Node = tuple[Any, ...]


class ParseError(ValueError):
    """The text is not a mathematical answer this grammar understands."""


FUNCTIONS = frozenset(
    "sin cos tan cot sec csc arcsin arccos arctan arccot arcsec arccsc sinh cosh tanh coth "
    "ln log exp lg".split()
)
MULTI_ARG_FUNCTIONS = frozenset("gcd lcm max min".split())
GREEK = frozenset(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi "
    "rho sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Sigma Upsilon Phi "
    "Psi Omega".split()
)
RELATIONS = {
    "=": "=",
    "<": "<",
    ">": ">",
    "<=": "<=",
    ">=": ">=",
    "!=": "!=",
    "le": "<=",
    "leq": "<=",
    "leqslant": "<=",
    "ge": ">=",
    "geq": ">=",
    "geqslant": ">=",
    "lt": "<",
    "gt": ">",
    "ne": "!=",
    "neq": "!=",
    "approx": "~",
    "simeq": "~",
    "equiv": "=",
    "in": "in",
}
_PLAIN_WORDS = {
    **{name: ("cmd", name) for name in FUNCTIONS | MULTI_ARG_FUNCTIONS},
    "sqrt": ("cmd", "sqrt"),
    "pi": ("cmd", "pi"),
    "inf": ("cmd", "infty"),
    "infty": ("cmd", "infty"),
    "infinity": ("cmd", "infty"),
    "oo": ("cmd", "infty"),
    "abs": ("cmd", "abs"),
    "or": ("sep", "or"),
    "and": ("sep", "and"),
    "in": ("cmd", "in"),
    "U": ("cmd", "cup"),
}
_TEXT_COMMANDS = frozenset(
    "text mbox textrm textbf textit textnormal textsf mathrm mathbf mathit mathsf operatorname "
    "boldsymbol bm mathcal".split()
)
_DROPPED_COMMANDS = frozenset(
    "vec hat bar tilde widehat widetilde overrightarrow dot ddot angle measuredangle triangle "
    "displaystyle not".split()
)
_MATRIX_ENVS = frozenset("matrix pmatrix bmatrix Bmatrix vmatrix Vmatrix smallmatrix array".split())
_BINARY = {
    "+": 30,
    "-": 30,
    "pm": 30,
    "mp": 30,
    "*": 40,
    "/": 40,
    "cdot": 40,
    "times": 40,
    "div": 40,
    "ast": 40,
    "^": 50,
    "**": 50,
    "!": 60,
    "%": 60,
    "deg": 60,
}
_IMPLICIT = 40

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+(?![\d.]))?)
  | (?P<deg>\^\s*\\circ(?![a-zA-Z])|\\circ(?![a-zA-Z]))
  | (?P<cmd>\\[a-zA-Z]+)
  | (?P<esc>\\[{}|%$#&_,;:!\\ ])
  | (?P<word>[a-zA-Z]+)
  | (?P<op>\*\*|<=|>=|!=|==|[-+*/^_()\[\]{},;|!=<>&'%:.])
    """,
    re.VERBOSE,
)


def _read_group(text: str, position: int) -> tuple[str, int]:
    """The raw content of the brace group starting at ``text[position]`` and the end position."""
    while position < len(text) and text[position] == " ":
        position += 1
    if position >= len(text) or text[position] != "{":
        raise ParseError("expected '{'")
    close = closing_brace(text, position + 1)
    if close is None:
        raise ParseError("unbalanced braces")
    return text[position + 1 : close], close + 1


def tokenize(text: str, limits: Limits, deadline: Deadline) -> list[tuple[str, Any]]:
    """Split a normalised answer into ``(kind, value)`` tokens."""
    tokens: list[tuple[str, Any]] = []
    position, length = 0, len(text)
    while position < length:
        deadline.tick()
        match = _TOKEN.match(text, position)
        if match is None:
            raise ParseError(f"unexpected character {text[position]!r}")
        kind, value = match.lastgroup, match.group()
        position = match.end()
        if kind == "ws":
            continue
        if kind == "num":
            digits = sum(c.isdigit() for c in value)
            if digits > limits.max_literal_digits:
                raise TooLarge(f"a number has {digits} digits")
            tokens.append(("num", value))
        elif kind == "deg":
            tokens.append(("op", "deg"))
        elif kind == "esc":
            char = value[1]
            if char in "{}":
                tokens.append(("op", "\\" + char))
            elif char == "|":
                tokens.append(("op", "|"))
            elif char == "\\":
                tokens.append(("op", "\\\\"))
            elif char == "%":
                tokens.append(("op", "%"))
            elif char == "&":
                tokens.append(("op", "&"))
            elif char == "_":
                tokens.append(("op", "_"))
            # spacing escapes and \$ \# carry no meaning
        elif kind == "word":
            word = _PLAIN_WORDS.get(value) or _PLAIN_WORDS.get(value.lower())
            if word is not None and (len(value) > 1 or value == "U"):
                tokens.append(word)
            else:
                tokens.extend(("id", letter) for letter in value)
        elif kind == "op":
            tokens.append(("op", value))
        else:
            name = value[1:]
            if name in _TEXT_COMMANDS:
                content, position = _read_group(text, position)
                tokens.extend(_text_tokens(name, content, limits, deadline))
            elif name == "mathbb":
                content, position = _read_group(text, position)
                tokens.append(("cmd", "reals") if content.strip() == "R" else ("id", content))
            elif name in ("begin", "end"):
                content, position = _read_group(text, position)
                env = content.strip()
                if name == "begin" and env == "array":
                    _, position = _read_group(text, position)  # column specification
                tokens.append((name, env))
            elif name in ("lvert", "rvert", "vert", "mid", "lVert", "rVert", "Vert"):
                tokens.append(("op", "|"))
            elif name == "langle":
                tokens.append(("op", "("))
            elif name == "rangle":
                tokens.append(("op", ")"))
            elif name in ("lbrace", "{"):
                tokens.append(("op", "\\{"))
            elif name == "rbrace":
                tokens.append(("op", "\\}"))
            elif name in ("quad", "qquad"):
                tokens.append(("sep", "quad"))  # "x = 1 \quad x = 2" lists two answers
            elif name in ("cdots", "ldots", "dots", "displaystyle"):
                continue
            elif name in _DROPPED_COMMANDS:
                continue
            elif name == "prime":
                tokens.append(("op", "'"))
            else:
                tokens.append(("cmd", name))
    return tokens


def _text_tokens(
    command: str, content: str, limits: Limits, deadline: Deadline
) -> list[tuple[str, Any]]:
    """Tokens for ``\\text{...}``-like commands: words stay text, math inside is parsed."""
    stripped = content.strip()
    if not stripped:
        return []
    if command == "operatorname" or (command == "mathrm" and stripped in FUNCTIONS):
        name = stripped
        if name in FUNCTIONS or name in MULTI_ARG_FUNCTIONS:
            return [("cmd", name)]
        return [("id", name)]
    if stripped.lower() in ("or", "and"):
        return [("sep", stripped.lower())]
    if re.fullmatch(r"[A-Za-z]", stripped):
        return [("id", stripped)]
    if re.fullmatch(r"[A-Za-z][A-Za-z .'\-]*", stripped):
        return [("text", stripped)]
    return tokenize(stripped, limits, deadline)


class Parser:
    """A Pratt parser over the token list; one instance parses one answer."""

    def __init__(self, tokens: list[tuple[str, Any]], limits: Limits, deadline: Deadline) -> None:
        self.tokens = tokens
        self.position = 0
        self.limits = limits
        self.deadline = deadline
        self.depth = 0
        self.nodes = 0
        self.abs_depth = 0
        self.function_operand = 0

    # --- token helpers ----------------------------------------------------------------------

    def peek(self, offset: int = 0) -> tuple[str, Any]:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else ("eof", None)

    def advance(self) -> tuple[str, Any]:
        token = self.peek()
        self.position += 1
        self.deadline.tick()
        return token

    def at(self, kind: str, value: Any = None) -> bool:
        token = self.peek()
        return token[0] == kind and (value is None or token[1] == value)

    def expect(self, kind: str, value: Any = None) -> tuple[str, Any]:
        if not self.at(kind, value):
            raise ParseError(f"expected {value or kind}, found {self.peek()[1]!r}")
        return self.advance()

    def node(self, *parts: Any) -> Node:
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise TooLarge("the answer is too large an expression")
        return parts

    # --- grammar ----------------------------------------------------------------------------

    def parse(self) -> Node:
        """The whole answer; raises :class:`ParseError` on leftovers."""
        if not self.tokens:
            raise ParseError("empty answer")
        result = self.parse_top()
        if self.position != len(self.tokens):
            raise ParseError(f"unexpected {self.peek()[1]!r}")
        return result

    def at_separator(self) -> bool:
        return self.at("op", ",") or self.at("op", ";") or self.at("sep")

    def parse_top(self) -> Node:
        while self.at("sep"):  # a leading \quad
            self.advance()
        items = [self.parse_relation()]
        while self.at_separator():
            while self.at_separator():  # ", or", "\quad \text{or} \quad"
                self.advance()
            if self.at("eof"):
                break
            items.append(self.parse_relation())
        return items[0] if len(items) == 1 else self.node("list", tuple(items))

    def parse_sequence(self, closers: tuple[str, ...]) -> list[Node]:
        items: list[Node] = []
        if any(self.at("op", closer) for closer in closers):
            return items
        items.append(self.parse_relation())
        while self.at("op", ",") or self.at("op", ";"):
            self.advance()
            items.append(self.parse_relation())
        return items

    def relation_op(self) -> str | None:
        kind, value = self.peek()
        if kind == "op" and value in RELATIONS:
            return RELATIONS[value]
        if kind == "op" and value == "==":
            return "="
        if kind == "cmd" and value in RELATIONS:
            return RELATIONS[value]
        return None

    def parse_relation(self) -> Node:
        parts = [self.parse_ratio()]
        ops: list[str] = []
        while (op := self.relation_op()) is not None:
            self.advance()
            ops.append(op)
            parts.append(self.parse_ratio())
        if not ops:
            return parts[0]
        if "~" in ops:
            # "\sqrt{2} \approx 1.414": the exact part is the answer, the approximation is a
            # comment; "x \approx 1.414" has nothing exact, so it is read as "x = 1.414".
            cut = ops.index("~")
            if cut > 0 or not _is_name(parts[0]):
                parts, ops = parts[: cut + 1], ops[:cut]
                if not ops:
                    return parts[0]
            ops = ["=" if op == "~" else op for op in ops]
        if ops == ["in"]:
            return self.node("in", parts[0], parts[1])
        if all(op == "=" for op in ops):
            return self.node("eq", tuple(parts))
        return self.node("rel", tuple(ops), tuple(parts))

    def parse_ratio(self) -> Node:
        """``11:21`` or ``V_1:V_2``: a ratio, compared part by part."""
        items = [self.parse_set_expression()]
        while self.at("op", ":"):
            self.advance()
            items.append(self.parse_set_expression())
        return items[0] if len(items) == 1 else self.node("ratio", tuple(items))

    def parse_set_expression(self) -> Node:
        left = self.expression(0)
        while self.at("cmd", "cup") or self.at("cmd", "cap") or self.at("cmd", "setminus"):
            op = self.advance()[1]
            right = self.expression(0)
            if op == "cup":
                items = left[1] if left[0] == "union" else (left,)
                left = self.node("union", (*items, right))
            else:
                left = self.node("setop", op, left, right)
        return left

    def expression(self, rbp: int) -> Node:
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise TooLarge("the answer is nested too deeply")
        try:
            left = self.prefix(self.advance())
            while True:
                lbp = self.left_power()
                if lbp <= rbp:
                    return left
                left = self.infix(left)
        finally:
            self.depth -= 1

    def starts_operand(self, token: tuple[str, Any]) -> bool:
        kind, value = token
        if kind in ("id", "num", "begin"):
            return True
        if kind == "cmd":
            if value in RELATIONS or value in ("cup", "cap", "setminus", "pm", "mp"):
                return False
            if value in ("cdot", "times", "div", "ast", "rfloor", "rceil"):
                return False
            if self.function_operand and (value in FUNCTIONS or value in MULTI_ARG_FUNCTIONS):
                return False
            return True
        if kind == "op":
            return value in ("(", "{", "\\{") or (value == "|" and not self.abs_depth)
        return False

    def left_power(self) -> int:
        kind, value = self.peek()
        if self.function_operand and value in ("*", "/", "cdot", "times", "div", "ast", "+", "-"):
            return 0  # \cos x / \sin x is cos(x) / sin(x)
        if kind == "op" and value in _BINARY:
            return _BINARY[value]
        if kind == "cmd" and value in _BINARY:
            return _BINARY[value]
        if kind == "num" and self.peek(-1)[0] == "num":
            return 0  # "2 3" is not a product anyone writes
        return _IMPLICIT if self.starts_operand(self.peek()) else 0

    def infix(self, left: Node) -> Node:
        kind, value = self.peek()
        if kind in ("op", "cmd") and value in _BINARY:
            self.advance()
            if value in ("+", "-"):
                right = self.expression(30)
                if value == "-":
                    right = self.node("neg", right)
                terms = left[1] if left[0] == "add" else (left,)
                return self.node("add", (*terms, right))
            if value in ("pm", "mp"):
                right = self.expression(30)
                return self.node("pm", left, right if value == "pm" else self.node("neg", right))
            if value in ("*", "cdot", "times", "ast"):
                right = self.expression(40)
                factors = left[1] if left[0] == "mul" else (left,)
                return self.node("mul", (*factors, right))
            if value in ("/", "div"):
                return self.node("div", left, self.expression(40))
            if value in ("^", "**"):
                return self.node("pow", left, self.exponent())
            if value == "!":
                return self.node("fact", left)
            if value == "%":
                return self.node("percent", left)
            if value == "deg":
                return self.node("degree", left)
        right = self.expression(_IMPLICIT)
        factors = left[1] if left[0] == "mul" else (left,)
        return self.node("mul", (*factors, right))

    def exponent(self) -> Node:
        """The exponent after ``^``: a braced group or one (signed) operand; towers nest right."""
        if self.at("op", "-") or self.at("op", "+"):
            sign = self.advance()[1]
            inner = self.exponent()
            return self.node("neg", inner) if sign == "-" else inner
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise TooLarge("the answer is nested too deeply")
        try:
            base = self.primary(self.advance())
            if self.at("op", "^") or self.at("op", "**"):
                self.advance()
                base = self.node("pow", base, self.exponent())
            return base
        finally:
            self.depth -= 1

    def prefix(self, token: tuple[str, Any]) -> Node:
        kind, value = token
        if kind == "op" and value == "-":
            return self.node("neg", self.expression(45))
        if kind == "op" and value == "+":
            return self.expression(45)
        if kind == "cmd" and value in ("pm", "mp"):
            return self.node("pm", None, self.expression(45))
        return self.primary(token)

    def argument(self) -> Node:
        """A TeX macro argument: a brace group or a single token."""
        if self.at("op", "{"):
            self.advance()
            saved, self.function_operand = self.function_operand, 0
            try:
                items = self.parse_sequence(("}",))
            finally:
                self.function_operand = saved
            self.expect("op", "}")
            if len(items) != 1:
                raise ParseError("a macro argument must be one expression")
            return items[0]
        return self.primary(self.advance())

    def primary(self, token: tuple[str, Any]) -> Node:
        kind, value = token
        if kind == "num":
            return self.number(value)
        if kind == "id":
            return self.identifier(value)
        if kind == "text":
            return self.node("text", value)
        if kind == "begin":
            return self.matrix(value)
        if kind == "op":
            return self.bracket(value)
        if kind == "cmd":
            return self.command(value)
        raise ParseError(f"unexpected {value!r}")

    def number(self, text: str) -> Node:
        if "." in text and self.at("cmd", "overline"):
            return self.repeating_decimal(text)
        text = text.rstrip(".") if text.endswith(".") and text != "." else text
        decimal = significant_digits(text) if "." in text else 0
        if self.at("op", "_") and "." not in text and "e" not in text.lower():
            self.advance()
            base = self.subscript_text()
            if not base.isdigit() or not 2 <= int(base) <= 36:
                raise ParseError(f"bad numeral base {base!r}")
            return self.node("base", text, int(base))
        value = Fraction(text)
        if not decimal and self.plain_mixed_number_follows():
            # "1 1/2": a whole number, a space, then a fraction of integers.
            numerator, denominator = int(self.advance()[1]), int(self.tokens[self.position + 1][1])
            self.position += 2
            if denominator == 0 or numerator >= denominator:
                raise ParseError("not a mixed number")
            return self.node("num", value + Fraction(numerator, denominator), False)
        if not decimal and value.denominator == 1 and self.mixed_fraction_follows():
            numerator, denominator = (
                self.tokens[self.position + 2][1],
                self.tokens[self.position + 5][1],
            )
            self.position += 7
            if int(denominator) == 0:
                raise ParseError("zero denominator")
            return self.node("num", value + Fraction(int(numerator), int(denominator)), False)
        return self.node("num", value, decimal)

    def repeating_decimal(self, text: str) -> Node:
        """``0.1\\overline{6}`` = 1/6: exact, so not a decimal approximation."""
        self.advance()
        repeat = self.subscript_text(braced_only=True)
        whole, _, fixed_digits = text.partition(".")
        if not repeat.isdigit() or len(repeat) + len(fixed_digits) > 60 or "e" in text.lower():
            raise ParseError("bad repeating decimal")
        scale = 10 ** len(fixed_digits)
        value = Fraction(int(whole or "0") * scale + int(fixed_digits or "0"), scale)
        value += Fraction(int(repeat), (10 ** len(repeat) - 1) * scale)
        return self.node("num", value, False)

    def plain_mixed_number_follows(self) -> bool:
        first, slash, second = self.peek(), self.peek(1), self.peek(2)
        return (
            first[0] == "num"
            and first[1].isdigit()
            and slash == ("op", "/")
            and second[0] == "num"
            and second[1].isdigit()
        )

    def mixed_fraction_follows(self) -> bool:
        """``3\\frac{1}{2}``: an integer, then \\frac with integer numerator and denominator."""
        want = [("cmd", "frac"), ("op", "{"), None, ("op", "}"), ("op", "{"), None, ("op", "}")]
        for offset, expected in enumerate(want):
            token = self.peek(offset)
            if expected is None:
                if token[0] != "num" or not token[1].isdigit():
                    return False
            elif token != expected:
                return False
        return True

    def subscript_text(self, braced_only: bool = False) -> str:
        if self.at("op", "{"):
            self.advance()
            parts = []
            while not self.at("op", "}"):
                if self.at("eof"):
                    raise ParseError("unclosed subscript")
                parts.append(str(self.advance()[1]))
            self.advance()
            return "".join(parts)
        if braced_only:
            raise ParseError("expected a braced group")
        token = self.advance()
        if token[0] not in ("num", "id", "cmd"):
            raise ParseError("bad subscript")
        return str(token[1])

    def identifier(self, name: str) -> Node:
        subscripted = False
        if self.at("op", "_"):
            self.advance()
            name = f"{name}_{self.subscript_text()}"
            subscripted = True
        while self.at("op", "'"):
            self.advance()
            name += "'"
        if not subscripted and name in ("e", "i"):
            return self.node("const", name)
        return self.node("sym", name)

    def bracket(self, opener: str) -> Node:
        saved, self.function_operand = self.function_operand, 0
        try:
            return self._bracket(opener)
        finally:
            self.function_operand = saved

    def _bracket(self, opener: str) -> Node:
        if opener in ("(", "["):
            items = self.parse_sequence((")", "]"))
            closer = self.advance()
            if closer[0] != "op" or closer[1] not in (")", "]"):
                raise ParseError("unclosed bracket")
            if len(items) == 1 and opener + closer[1] in ("()", "[]"):
                return self.node("group", items[0])
            return self.node("bracket", opener, closer[1], tuple(items))
        if opener == "{":
            items = self.parse_sequence(("}",))
            self.expect("op", "}")
            if len(items) == 1:
                return items[0]
            return self.node("list", tuple(items))
        if opener == "\\{":
            if self.peek()[0] == "id" and self.peek(1) in (("op", "|"), ("op", ":")):
                # Set-builder notation {x | x > 2}: the answer is the condition.
                self.position += 2
                condition = self.parse_relation()
                self.expect("op", "\\}")
                return condition
            items = self.parse_sequence(("\\}",))
            self.expect("op", "\\}")
            return self.node("set", tuple(items))
        if opener == "|":
            self.abs_depth += 1
            try:
                inner = self.expression(0)
            finally:
                self.abs_depth -= 1
            self.expect("op", "|")
            return self.node("func", "abs", (inner,))
        raise ParseError(f"unexpected {opener!r}")

    def matrix(self, env: str) -> Node:
        if env not in _MATRIX_ENVS:
            raise ParseError(f"unsupported environment {env!r}")
        rows: list[tuple[Node, ...]] = []
        row: list[Node] = []
        while True:
            if self.at("eof"):
                raise ParseError("unclosed matrix")
            if self.at("end"):
                self.advance()
                break
            row.append(self.parse_relation())
            if self.at("op", "&"):
                self.advance()
            elif self.at("op", "\\\\"):
                self.advance()
                rows.append(tuple(row))
                row = []
        if row:
            rows.append(tuple(row))
        if not rows or len({len(r) for r in rows}) != 1:
            raise ParseError("ragged or empty matrix")
        return self.node("matrix", tuple(rows))

    def command(self, name: str) -> Node:
        if name == "frac":
            numerator = self.argument()
            return self.node("div", numerator, self.argument())
        if name == "sqrt":
            index = None
            if self.at("op", "["):
                self.advance()
                index = self.expression(0)
                self.expect("op", "]")
            radicand = self.operand_or_argument()
            if index is None:
                return self.node("func", "sqrt", (radicand,))
            return self.node("root", radicand, index)
        if name == "binom":
            top = self.argument()
            return self.node("binom", top, self.argument())
        if name == "pi":
            return self.node("const", "pi")
        if name == "infty":
            return self.node("const", "inf")
        if name == "reals":
            return self.node("reals")
        if name in ("emptyset", "varnothing"):
            return self.node("set", ())
        if name in ("lfloor", "lceil"):
            inner = self.expression(0)
            self.expect("cmd", "rfloor" if name == "lfloor" else "rceil")
            return self.node("func", "floor" if name == "lfloor" else "ceil", (inner,))
        if name == "abs":
            return self.node("func", "abs", (self.operand_or_argument(),))
        if name == "overline":
            return self.argument()
        if name in FUNCTIONS or name in MULTI_ARG_FUNCTIONS:
            return self.function(name)
        if name in GREEK:
            return self.identifier(name)
        if name in ("imath", "jmath"):
            return self.node("const", "i")
        raise ParseError(f"unsupported command \\{name}")

    def operand_or_argument(self) -> Node:
        if self.at("op", "(") or self.at("op", "{"):
            return self.primary(self.advance())
        return self.argument()

    def function(self, name: str) -> Node:
        power = None
        base = None
        for _ in range(2):
            if self.at("op", "^") and power is None:
                self.advance()
                power = self.exponent()
            elif self.at("op", "_") and base is None and name == "log":
                self.advance()
                base = self.argument()
        if self.at("op", "("):
            self.advance()
            args = tuple(self.parse_sequence((")",)))
            self.expect("op", ")")
        else:
            self.function_operand += 1
            try:
                args = (self.expression(_IMPLICIT - 1),)
            finally:
                self.function_operand -= 1
        if not args:
            raise ParseError(f"{name} needs an argument")
        if name in FUNCTIONS and len(args) != 1:
            raise ParseError(f"{name} takes one argument")
        if base is not None:
            result = self.node("func", "log_base", (args[0], base))
        elif name in ("log", "lg") and len(args) == 1:
            result = self.node("func", "ln" if name == "log" else "log10", args)
        else:
            if name in ("sin", "cos", "tan", "cot", "sec", "csc"):
                args = (self.radians(args[0]),)
            if power == ("neg", ("num", Fraction(1), False)) and name in ("sin", "cos", "tan"):
                return self.node("func", "arc" + name, args)
            result = self.node("func", name, args)
        return result if power is None else self.node("pow", result, power)

    def radians(self, argument: Node) -> Node:
        """``\\sin 30^\\circ``: a degree argument of a trigonometric function, in radians."""
        if argument[0] == "degree":
            return self.node(
                "mul",
                (argument[1], self.node("div", ("const", "pi"), ("num", Fraction(180), False))),
            )
        if argument[0] == "group":
            return self.node("group", self.radians(argument[1]))
        return argument


def significant_digits(literal: str) -> int:
    """How many significant digits a decimal literal writes: ``0.0830`` has 3 (at least 1)."""
    mantissa = literal.lower().partition("e")[0].lstrip("+-")
    return max(1, len(mantissa.replace(".", "").lstrip("0")))


def _is_name(node: Node) -> bool:
    return node[0] == "sym" or (node[0] == "mul" and all(f[0] == "sym" for f in node[1]))


def max_bracket_depth(text: str) -> int:
    """How deeply brackets nest in ``text`` (an upper bound: every opener counts)."""
    depth = deepest = 0
    for char in text:
        if char in "({[":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif char in ")}]":
            depth -= 1
    return deepest


def parse_answer(text: str, limits: Limits, deadline: Deadline) -> Node:
    """Parse a normalised answer string into a node (raises ParseError or TooLarge)."""
    if len(text) > limits.max_answer_chars:
        raise TooLarge(f"the answer has {len(text)} characters")
    if max_bracket_depth(text) > limits.max_depth:
        raise TooLarge("the answer is nested too deeply")
    return Parser(tokenize(text, limits, deadline), limits, deadline).parse()
