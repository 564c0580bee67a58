"""Differential testing of the IFEval checkers against an independent implementation.

:func:`triples` generates (response, instruction id, kwargs) deterministically: for each of the 25
instructions, responses built from a bank of ordinary sentences (commas, contractions, acronyms,
abbreviations, markdown) around the instruction's decision boundary (counts one below, at and one
above the threshold, the feature present, missing or malformed), with IFEval's own argument
ranges. :func:`reference_check` runs the ``if-verifiable`` package's port of Google's IFEval
checkers on each, :func:`compare` tallies agreement per instruction. Used by
``tests/test_ifeval_parity.py``; the remaining differences are listed in ``docs/ifeval.md``.

The reference needs NLTK's English Punkt model, which is a separate download (no network here):
an untrained Punkt tokenizer with a list of common English abbreviations stands in for it, for
sentence counts and for the word tokenizer behind capital-word counts. ``langdetect`` is seeded
(its default is random).
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from rlvr_envs.envs.instruction_solutions import SENTENCES as LANGUAGE_SENTENCES

SENTENCE_BANK = (
    "The committee met on Tuesday to discuss the new budget.",
    "Honestly, I don't think the plan will work without more funding.",
    "Our team visited three cities, two museums and one very old castle.",
    "NASA launched the probe in 2021 after years of delays.",
    "Dr. Lee said the results were promising.",
    "It's a well-known fact that cats sleep for most of the day.",
    "Many readers enjoy mystery novels, especially in winter.",
    "The recipe calls for flour, sugar, eggs and a pinch of salt.",
    "We arrived late because the train was delayed.",
    "This approach is simple and easy to maintain.",
    "Some people prefer tea; others can't start the day without coffee.",
    "The engine roared as the car climbed the steep hill.",
    "In the U.S. most schools start in late August.",
    "She asked whether the report was ready.",
    "After the storm passed the village began to rebuild.",
    "Prices rose by 3.5 percent last year.",
    "The museum's new wing opens to the public next month.",
    "Our neighbors, who moved here last spring, grow tomatoes.",
    "I think the answer depends on the context.",
    "Students should review the material before the exam.",
    "The river floods every spring, e.g. after heavy rain.",
    "What a wonderful morning it was!",
    "Is there a better way to solve this problem?",
    "He wrote the letter by hand and mailed it on Friday.",
    "The market was busy with vendors selling fruit and bread.",
    "Good design makes complex tools feel natural.",
    "The CEO announced a new policy for remote work.",
    "Rain is expected this weekend, so bring an umbrella.",
    "Our history teacher told stories that made the past feel alive.",
    "The garden needs water every other day in summer.",
)
WORDS = (
    "engine", "history", "street", "garden", "signal", "morning", "coffee", "market", "winter",
    "letter", "river", "design", "problem", "policy", "museum", "storm", "budget", "answer",
    "cat", "art", "plan", "team", "rain", "work",
)  # fmt: skip
END_PHRASES = ("Any other questions?", "Is there anything else I can help with?", "Peace!")
REQUESTS = (
    "Write a short note about the weather in spring.",
    "Describe your favourite book and why you like it.",
    "Explain how a bicycle works",
)
LANGUAGES = tuple(sorted(LANGUAGE_SENTENCES))


@dataclass(frozen=True)
class Triple:
    """One differential case."""

    response: str
    instruction_id: str
    kwargs: dict[str, Any]
    prompt: str


def _doc(rng: random.Random, sentences: int, paragraphs: int = 1, sep: str = "\n\n") -> str:
    chosen = [rng.choice(SENTENCE_BANK) for _ in range(sentences)]
    size = max(1, len(chosen) // paragraphs)
    groups = [chosen[i : i + size] for i in range(0, len(chosen), size)][:paragraphs]
    if len(groups) < paragraphs:
        groups += [[rng.choice(SENTENCE_BANK)] for _ in range(paragraphs - len(groups))]
    groups[-1] += chosen[size * paragraphs :]
    return sep.join(" ".join(group) for group in groups)


def _near(rng: random.Random, count: int) -> int:
    return max(1, count + rng.choice((-1, 0, 0, 1)))


def _relation(rng: random.Random) -> str:
    return rng.choice(("less than", "at least"))


def _insert(rng: random.Random, text: str, piece: str) -> str:
    sentences = text.split(". ")
    sentences.insert(rng.randrange(len(sentences) + 1), piece)
    return ". ".join(sentences)


def _keywords_existence(rng: random.Random) -> tuple[str, dict]:
    keywords = rng.sample(WORDS, rng.randint(1, 3))
    text = _doc(rng, rng.randint(2, 6))
    if rng.random() < 0.03:
        text += f" {keywords[0]}ical"  # the keyword inside a longer word only
    for keyword in keywords:
        if rng.random() < 0.75:
            form = keyword + ("s" if rng.random() < 0.1 else "")
            text = _insert(rng, text, f"The {form} mattered most")
    return text, {"keywords": keywords}


def _keyword_frequency(rng: random.Random) -> tuple[str, dict]:
    keyword = rng.choice(WORDS)
    count = rng.randint(0, 5)
    text = _doc(rng, rng.randint(2, 5))
    for _ in range(count):
        text = _insert(rng, text, f"Think of the {keyword} again")
    return text, {"keyword": keyword, "frequency": _near(rng, count), "relation": _relation(rng)}


def _forbidden(rng: random.Random) -> tuple[str, dict]:
    words = rng.sample(WORDS, rng.randint(1, 3))
    text = _doc(rng, rng.randint(2, 6))
    if rng.random() < 0.4:
        text = _insert(rng, text, f"Nobody mentioned the {rng.choice(words)}")
    return text, {"forbidden_words": words}


def _letter_frequency(rng: random.Random) -> tuple[str, dict]:
    text = _doc(rng, rng.randint(1, 4))
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    count = text.lower().count(letter)
    return text, {
        "letter": letter,
        "let_frequency": _near(rng, count),
        "let_relation": _relation(rng),
    }


def _language(rng: random.Random) -> tuple[str, dict]:
    language = rng.choice(LANGUAGES)
    written = language if rng.random() < 0.6 else rng.choice(LANGUAGES)
    bank = LANGUAGE_SENTENCES[written]
    text = " ".join(rng.sample(bank, min(len(bank), rng.randint(3, 6))))
    return text, {"language": language}


def _sentences(rng: random.Random) -> tuple[str, dict]:
    count = rng.randint(1, 10)
    text = _doc(rng, count, rng.randint(1, 3))
    return text, {"num_sentences": _near(rng, count), "relation": _relation(rng)}


def _paragraphs(rng: random.Random) -> tuple[str, dict]:
    count = rng.randint(1, 5)
    text = _doc(rng, count * 2, count, sep=rng.choice(("\n\n***\n\n", "\n***\n", "\n\n* * *\n\n")))
    return text, {"num_paragraphs": _near(rng, count)}


def _words(rng: random.Random) -> tuple[str, dict]:
    text = _doc(rng, rng.randint(1, 12))
    count = len(text.split())
    return text, {"num_words": _near(rng, count), "relation": _relation(rng)}


def _nth_paragraph(rng: random.Random) -> tuple[str, dict]:
    count = rng.randint(1, 5)
    nth = rng.randint(1, count)
    word = rng.choice(("however", "first", "today", "imagine", "then"))
    paragraphs = _doc(rng, count * 2, count).split("\n\n")
    if rng.random() < 0.7:
        paragraphs[nth - 1] = f"{word.capitalize()} {paragraphs[nth - 1]}"
    text = "\n\n".join(paragraphs)
    return text, {
        "num_paragraphs": max(nth, _near(rng, count)),
        "nth_paragraph": nth,
        "first_word": word,
    }


def _placeholders(rng: random.Random) -> tuple[str, dict]:
    count = rng.randint(0, 4)
    text = _doc(rng, rng.randint(1, 4))
    for name in rng.sample(("[name]", "[address]", "[date]", "[phone number]", "[city]"), count):
        text = _insert(rng, text, f"Write to {name}")
    return text, {"num_placeholders": _near(rng, count)}


def _postscript(rng: random.Random) -> tuple[str, dict]:
    marker = rng.choice(("P.S.", "P.P.S"))
    text = _doc(rng, rng.randint(1, 4))
    roll = rng.random()
    if roll < 0.6:
        written = rng.choice((marker, marker, marker.lower(), "P.S.", "PS"))
        text += f"\n\n{written} See you soon."
    elif roll < 0.62:
        text += f"\n\n{marker}"  # a marker with no postscript after it
    return text, {"postscript_marker": marker}


def _bullets(rng: random.Random) -> tuple[str, dict]:
    count = rng.randint(1, 6)
    mark = rng.choice(("*", "-"))
    lines = [f"{mark} {rng.choice(SENTENCE_BANK)}" for _ in range(count)]
    text = _doc(rng, rng.randint(1, 2)) + "\n" + "\n".join(lines)
    return text, {"num_bullets": _near(rng, count)}


def _constrained(rng: random.Random) -> tuple[str, dict]:
    options = ("My answer is yes.", "My answer is no.", "My answer is maybe.")
    choice = rng.random()
    if choice < 0.02:
        text = rng.choice(options).rstrip(".")  # no final period
    elif choice < 0.6:
        text = rng.choice(options)
        if rng.random() < 0.3:
            text += " " + rng.choice(SENTENCE_BANK)
    else:
        text = rng.choice(("Yes.", "I think so.", "No, not really.")) + " " + _doc(rng, 1)
    return text, {}


def _highlights(rng: random.Random) -> tuple[str, dict]:
    count = rng.randint(0, 4)
    text = _doc(rng, rng.randint(2, 5))
    for _ in range(count):
        stars = rng.choice(("*", "*", "**"))
        text = _insert(rng, text, f"{stars}{rng.choice(WORDS)} matters{stars}")
    return text, {"num_highlights": _near(rng, count)}


def _sections(rng: random.Random) -> tuple[str, dict]:
    spliter = rng.choice(("Section", "SECTION"))
    count = rng.randint(1, 5)
    parts = [f"{spliter} {i}\n{_doc(rng, 2)}" for i in range(1, count + 1)]
    return "\n\n".join(parts), {"section_spliter": spliter, "num_sections": _near(rng, count)}


def _json(rng: random.Random) -> tuple[str, dict]:
    value = {"summary": _doc(rng, 1), "points": [rng.choice(WORDS) for _ in range(2)]}
    text = json.dumps(value, indent=rng.choice((None, 2)))
    roll = rng.random()
    if roll < 0.3:
        text = f"```json\n{text}\n```"
    elif roll < 0.5:
        text = f"Here is the JSON:\n{text}"
    elif roll < 0.6:
        text = text[:-1]
    return text, {}


def _title(rng: random.Random) -> tuple[str, dict]:
    text = _doc(rng, rng.randint(1, 4))
    roll = rng.random()
    if roll < 0.5:
        text = f"<<{rng.choice(('A Note', 'Spring Days', 'My Plan'))}>>\n{text}"
    elif roll < 0.6:
        text = f"<<>>\n{text}"
    return text, {}


def _two_responses(rng: random.Random) -> tuple[str, dict]:
    first, second = _doc(rng, 2), _doc(rng, 2)
    roll = rng.random()
    if roll < 0.5:
        text = f"{first}\n******\n{second}"
    elif roll < 0.65:
        text = f"{first}\n******\n{first}"
    elif roll < 0.8:
        text = f"{first}\n******\n{second}\n******\n{_doc(rng, 1)}"
    else:
        text = f"{first}\n\n{second}"
    return text, {}


def _repeat(rng: random.Random) -> tuple[str, dict]:
    request = rng.choice(REQUESTS)
    roll = rng.random()
    if roll < 0.02:
        text = request  # the repetition and nothing else
    elif roll < 0.6:
        text = f"{request}\n\n{_doc(rng, 2)}"
    elif roll < 0.7:
        text = f"{request.lower()} {_doc(rng, 2)}"
    else:
        text = f"Sure. {request} {_doc(rng, 2)}"
    return text, {"prompt_to_repeat": request}


def _end(rng: random.Random) -> tuple[str, dict]:
    phrase = rng.choice(END_PHRASES)
    text = _doc(rng, rng.randint(1, 3))
    roll = rng.random()
    if roll < 0.6:
        text = f"{text} {phrase}"
    elif roll < 0.65:
        text = f"{text} {phrase}\n"
    elif roll < 0.7:
        text = f"{text} {phrase.lower()}"
    return text, {"end_phrase": phrase}


def _capital_words(rng: random.Random) -> tuple[str, dict]:
    count = rng.randint(0, 6)
    text = _doc(rng, rng.randint(1, 4))
    for _ in range(count):
        text = _insert(rng, text, rng.choice(("This is VERY important", "Read the FAQ first")))
    return text, {"capital_frequency": rng.randint(1, 12), "capital_relation": _relation(rng)}


def _english_capital(rng: random.Random) -> tuple[str, dict]:
    text = _doc(rng, rng.randint(2, 4))
    if rng.random() < 0.2:
        text = " ".join(rng.sample(LANGUAGE_SENTENCES["es"], 4))
    return (text.upper() if rng.random() < 0.6 else text), {}


def _english_lowercase(rng: random.Random) -> tuple[str, dict]:
    text = _doc(rng, rng.randint(2, 4))
    if rng.random() < 0.2:
        text = " ".join(rng.sample(LANGUAGE_SENTENCES["fr"], 4))
    return (text.lower() if rng.random() < 0.6 else text), {}


def _no_comma(rng: random.Random) -> tuple[str, dict]:
    text = _doc(rng, rng.randint(1, 4))
    if rng.random() < 0.5:
        text = text.replace(",", "")
    return text, {}


def _quotation(rng: random.Random) -> tuple[str, dict]:
    text = _doc(rng, rng.randint(1, 3))
    roll = rng.random()
    if roll < 0.5:
        text = f'"{text}"'
    elif roll < 0.52:
        text = f"“{text}”"  # typographic quotation marks
    elif roll < 0.6:
        text = f'"{text}'
    return text, {}


BUILDERS: dict[str, Callable[[random.Random], tuple[str, dict]]] = {
    "keywords:existence": _keywords_existence,
    "keywords:frequency": _keyword_frequency,
    "keywords:forbidden_words": _forbidden,
    "keywords:letter_frequency": _letter_frequency,
    "language:response_language": _language,
    "length_constraints:number_sentences": _sentences,
    "length_constraints:number_paragraphs": _paragraphs,
    "length_constraints:number_words": _words,
    "length_constraints:nth_paragraph_first_word": _nth_paragraph,
    "detectable_content:number_placeholders": _placeholders,
    "detectable_content:postscript": _postscript,
    "detectable_format:number_bullet_lists": _bullets,
    "detectable_format:constrained_response": _constrained,
    "detectable_format:number_highlighted_sections": _highlights,
    "detectable_format:multiple_sections": _sections,
    "detectable_format:json_format": _json,
    "detectable_format:title": _title,
    "combination:two_responses": _two_responses,
    "combination:repeat_prompt": _repeat,
    "startend:end_checker": _end,
    "change_case:capital_word_frequency": _capital_words,
    "change_case:english_capital": _english_capital,
    "change_case:english_lowercase": _english_lowercase,
    "punctuation:no_comma": _no_comma,
    "startend:quotation": _quotation,
}


def triples(per_instruction: int = 210, seed: int = 0) -> Iterator[Triple]:
    """``per_instruction`` cases for each of the 25 instructions, the same for the same seed."""
    for index, (instruction_id, build) in enumerate(sorted(BUILDERS.items())):
        rng = random.Random(seed * 1000 + index)
        for _ in range(per_instruction):
            response, kwargs = build(rng)
            yield Triple(response, instruction_id, kwargs, rng.choice(REQUESTS))


# --- the reference --------------------------------------------------------------------------------

_ABBREVIATIONS = (
    "dr mr mrs ms prof sr jr st vs etc e.g i.e u.s u.k inc ltd co corp jan feb mar apr jun jul "
    "aug sep sept oct nov dec no vol fig approx dept"
).split()


def setup_reference() -> dict[str, Any]:
    """The reference registry, with NLTK's missing Punkt model and langdetect's seed handled."""
    import langdetect
    import nltk
    from if_verifiable.ifeval import instructions_util
    from if_verifiable.ifeval.instructions_registry import INSTRUCTION_DICT
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    langdetect.DetectorFactory.seed = 0
    parameters = PunktParameters()
    parameters.abbrev_types = set(_ABBREVIATIONS)
    punkt = PunktSentenceTokenizer(parameters)
    words = nltk.tokenize.NLTKWordTokenizer()

    class _NLTK:  # what instructions_util.nltk is used for, without the downloaded model
        tokenize = nltk.tokenize

        @staticmethod
        def word_tokenize(text: str) -> list[str]:
            return [
                token for sentence in punkt.tokenize(text) for token in words.tokenize(sentence)
            ]

    instructions_util._get_sentence_tokenizer = lambda: punkt
    instructions_util.nltk = _NLTK
    return INSTRUCTION_DICT


def reference_check(registry: dict[str, Any], triple: Triple) -> bool:
    """The reference's strict-mode verdict (an empty response follows nothing)."""
    checker = registry[triple.instruction_id](triple.instruction_id)
    checker.build_description(**triple.kwargs)
    return bool(triple.response.strip()) and bool(checker.check_following(triple.response))


@dataclass
class Agreement:
    """Agreement counts per instruction, with a few disagreeing cases of each."""

    total: Counter
    agree: Counter
    examples: dict[str, list[tuple[Triple, bool, bool]]]

    @property
    def rate(self) -> float:
        """Overall fraction of triples on which both sides agree."""
        return sum(self.agree.values()) / sum(self.total.values())

    def table(self) -> str:
        """One line per instruction, then the total."""
        lines = [f"{'instruction':<46} {'cases':>5} {'agree':>6} {'rate':>7}"]
        for iid in sorted(self.total):
            n, a = self.total[iid], self.agree[iid]
            lines.append(f"{iid:<46} {n:>5} {a:>6} {a / n:>7.1%}")
        n, a = sum(self.total.values()), sum(self.agree.values())
        lines.append(
            f"{'all ' + str(len(self.total)) + ' instructions':<46} {n:>5} {a:>6} {a / n:>7.2%}"
        )
        return "\n".join(lines)


def compare(
    cases: list[Triple], ours: Callable[[Triple], bool], reference: Callable[[Triple], bool]
) -> Agreement:
    """Run both sides on every case."""
    total: Counter = Counter()
    agree: Counter = Counter()
    examples: dict[str, list] = defaultdict(list)
    for case in cases:
        mine, theirs = ours(case), reference(case)
        total[case.instruction_id] += 1
        if mine == theirs:
            agree[case.instruction_id] += 1
        elif len(examples[case.instruction_id]) < 5:
            examples[case.instruction_id].append((case, mine, theirs))
    return Agreement(total, agree, dict(examples))
