"""Reference responses (and known-wrong ones) for procedural instruction-following tasks.

:func:`reference_response` writes a response that does the request and follows every instruction
of a task: it builds one from plain sentences (comma-free, free of the generator's keywords,
forbidden words and rare letters), adds what the request's check looks for (its names and topic
terms, list items, a letter's salutation and sign-off, a dialogue's lines, the true yes/no
option) and what each instruction asks for (keywords, bullets, sections, a title, a postscript,
...), then searches over the amount of text and sentence style until the verifier itself accepts
it. The generator redraws a task when no response is found, so every procedural task is known to
be satisfiable and carries a reference solution. Its filler sentences are about nothing in
particular: it is for checking the verifier, not a demonstration to imitate.

:func:`break_instruction` and :func:`break_request` turn a correct response into one that breaks
a chosen instruction, or the request, by construction (not by asking the verifier), for
``rlvr-envs check``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..verifiers.ifeval import RequestCheck
from ..verifiers.ifeval.request import term_pattern

# Plain sentences per language: no commas, digits, capital words (single capitals included), and
# (in English) none of the generator's keywords, forbidden words or rare letters (q, z, x, j, k).
SENTENCES: dict[str, tuple[str, ...]] = {
    "en": (
        "The stream flows past the old mill.",
        "Children wave from the stone path.",
        "Warm wind moves through the trees.",
        "The door of the shop opens at dawn.",
        "Our neighbors share bread on Saturdays.",
        "The road climbs gently toward the hills.",
        "Birds gather on the wires after the rain.",
        "Each morning the town feels calm.",
        "People stroll along the shore in the evening.",
        "The small boat rests near the pier.",
        "The old bell in the hall still rings.",
        "Fresh tea helps on a cold afternoon.",
        "The library stays open until nine.",
        "Sunlight falls across the wooden floor.",
        "Soft music drifts from the open door.",
        "The teacher reads a story to the class.",
        "Farmers plant seeds when the soil is warm.",
        "The train arrives a little after noon.",
        "Friends meet at the corner for lunch.",
        "The mountain air feels cool and clean.",
    ),
    "es": (
        "El sol brilla sobre la ciudad por la mañana.",
        "Los niños juegan en el parque después de la escuela.",
        "Mi abuela prepara una sopa deliciosa los domingos.",
        "El tren llega a la estación antes del mediodía.",
        "Las flores del jardín crecen con la lluvia de primavera.",
        "Nosotros caminamos por la playa cuando hace buen tiempo.",
    ),
    "pt": (
        "O sol brilha sobre a cidade pela manhã.",
        "As crianças brincam no parque depois da escola.",
        "A minha avó prepara uma sopa deliciosa aos domingos.",
        "O comboio chega à estação antes do meio-dia.",
        "As flores do jardim crescem com a chuva da primavera.",
        "Nós caminhamos pela praia quando o tempo está bom.",
    ),
    "fr": (
        "Le soleil brille sur la ville le matin.",
        "Les enfants jouent dans le parc après l'école.",
        "Ma grand-mère prépare une soupe délicieuse le dimanche.",
        "Le train arrive à la gare avant midi.",
        "Les fleurs du jardin poussent avec la pluie du printemps.",
        "Nous marchons sur la plage quand il fait beau.",
    ),
    "de": (
        "Die Sonne scheint am Morgen über der Stadt.",
        "Die Kinder spielen nach der Schule im Park.",
        "Meine Großmutter kocht am Sonntag eine leckere Suppe.",
        "Der Zug kommt vor Mittag am Bahnhof an.",
        "Die Blumen im Garten wachsen mit dem Frühlingsregen.",
        "Wir gehen am Strand spazieren wenn das Wetter schön ist.",
    ),
    "it": (
        "Il sole splende sulla città al mattino.",
        "I bambini giocano nel parco dopo la scuola.",
        "Mia nonna prepara una zuppa deliziosa la domenica.",
        "Il treno arriva alla stazione prima di mezzogiorno.",
        "I fiori del giardino crescono con la pioggia di primavera.",
        "Noi camminiamo sulla spiaggia quando fa bel tempo.",
    ),
    "ru": (
        "Утром солнце светит над городом.",
        "Дети играют в парке после школы.",
        "Моя бабушка готовит вкусный суп по воскресеньям.",
        "Поезд прибывает на вокзал до полудня.",
        "Цветы в саду растут под весенним дождём.",
        "Мы гуляем по пляжу когда стоит хорошая погода.",
    ),
    "ja": (
        "朝になると太陽が町を照らします。",
        "子どもたちは放課後に公園で遊びます。",
        "祖母は日曜日においしいスープを作ります。",
        "電車は正午の前に駅に着きます。",
        "庭の花は春の雨で大きく育ちます。",
        "天気が良い日には海辺を散歩します。",
    ),
    "ko": (
        "아침에는 해가 도시를 비춥니다.",
        "아이들은 방과 후에 공원에서 놉니다.",
        "할머니는 일요일마다 맛있는 수프를 만드십니다.",
        "기차는 정오 전에 역에 도착합니다.",
        "정원의 꽃은 봄비를 맞고 자랍니다.",
        "날씨가 좋은 날에는 해변을 산책합니다.",
    ),
    "hi": (
        "सुबह सूरज शहर पर चमकता है।",
        "बच्चे स्कूल के बाद पार्क में खेलते हैं।",
        "मेरी दादी रविवार को स्वादिष्ट सूप बनाती हैं।",
        "रेलगाड़ी दोपहर से पहले स्टेशन पहुँचती है।",
        "बगीचे के फूल वसंत की बारिश में बढ़ते हैं।",
        "जब मौसम अच्छा होता है तब हम समुद्र तट पर टहलते हैं।",
    ),
    "ar": (
        "تشرق الشمس على المدينة في الصباح.",
        "يلعب الأطفال في الحديقة بعد المدرسة.",
        "تطبخ جدتي حساء لذيذا يوم الأحد.",
        "يصل القطار إلى المحطة قبل الظهر.",
        "تنمو الزهور في البستان مع مطر الربيع.",
        "نمشي على الشاطئ عندما يكون الطقس جميلا.",
    ),
    "fi": (
        "Aurinko paistaa kaupungin yllä aamulla.",
        "Lapset leikkivät puistossa koulun jälkeen.",
        "Isoäitini keittää herkullista keittoa sunnuntaisin.",
        "Juna saapuu asemalle ennen keskipäivää.",
        "Puutarhan kukat kasvavat kevään sateessa.",
        "Kävelemme rannalla kun sää on kaunis.",
    ),
    "pl": (
        "Rano słońce świeci nad miastem.",
        "Dzieci bawią się w parku po szkole.",
        "Moja babcia gotuje pyszną zupę w niedzielę.",
        "Pociąg przyjeżdża na dworzec przed południem.",
        "Kwiaty w ogrodzie rosną w wiosennym deszczu.",
        "Spacerujemy po plaży gdy jest ładna pogoda.",
    ),
    "vi": (
        "Buổi sáng mặt trời chiếu sáng thành phố.",
        "Trẻ em chơi trong công viên sau giờ học.",
        "Bà tôi nấu món súp ngon vào ngày chủ nhật.",
        "Tàu hỏa đến nhà ga trước buổi trưa.",
        "Hoa trong vườn lớn lên nhờ mưa mùa xuân.",
        "Chúng tôi đi dạo trên bãi biển khi trời đẹp.",
    ),
}
# Languages the procedural generator asks for: those with sentences above.
PROCEDURAL_LANGUAGES = tuple(sorted(code for code in SENTENCES if code != "en"))

# A request's names in a sentence of each language (a Latin name inside CJK text stands apart).
NAME_SENTENCES: dict[str, str] = {
    "en": "This is about {name}.",
    "es": "Este texto habla de {name}.",
    "pt": "Este texto fala sobre {name}.",
    "fr": "Ce texte parle de {name}.",
    "de": "Dieser Text handelt von {name}.",
    "it": "Questo testo parla di {name}.",
    "ru": "Этот текст о {name}.",
    "ja": "この文章は {name} についてです。",
    "ko": "이 글은 {name} 에 관한 것입니다.",
    "hi": "यह लेख {name} के बारे में है।",
    "ar": "هذا النص عن {name}.",
    "fi": "Tämä teksti kertoo aiheesta {name}.",
    "pl": "Ten tekst opowiada o {name}.",
    "vi": "Bài viết này nói về {name}.",
}
NO_REQUEST = RequestCheck()  # instructions only
SALUTATION = "Dear friend"
SIGN_OFF = "Best wishes\nSam"

CAPITAL_WORDS = ("NOTE", "THIS", "PLAN", "WELL", "CALM", "OPEN", "SOON", "HERE")
PLACEHOLDERS = ("[name]", "[address]", "[date]", "[phone]", "[place]", "[time]")
POSTSCRIPT_TEXT = "Hope this helps."
TITLE = "A Short Note"

# How much text to try, from least to most: sentence counts and clauses per English sentence.
_COUNTS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 26, 34, 44)
_CLAUSES = (1, 3, 6)


@dataclasses.dataclass(frozen=True)
class Style:
    """How a candidate response is written: language, amount of text and punctuation."""

    language: str
    count: int  # filler sentences
    clauses: int  # bank sentences joined into each filler sentence
    offset: int  # where in the sentence bank to start
    punctuate: bool  # end sentences with full stops (False keeps the sentence count low)


def _unpunctuated(sentence: str) -> str:
    return sentence.rstrip(".。।!?")


def _filler(language: str, count: int, clauses: int, offset: int, punctuate: bool) -> list[str]:
    """``count`` sentences of ``clauses`` bank sentences each (joined by "and" in English)."""
    bank = SENTENCES[language]
    out = []
    for i in range(count):
        parts = [bank[(offset + i * clauses + j) % len(bank)] for j in range(clauses)]
        if clauses > 1:
            rest = [p[0].lower() + p[1:] for p in parts[1:]]
            middle = [_unpunctuated(r) for r in rest[:-1]]
            sentence = " and ".join([_unpunctuated(parts[0]), *middle, rest[-1]])
        else:
            sentence = parts[0]
        out.append(sentence if punctuate else _unpunctuated(sentence))
    return out


def _split(items: list[str], groups: int) -> list[list[str]] | None:
    if len(items) < groups:
        return None
    size, extra = divmod(len(items), groups)
    out, start = [], 0
    for g in range(groups):
        end = start + size + (1 if g < extra else 0)
        out.append(items[start:end])
        start = end
    return out


def _request_sentences(request: RequestCheck, language: str, stop: str) -> list[str]:
    """Sentences that name the request's names and topic terms."""
    sentences = [
        _punctuate(NAME_SENTENCES[language].format(name=name), stop) for name in request.names
    ]
    if language == "en":
        sentences += [
            f"This part is about the {group.split('|')[0]}{stop}"
            for group in request.terms[: request.min_terms]
        ]
    return sentences


def _punctuate(sentence: str, stop: str) -> str:
    return sentence if stop else _unpunctuated(sentence)


def _list_lines(
    spec: Mapping[str, Mapping[str, Any]], request: RequestCheck, language: str, offset: int
) -> list[str]:
    """Bullet lines: as many as the bullet instruction asks, else the request's items."""
    bullets = spec.get("detectable_format:number_bullet_lists")
    count = bullets["num_bullets"] if bullets else request.items
    if request.item_terms:
        term = request.terms[0].split("|")[0]
        return [f"* The {term} matters in way {i + 1}" for i in range(count)]
    return [f"* {item}" for item in _filler(language, count, 1, offset + 7, False)]


def _dialogue_lines(request: RequestCheck) -> list[str]:
    """Two lines for each speaker, naming the first topic term."""
    term = request.terms[0].split("|")[0] if request.terms else "day"
    return [
        f"{speaker}: the {term} looks {mood} today"
        for mood in ("calm", "bright")
        for speaker in request.speakers
    ]


def _extras(spec: Mapping[str, Mapping[str, Any]], language: str, stop: str) -> list[str]:
    """Sentences for keyword, capital-word and placeholder instructions."""
    extras: list[str] = []
    if "keywords:existence" in spec:
        extras += [
            f"We also think about the {kw}{stop}" for kw in spec["keywords:existence"]["keywords"]
        ]
    frequency = spec.get("keywords:frequency")
    if frequency and frequency["relation"] == "at least":
        extras += [f"The {frequency['keyword']} stays in mind{stop}"] * frequency["frequency"]
    capitals = spec.get("change_case:capital_word_frequency")
    if capitals and capitals["capital_relation"] == "at least":
        words = [
            CAPITAL_WORDS[i % len(CAPITAL_WORDS)] for i in range(capitals["capital_frequency"])
        ]
        extras.append(" ".join(words) + stop)
    if "detectable_content:number_placeholders" in spec:
        wanted = spec["detectable_content:number_placeholders"]["num_placeholders"]
        marks = [PLACEHOLDERS[i % len(PLACEHOLDERS)] for i in range(wanted)]
        extras.append(("Please fill in " if language == "en" else "") + " ".join(marks) + stop)
    return extras


def _blocks(
    spec: Mapping[str, Mapping[str, Any]], sentences: list[str], punctuate: bool
) -> tuple[list[str], str] | None:
    """The sentences grouped into paragraphs or sections, and the text that joins them."""
    stop = "." if punctuate else ""
    if "length_constraints:nth_paragraph_first_word" in spec:
        rule = spec["length_constraints:nth_paragraph_first_word"]
        groups = _split(sentences, rule["num_paragraphs"])
        if groups is None:
            return None
        opener = rule["first_word"].capitalize() + f" we continue{stop}"
        groups[rule["nth_paragraph"] - 1].insert(0, opener)
        return [" ".join(g) for g in groups], "\n\n"
    if "detectable_format:multiple_sections" in spec:
        rule = spec["detectable_format:multiple_sections"]
        groups = _split(sentences, rule["num_sections"])
        if groups is None:
            return None
        marker = rule["section_spliter"]
        blocks = [f"{marker} {i}\n" + " ".join(g) for i, g in enumerate(groups, 1)]
        return blocks, "\n\n" if punctuate else "\n"
    if "length_constraints:number_paragraphs" in spec:
        groups = _split(sentences, spec["length_constraints:number_paragraphs"]["num_paragraphs"])
        if groups is None:
            return None
        return [" ".join(g) for g in groups], "\n***\n"
    return [" ".join(sentences)], "\n\n"


def _body(
    spec: Mapping[str, Mapping[str, Any]],
    style: Style,
    with_title: bool,
    request: RequestCheck = NO_REQUEST,
) -> str | None:
    """One response body (no case change, quotes, JSON or second response)."""
    language, offset, punctuate = style.language, style.offset, style.punctuate
    stop = "." if punctuate else ""
    sentences = _filler(language, style.count, style.clauses, offset, punctuate)
    extras = _request_sentences(request, language, stop) + _extras(spec, language, stop)
    sentences = sentences[:1] + extras + sentences[1:]

    highlights = spec.get("detectable_format:number_highlighted_sections")
    if highlights:
        if len(sentences) < highlights["num_highlights"]:
            return None
        for i in range(highlights["num_highlights"]):
            sentences[i] = f"*{sentences[i]}*"

    grouped = _blocks(spec, sentences, punctuate)
    if grouped is None:
        return None
    blocks, joiner = grouped
    lines = _list_lines(spec, request, language, offset) + _dialogue_lines(request)
    if lines:
        blocks[-1] += "\n" + "\n".join(lines)
    if request.letter:
        blocks[0] = f"{SALUTATION}\n{blocks[0]}"
        blocks[-1] += f"\n{SIGN_OFF}"
    if "detectable_content:postscript" in spec:
        marker = spec["detectable_content:postscript"]["postscript_marker"]
        text = POSTSCRIPT_TEXT if punctuate else _unpunctuated(POSTSCRIPT_TEXT)
        blocks[-1] += ("\n\n" if punctuate else "\n") + f"{marker} {text}"
    if "startend:end_checker" in spec:
        blocks[-1] += " " + spec["startend:end_checker"]["end_phrase"]
    text = joiner.join(blocks)
    if with_title and "detectable_format:title" in spec:
        title = TITLE if language == "en" else " ".join(SENTENCES[language][0].split()[:3])
        text = f"<<{_unpunctuated(title)}>>\n{text}"
    return text


def compose(
    spec: Mapping[str, Mapping[str, Any]], style: Style, request: RequestCheck = NO_REQUEST
) -> str | None:
    """A whole candidate response for instructions ``spec`` (id -> arguments) and ``request``."""
    body = _body(spec, style, True, request)
    if body is None:
        return None
    if "detectable_format:constrained_response" in spec:
        return f"My answer is {request.answer or 'yes'}. {body}"
    if "combination:two_responses" in spec:
        second = _body(spec, dataclasses.replace(style, offset=style.offset + 3), False, request)
        if second is None or second.strip() == body.strip():
            return None
        body = f"{body}\n******\n{second}"
    if "combination:repeat_prompt" in spec:
        body = spec["combination:repeat_prompt"]["prompt_to_repeat"] + "\n\n" + body
    if "change_case:english_capital" in spec:
        body = body.upper()
    if "change_case:english_lowercase" in spec:
        body = body.lower()
    if "detectable_format:json_format" in spec:
        body = json.dumps({"response": body}, ensure_ascii=False)
    if "startend:quotation" in spec:
        body = f'"{body}"'
    return body


def reference_response(
    ids: Sequence[str],
    kwargs: Sequence[Mapping[str, Any]],
    accept: Callable[[str], bool],
    *,
    request: RequestCheck = NO_REQUEST,
    offset: int = 0,
) -> str | None:
    """The shortest response found that ``accept`` (the task's verifier) takes, or None."""
    spec = dict(zip(ids, kwargs))
    language = spec.get("language:response_language", {}).get("language", "en")
    clause_options = _CLAUSES if language == "en" else (1,)
    for punctuate in (True, False):
        for clauses in clause_options:
            for count in _COUNTS:
                text = compose(spec, Style(language, count, clauses, offset, punctuate), request)
                if text is not None and accept(text):
                    return text
    return None


# --- known-wrong responses -------------------------------------------------------------------


def _replace_words(text: str, word: str, new: str) -> str:
    return re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", new, text, flags=re.IGNORECASE)


def break_instruction(response: str, instruction_id: str, kwargs: Mapping[str, Any]) -> str:
    """``response`` changed so that it no longer follows ``instruction_id``, by construction."""
    relation = (
        kwargs.get("relation") or kwargs.get("let_relation") or kwargs.get("capital_relation")
    )
    if instruction_id == "keywords:existence":
        return _replace_words(response, kwargs["keywords"][0], "item")
    if instruction_id == "keywords:frequency":
        if relation == "at least":
            return _replace_words(response, kwargs["keyword"], "item")
        return response + f" {kwargs['keyword']}" * kwargs["frequency"]
    if instruction_id == "keywords:forbidden_words":
        return f"{kwargs['forbidden_words'][0]} {response}"
    if instruction_id == "keywords:letter_frequency":
        letter = kwargs["letter"]
        if relation == "at least":
            return re.sub(re.escape(letter), "", response, flags=re.IGNORECASE)
        return response + " " + letter * kwargs["let_frequency"]
    if instruction_id == "language:response_language":
        return " ".join(SENTENCES["en"][:6])
    if instruction_id == "length_constraints:number_sentences":
        if relation == "at least":
            return "Fine"
        return response + " " + " ".join(SENTENCES["en"]) * 2
    if instruction_id == "length_constraints:number_words":
        if relation == "at least":
            return "Fine."
        return response + " word" * (kwargs["num_words"] + 1)
    if instruction_id == "length_constraints:number_paragraphs":
        return response.replace("***", "")
    if instruction_id == "length_constraints:nth_paragraph_first_word":
        return re.sub(r"\n\s*\n", "\n", response)
    if instruction_id == "detectable_content:number_placeholders":
        return response.replace("[", "").replace("]", "")
    if instruction_id == "detectable_content:postscript":
        marker = kwargs["postscript_marker"].rstrip(".")
        return re.sub(re.escape(marker) + r"\.?", "", response, flags=re.IGNORECASE)
    if instruction_id == "detectable_format:number_bullet_lists":
        return response + "\n* one more point"
    if instruction_id == "detectable_format:constrained_response":
        return "I cannot say."
    if instruction_id == "detectable_format:number_highlighted_sections":
        return response.replace("*", "")
    if instruction_id == "detectable_format:multiple_sections":
        return response.replace(kwargs["section_spliter"], "Topic")
    if instruction_id == "detectable_format:json_format":
        return response + " and more"
    if instruction_id == "detectable_format:title":
        return response.replace("<<", "").replace(">>", "")
    if instruction_id == "combination:two_responses":
        return response.replace("******", "")
    if instruction_id == "combination:repeat_prompt":
        return "Sure. " + response
    if instruction_id == "startend:end_checker":
        return response + " Goodbye"
    if instruction_id == "change_case:capital_word_frequency":
        if relation == "at least":
            return re.sub(r"\b[A-Z]{2,}\b", lambda m: m.group(0).lower(), response)
        return response + " NOTE" * kwargs["capital_frequency"]
    if instruction_id == "change_case:english_capital":
        return response + " and more"
    if instruction_id == "change_case:english_lowercase":
        return "X" + response
    if instruction_id == "punctuation:no_comma":
        return response + ", and more"
    if instruction_id == "startend:quotation":
        return response.strip().strip('"')
    raise ValueError(f"no way to break {instruction_id!r}")


def break_request(response: str, request: RequestCheck) -> list[str]:
    """``response`` changed to leave each part of the request undone, one variant per part."""
    try:
        wrapped = json.loads(response)
    except ValueError:
        wrapped = None
    if isinstance(wrapped, dict) and isinstance(wrapped.get("response"), str):
        # A JSON-wrapped reference: break the text inside, keep the wrapping.
        return [
            json.dumps({**wrapped, "response": text}, ensure_ascii=False)
            for text in break_request(wrapped["response"], request)
        ]
    wrong = []
    if request.names or request.min_terms:
        text = response
        for group in (*request.names, *request.terms):
            text = term_pattern(group).sub("item", text)
        wrong.append(text)
    if request.items:
        wrong.append(re.sub(r"(?m)^([ \t>\"]*)(?:[*+\-•]|\d{1,3}[.)])[ \t]+", r"\1", response))
    if request.letter:
        wrong.append(re.sub(r"(?im)^([\W_]*)dear\b[^\n]*", r"\1", response))
    if request.speakers:
        text = response
        for speaker in request.speakers:
            text = re.sub(rf"(?i)\b{re.escape(speaker)}\s*:", f"{speaker} says", text)
        wrong.append(text)
    if request.answer is not None:
        other = "no" if request.answer == "yes" else "yes"
        pattern = rf"(?i)(my\s+answer\s+is\s+){request.answer}\b"
        wrong.append(re.sub(pattern, lambda m: m.group(1) + other, response))
    return wrong
