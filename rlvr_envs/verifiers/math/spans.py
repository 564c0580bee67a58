"""Unmarked answers in prose: LaTeX math spans, bare numbers, and which of them is the answer.

Used by the lenient (evaluation) extraction mode, as Math-Verify reads a response with no
``\\boxed{}``: the answer is the last *candidate* of the text, a math span (``$...$``, ``$$...$$``,
``\\(...\\)``, ``\\[...\\]``, with the spans right before it that are joined to it only by
connectors: "$1$ and $2$") or a number written outside any span. A span that only names something
(``$n$``, ``$ABCD$``) is not a candidate while another one exists: in "The largest $n$ is 34." the
answer is 34.

Dollar signs are ambiguous (currency or math). A pair of single dollars whose content reads as prose
("$5 and got $") is currency: the first dollar is dropped and the second may open a real span.
Inline spans end at the line's end; display spans may cross lines.

Every function here is linear in the length of its input: one pass over the delimiters, one
``finditer`` over the numbers, no backtracking-prone pattern.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .normalize import GLUED_CONNECTOR

Span = tuple[int, int, str]  # start, end (delimiters included) and the content

_DELIMITER = re.compile(r"\\\$|\$\$|\$|\\\(|\\\)|\\\[|\\\]|\n")
_CLOSER = {"$$": "$$", "\\[": "\\]", "\\(": "\\)", "$": "$"}
_INLINE = frozenset({"$", "\\("})

# What may sit between two boxes, or two spans, that belong to one final answer: punctuation,
# "and"/"or" (also in \text{}, or ending one: "\text{ for part (a) and }"), a unit word before
# it ("\boxed{1} papers and \boxed{2}") and the name of the next answer ("y_2 = \boxed{3}").
CONNECTOR = re.compile(
    r"(?:\s*[a-z]{2,12}(?=\s+(?:and|or)\b))?"
    r"(?:\s|\$|\\[()\[\],;!: ]|\\q?quad|[,;.&]|\\\\|\b(?:and|or)\b"
    r"|\\(?:text|mbox|textrm|mathrm)\s*\{(?:\s*|[^{}]{0,40}?(?:\band|\bor|,)\s*)\}"
    r"|[A-Za-z](?:_\{?\w{1,4}\}?)?\s*=)*",
    re.IGNORECASE,
)
MAX_CONNECTOR_GAP = 60

WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{2,}")
MATH_WORDS = frozenset(
    "sqrt frac pi inf infinity sin cos tan cot sec csc ln log exp or and text mbox cdot times "
    "le ge leq geq neq lt gt in cup cap pm mp infty left right dfrac tfrac boxed circ degrees "
    "begin end pmatrix bmatrix matrix array quad qquad mathrm mathbf textbf emptyset approx".split()
)
_TEXT_GROUP = re.compile(r"\\(?:text|mbox|textrm|textbf|textit|mathrm)\s*\{[^{}]*\}")
_NAME = re.compile(r"\s*(?:[A-Za-z]+|\\[a-zA-Z]+)(?:_\{?\w+\}?)?'*\s*")

# Thousands separators, a decimal comma ("2,74", "0,111": kept, the comparison reads it), or plain.
NUMBER = re.compile(
    r"(?<![\d,A-Za-z])-?(?:0,\d+|\d+,\d{1,2}|\d+,\d{4,})(?![\d,])"
    r"|(?<![A-Za-z])(?:-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?|-?\.\d+)"
)
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_CALCULATOR = re.compile(r"<<[^<>]{0,200}>>")
TAIL_CHARS = 4000  # unmarked answers are looked for at the end of a response only


def prose_words(text: str) -> list[str]:
    """Words of two or more letters that are not LaTeX or math vocabulary (``\\text{}`` skipped)."""
    plain = GLUED_CONNECTOR.sub(r" \1 ", _TEXT_GROUP.sub(" ", text))
    return [w for w in WORD.findall(plain) if w.lower() not in MATH_WORDS]


def _currency(content: str) -> bool:
    """Dollars around prose: "$5 and got $3" (a price, then prose), not a math span."""
    words = len(prose_words(content))
    return words >= 3 or (words > 0 and content.lstrip()[:1].isdigit())


_BLANK_TO_LINE_END = re.compile(r"[ \t]*\n")


def _alone_on_line(text: str, position: int) -> bool:
    """Only blanks between the start of the line and ``position``."""
    line_start = text.rfind("\n", 0, position) + 1
    return position - line_start <= 40 and not text[line_start:position].strip()


def _scan(text: str) -> tuple[list[Span], list[tuple[int, int]]]:
    """Math spans, and inline spans broken across lines ("$ \\n 9 \\n $"), in one linear pass."""
    tokens = [(m.start(), m.end(), m.group()) for m in _DELIMITER.finditer(text)]
    # following[kind][i]: the index of the first token of that kind at or after i.
    following: dict[str, list[int]] = {}
    for kind in ("$$", "\\]", "\\)", "$", "\n"):
        nearest, column = len(tokens), [0] * (len(tokens) + 1)
        column[len(tokens)] = nearest
        for i in range(len(tokens) - 1, -1, -1):
            if tokens[i][2] == kind:
                nearest = i
            column[i] = nearest
        following[kind] = column
    spans: list[Span] = []
    broken: list[tuple[int, int]] = []
    index = 0
    while index < len(tokens):
        start, open_end, opener = tokens[index]
        closer = _CLOSER.get(opener)
        if closer is None:  # \$, a newline, or a stray closer
            index += 1
            continue
        close = following[closer][index + 1]
        if close < len(tokens) and opener in _INLINE:
            line_end = following["\n"][index + 1]
            if opener == "$":
                line_end = min(line_end, following["$$"][index + 1])
            if line_end < close:
                if _BLANK_TO_LINE_END.match(text, open_end) and _alone_on_line(
                    text, tokens[close][0]
                ):
                    broken.append((start, tokens[close][1]))  # math opened and closed on own lines
                    index = close + 1
                else:
                    index += 1
                continue
        if close >= len(tokens):
            index += 1  # unclosed: not a span
            continue
        content = text[open_end : tokens[close][0]]
        if opener == "$" and _currency(content):
            index = close  # the closing dollar may open the next span
            continue
        if content.strip():
            spans.append((start, tokens[close][1], content.strip()))
        index = close + 1
    return spans, broken


def math_spans(text: str) -> list[Span]:
    """The LaTeX math spans of ``text``, in order (unclosed and currency dollars skipped)."""
    return _scan(text)[0]


def join_group(items: Sequence[tuple[int, int, str]], text: str) -> list[tuple[int, int, str]]:
    """The last item and the items right before it joined to it only by connectors."""
    group = [items[-1]]
    for item in reversed(items[:-1]):
        gap = text[item[1] : group[0][0]]
        if len(gap) > MAX_CONNECTOR_GAP or CONNECTOR.fullmatch(gap) is None:
            break
        group.insert(0, item)
    return group


def _is_name(content: str) -> bool:
    return _NAME.fullmatch(content) is not None and not content.strip().startswith("\\text")


def number_text(match: re.Match[str]) -> str:
    value = match.group()
    return value.replace(",", "") if _THOUSANDS.fullmatch(value) else value


def last_candidate(text: str) -> tuple[str, str, tuple[str, ...]] | None:
    """The answer, the rule (``math_span`` or ``last_number``) and parts, or None."""
    if len(text) > TAIL_CHARS:
        cut = text.find("\n", len(text) - TAIL_CHARS)
        text = text[cut + 1 :] if cut != -1 else text[-TAIL_CHARS:]
    spans, broken = _scan(text)
    masked = list(_CALCULATOR.sub(lambda m: " " * len(m.group()), text))
    # A number inside a span belongs to the span; one inside broken inline math is not read.
    for start, end in [(s[0], s[1]) for s in spans] + broken:
        masked[start:end] = " " * (end - start)
    numbers = list(NUMBER.finditer("".join(masked)))
    answers = [s for s in spans if not _is_name(s[2])]
    last_span = answers[-1] if answers else None
    last_number = numbers[-1] if numbers else None
    if last_number is not None and (last_span is None or last_number.start() > last_span[0]):
        return number_text(last_number), "last_number", ()
    if last_span is None:
        if not spans:
            return None
        last_span = spans[-1]  # only names: the last one is all there is
    group = join_group([s for s in spans if s[1] <= last_span[1]], text)
    parts = tuple(content for _, _, content in group)
    return ", ".join(parts), "math_span", parts if len(parts) > 1 else ()


def focus(sentence: str) -> tuple[str, str, tuple[str, ...]] | None:
    """An answer sentence reduced to its last candidate when it holds math spans or prose
    ("The largest $n$ is 34", "\\"$12$ and $13$\\""); None when it is a bare answer already."""
    spans = math_spans(sentence)
    if not spans and not prose_words(sentence):
        return None
    return last_candidate(sentence)
