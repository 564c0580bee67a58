"""Normalisation stage: turn an extracted answer into one canonical LaTeX-like string.

What it removes carries no mathematical meaning (math delimiters, ``\\left``/``\\right``, spacing,
box wrappers, units, currency signs); what it rewrites has one meaning written several ways
(Unicode minus and degree signs, ``\\dfrac``, thousands separators such as ``1\\,000`` or
``10,\\!080``, "degrees", "percent"). It never drops something that could change the value: an
exclamation mark stays a factorial, a subscript base stays, a trailing equation side stays.
"""

from __future__ import annotations

import re
import unicodedata

_UNICODE = {
    "\u2212": "-",  # minus sign
    "\u2013": "-",
    "\u2014": "-",
    "\u2010": "-",
    "\u2011": "-",
    "\ufe63": "-",
    "\uff0d": "-",
    "\u00d7": r"\times ",
    "\u22c5": r"\cdot ",
    "\u00b7": r"\cdot ",
    "\u2219": r"\cdot ",
    "\u00f7": r"\div ",
    "\u2215": "/",
    "\u2044": "/",
    "\u00b0": r"^\circ ",
    "\u2218": r"^\circ ",
    "\u221a": r"\sqrt ",
    "\u03c0": r"\pi ",
    "\u221e": r"\infty ",
    "\u2264": r"\le ",
    "\u2a7d": r"\le ",
    "\u2265": r"\ge ",
    "\u2a7e": r"\ge ",
    "\u2260": r"\ne ",
    "\u2248": r"\approx ",
    "\u222a": r"\cup ",
    "\u2229": r"\cap ",
    "\u00b1": r"\pm ",
    "\u2213": r"\mp ",
    "\u2208": r"\in ",
    "\u2205": r"\emptyset ",
    "\u211d": r"\mathbb{R}",
    "\u03b1": r"\alpha ",
    "\u03b2": r"\beta ",
    "\u03b3": r"\gamma ",
    "\u03b8": r"\theta ",
    "\u03bb": r"\lambda ",
    "\u03bc": r"\mu ",
    "\u03c6": r"\phi ",
    "\u03c9": r"\omega ",
    "\u2032": "'",
    "\u00a0": " ",
    "\u2009": r"\,",
    "\u202f": r"\,",
    "\u2007": r"\,",
    "\u200a": r"\,",
    "\u2002": " ",
    "\u2003": " ",
    "\u200b": "",
    "\u00bd": "(1/2)",
    "\u2153": "(1/3)",
    "\u2154": "(2/3)",
    "\u00bc": "(1/4)",
    "\u00be": "(3/4)",
}
_SUPERSCRIPTS = {
    "\u2070": "0",
    "\u00b9": "1",
    "\u00b2": "2",
    "\u00b3": "3",
    "\u2074": "4",
    "\u2075": "5",
    "\u2076": "6",
    "\u2077": "7",
    "\u2078": "8",
    "\u2079": "9",
    "\u207b": "-",
    "\u207a": "+",
}
_UNICODE_TABLE = str.maketrans(_UNICODE)
_SUPERSCRIPT_RUN = re.compile("[" + "".join(_SUPERSCRIPTS) + "]+")


def _superscript(match: re.Match[str]) -> str:
    return "^{" + "".join(_SUPERSCRIPTS[c] for c in match.group()) + "}"


def normalize_unicode(text: str) -> str:
    """Map Unicode math symbols to LaTeX and fold compatibility characters (full-width digits)."""
    if text.isascii():
        return text
    text = _SUPERSCRIPT_RUN.sub(_superscript, text)
    text = text.translate(_UNICODE_TABLE)
    return unicodedata.normalize("NFKC", text)


_ROW = "\ue000"  # placeholder for the matrix row separator while single-backslash rules run
_WRAPPER = re.compile(r"\\(?:boxed|fbox|framebox)\s*\{")


def closing_brace(text: str, position: int) -> int | None:
    """Index of the ``}`` closing a group opened just before ``position`` (None: unbalanced).

    A backslash escapes the next character, so ``\\{`` and ``\\}`` do not count.
    """
    depth = 1
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return position
        position += 1
    return None


def _unwrap_command(text: str, pattern: re.Pattern[str]) -> str:
    """Replace ``\\cmd{content}`` by ``content`` for every match of ``pattern`` (which ends at ``{``)."""
    for _ in range(50):
        match = pattern.search(text)
        if match is None:
            return text
        close = closing_brace(text, match.end())
        if close is None:  # unbalanced: drop the command, keep the rest
            return text[: match.start()] + text[match.end() :]
        text = text[: match.start()] + text[match.end() : close] + text[close + 1 :]
    return text


# ``\\le``, ``\\frac``: a command whose backslash was doubled by one escaping too many (JSON,
# a Python string). A real row break is never followed by one of these words.
_DOUBLED_COMMAND = re.compile(r"(?<!\\)\\\\(?=([a-zA-Z]+))")
_DOUBLED_NAMES = frozenset(
    "frac dfrac tfrac cfrac sqrt left right le leq ge geq lt gt ne neq boxed fbox text textbf "
    "mathrm mathbf pi infty cdot times div pm mp in cup cap circ sin cos tan ln log exp "
    "dbinom binom approx quad qquad".split()
)
GLUED_CONNECTOR = re.compile(r"(?<=[\d)}])(or|and)(?=[A-Z(\\])")  # "W(x)=1orW(x)=-1"
_GLUED_QUAD = re.compile(r"\\(q?quad)(?=[a-zA-Z])")  # "\quadx_{2}": TeX would read \quadx
_DELIMITERS = re.compile(r"\$+|\\[()\[\]]")
_SIZING = re.compile(
    r"\\(?:left|right|middle)\s*[.]|\\(?:left|right|middle|[bB]igg?[lrm]?)(?![a-zA-Z])"
    r"|\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits|!|,|;|:|>|\s)"
    r"|\\(?:hspace|vspace)\*?\s*\{[^{}]*\}|~"
)
_FRAC_ALIASES = re.compile(r"\\[dtc]frac(?![a-zA-Z])")
_BINOM_ALIASES = re.compile(r"\\[dt]binom(?![a-zA-Z])")
# \frac43, \frac 59, \frac9{19}, \frac{270}7, \sqrt2: TeX takes one token as the argument.
_FRAC_DIGIT_FIRST = re.compile(r"\\frac\s*(\d)")
_FRAC_DIGIT_SECOND = re.compile(r"(\\frac\{[^{}]*\})\s*(\d)")
_SQRT_DIGIT = re.compile(r"\\sqrt\s*(\d)")
# Thousands separators: explicit TeX ones always, a bare comma only in a lone number.
_TEX_THOUSANDS = re.compile(
    r"(?<![\d.])\d{1,3}(?: ?(?:,\\!\s*|\{\s*,\s*\}|\\[,;! ]|,\s*\\!|\u2009)\d{3})+(?![\d])"
)
_COMMA_THOUSANDS = re.compile(r"(?<![\d.,])[1-9]\d{0,2}(?:,\d{3})+(?![\d,])")  # not "0,111"
_SPACED_NUMBER = re.compile(r"-?\d{1,3}(?: \d{3})+(?:\.\d+)?")  # "1 000 000", alone
_DEGREES = re.compile(
    r"\s*(?:\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree|\^\s*\{\s*o\s*\}|\^o(?![a-zA-Z]))"
    r"|\s*\\(?:text|mbox|textrm|mathrm)\s*\{\s*degrees?\s*\}|\s+degrees?\b",
    re.IGNORECASE,
)
_PERCENT = re.compile(
    r"\s*\\%|\s*\\(?:text|mbox)\s*\{\s*(?:percent|percentage|pct)\s*\}|\s+(?:percent|percentage|pct)\b",
    re.IGNORECASE,
)
_DOLLAR = re.compile(r"\\\$|\\(?:text|mbox)\s*\{\s*dollars?\s*\}")
_ALL_REALS = re.compile(
    r"(?:\\text\s*\{\s*)?\ball real numbers\b(?:\s*\})?|(?:\\text\s*\{\s*)?\ball reals\b(?:\s*\})?",
    re.IGNORECASE,
)
_CONNECTOR_TEXT = re.compile(r"\\(?:text|mbox|textrm|mathrm)\s*\{\s*(or|and)\s*\}", re.IGNORECASE)
_ARROWS = re.compile(r"\\(?:Rightarrow|implies|therefore|Longrightarrow)(?![a-zA-Z])")
_UNIT_TEX = re.compile(
    r"(?<=[\w}).!])\s*\\(?:text|mbox|textrm|mathrm|textnormal|textbf|textit)\s*\{\s*[a-zA-Z][a-zA-Z .]*\}"
    r"(?:\s*\^\s*\{?\s*[23]\s*\}?)?\s*$"
)
# One character class after the first two letters: no nested quantifier, no backtracking blow-up.
_UNIT_WORDS = re.compile(r"(?<=[\d}).])\s*[a-zA-Z]{2}[a-zA-Z .]*(?:\^\s*\{?[23]\}?)?\s*$")
_KEEP_WORDS = frozenset("sqrt pi sin cos tan cot sec csc ln log exp or and in infty inf oo".split())
_TEXT_WRAPPER = re.compile(
    r"\\(?:text|mbox|textrm|textbf|textit|textnormal|mathbf|mathit|mathrm|boldsymbol|bm)\s*\{"
)


def _drop_unit_words(text: str) -> str:
    match = _UNIT_WORDS.search(text)
    if match is None:
        return text
    words = re.findall(r"[a-zA-Z]+", match.group())
    if any(word.lower() in _KEEP_WORDS for word in words):
        return text
    return text[: match.start()]


def _join_digits(match: re.Match[str]) -> str:
    return re.sub(r"\D", "", match.group())


def _undouble(match: re.Match[str]) -> str:
    return "\\" if match.group(1) in _DOUBLED_NAMES else match.group()


def normalize_answer(text: str) -> str:
    """The canonical string form of an extracted answer (see the module docstring)."""
    text = normalize_unicode(text).replace(_ROW, "").strip()
    if "\\\\" in text:
        text = _DOUBLED_COMMAND.sub(_undouble, text)
    text = _GLUED_QUAD.sub(r"\\\1 ", text)
    text = GLUED_CONNECTOR.sub(r" \1 ", text)
    text = _unwrap_command(text, _WRAPPER)
    # Protect the matrix row separator from the single-backslash rules below.
    text = text.replace("\\\\", _ROW)
    text = _DOLLAR.sub(" ", text)
    text = _DELIMITERS.sub(" ", text)
    parts = _ARROWS.split(text)
    if len(parts) > 1 and parts[-1].strip():
        text = parts[-1]
    text = _FRAC_ALIASES.sub(r"\\frac", text)
    text = _BINOM_ALIASES.sub(r"\\binom", text)
    text = _TEX_THOUSANDS.sub(_join_digits, text)
    text = _SIZING.sub(" ", text)
    text = _CONNECTOR_TEXT.sub(r" \1 ", text)
    text = _ALL_REALS.sub(r"\\mathbb{R}", text)
    text = _DEGREES.sub(r"^\\circ ", text)
    text = _PERCENT.sub("%", text)
    text = _FRAC_DIGIT_FIRST.sub(r"\\frac{\1}", text)
    text = _FRAC_DIGIT_SECOND.sub(r"\1{\2}", text)
    text = _SQRT_DIGIT.sub(r"\\sqrt{\1}", text)
    text = text.strip().rstrip(".").strip()
    text = re.sub(r"^(?:either|both)\s+", "", text, flags=re.IGNORECASE)
    if not is_textual(text):
        text = _UNIT_TEX.sub("", text)
        text = _drop_unit_words(text).strip()
    if not any(c in text for c in "([{;") and ", " not in text:
        text = _COMMA_THOUSANDS.sub(_join_digits, text)
    text = " ".join(text.split())
    if _SPACED_NUMBER.fullmatch(text):
        text = text.replace(" ", "")
    return text.replace(_ROW, " \\\\ ")


_TEXT_ONLY = re.compile(r"[A-Za-z][A-Za-z'\- ]*[A-Za-z]\.?|[A-Za-z]")


def strip_text_wrappers(text: str) -> str:
    """``\\text{Evelyn}`` -> ``Evelyn`` (and the bold/roman/italic variants)."""
    return _unwrap_command(text, _TEXT_WRAPPER).strip()


def is_textual(text: str) -> bool:
    """True when the answer is words (a name, "even", "east") rather than mathematics."""
    plain = strip_text_wrappers(text)
    if not _TEXT_ONLY.fullmatch(plain):
        return False
    words = re.findall(r"[A-Za-z]+", plain)
    return any(len(word) >= 3 and word.lower() not in _KEEP_WORDS for word in words)


def normalize_text(text: str) -> str:
    """A text answer for case- and punctuation-insensitive comparison."""
    plain = strip_text_wrappers(text).casefold()
    plain = re.sub(r"[^0-9a-z]+", " ", plain).strip()
    return re.sub(r"^(?:the|a|an) ", "", plain)


_CHOICE = re.compile(r"\(?([A-Za-z])\)?")
# A choice letter, then nothing, punctuation, or words/numbers (not arithmetic: "c + 1").
_CHOICE_PREFIX = re.compile(
    r"(?:(?:option|choice|answer)\s*(?:is\s*)?:?\s*)?\(?([A-Za-z])\)?(?=$|[.:,)]|\s+[\w(\\]|\s*$)",
    re.IGNORECASE,
)
_STANDALONE_LETTER = re.compile(r"(?<![A-Za-z\\])([A-J])(?![A-Za-z])")


def choice_letter(text: str, *, gold: bool = False) -> str | None:
    """The multiple-choice letter of an answer such as ``(C)``, ``\\text{(C)}`` or ``C``."""
    plain = strip_text_wrappers(text).strip().rstrip(".")
    if gold:
        match = _CHOICE.fullmatch(plain)
        if match is None:
            return None
        letter = match.group(1)
        # A bare gold letter is a choice only if capital (a lone "x" is a variable).
        return letter.upper() if plain.startswith("(") or letter.isupper() else None
    match = _CHOICE_PREFIX.match(plain)
    if match is None:
        return None
    letter = match.group(1).upper()
    # "A, B, C, D" names every option: a hedge, not a choice.
    others = {m.upper() for m in _STANDALONE_LETTER.findall(plain)} - {letter}
    return None if others else letter
