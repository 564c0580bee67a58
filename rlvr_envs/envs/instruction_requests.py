"""Base requests of ``rlvr/InstructionFollowing-v1``, each with a check of its own content.

A base request is what the user asks for ("List three benefits of walking..."); the generator adds
IFEval-style instructions about the form. Each request carries a
:class:`~rlvr_envs.verifiers.ifeval.RequestCheck`, so a response that follows the form but does
not do the request (an echo, ``{}``, "0", prose about something else) earns nothing. The request
texts name what the check looks for (the key terms, the number of list items, a letter's frame),
so a response that does what is asked passes without guessing.

Names (``names``) are proper nouns that stay the same in any language: only requests with names
are given a ``language:response_language`` instruction, and then their check keeps the names and
a minimum length in letters, not the English topic terms.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..verifiers.ifeval import RequestCheck


@dataclass(frozen=True)
class BaseRequest:
    """A request text, what kind of text it asks for, and the check of its content."""

    text: str
    kind: str  # explain, story, list, letter, dialogue, named, yes/no
    check: RequestCheck

    @property
    def any_language(self) -> bool:
        """True when the request can be answered in another language (its check has names)."""
        return bool(self.check.names)


def _explain(text: str, terms: tuple[str, ...], min_terms: int, min_words: int) -> BaseRequest:
    return BaseRequest(
        text, "explain", RequestCheck(terms=terms, min_terms=min_terms, min_words=min_words)
    )


def _story(text: str, terms: tuple[str, ...], min_terms: int, min_words: int) -> BaseRequest:
    return BaseRequest(
        text, "story", RequestCheck(terms=terms, min_terms=min_terms, min_words=min_words)
    )


def _list(text: str, terms: tuple[str, ...], items: int = 3) -> BaseRequest:
    check = RequestCheck(terms=terms, min_terms=1, min_words=15, items=items, item_terms=True)
    return BaseRequest(text, "list", check)


def _letter(text: str, terms: tuple[str, ...], min_terms: int = 2) -> BaseRequest:
    check = RequestCheck(terms=terms, min_terms=min_terms, min_words=30, letter=True)
    return BaseRequest(text, "letter", check)


def _named(text: str, names: tuple[str, ...], terms: tuple[str, ...]) -> BaseRequest:
    check = RequestCheck(names=names, terms=terms, min_terms=1, min_words=40)
    return BaseRequest(text, "named", check)


def _yes_no(text: str, answer: str, terms: tuple[str, ...]) -> BaseRequest:
    check = RequestCheck(terms=terms, min_terms=1, min_words=8, answer=answer)
    return BaseRequest(f"{text} Give a one-sentence reason after your answer.", "yes/no", check)


# The first alternative of each term group is the one reference responses use: it avoids the
# rare letters q, z, x, j and k where the topic allows, so letter-frequency limits can hold.
BASE_REQUESTS: tuple[BaseRequest, ...] = (
    _explain(
        "Describe how a bicycle works to a ten-year-old: mention the pedals, the chain and the "
        "wheels.",
        ("pedal|pedals", "chain|chains", "wheel|wheels"),
        3,
        40,
    ),
    _explain(
        "Explain why the sky looks blue during the day and red at sunset, in terms of sunlight "
        "and the air.",
        ("sunlight|light", "air|atmosphere", "blue", "red|orange"),
        3,
        40,
    ),
    _explain(
        "Explain the difference between weather and climate.",
        ("weather", "climate", "average|long|years|decades", "day|daily|hours|week"),
        3,
        40,
    ),
    _explain(
        "Describe the history of the printing press in plain terms: who built it and what it "
        "changed for books.",
        ("printing|print|printed|printer", "press", "book|books", "Gutenberg"),
        2,
        40,
    ),
    _explain(
        "Explain how a rainbow forms after rain.",
        (
            "rainbow|rainbows",
            "light|sunlight",
            "drop|drops|droplet|droplets|water",
            "color|colors|colour|colours",
        ),
        3,
        40,
    ),
    _explain(
        "Explain why sleep matters for memory.",
        ("sleep|sleeping|asleep", "memory|memories|remember", "brain"),
        2,
        40,
    ),
    _explain(
        "Give a beginner's introduction to saving money: what to set aside and where to put it.",
        ("money", "save|saving|savings", "budget|bank|account|spend|spending"),
        2,
        40,
    ),
    _explain(
        "Explain how volcanoes form: talk about magma and the plates of the earth.",
        ("volcano|volcanoes|volcanic", "magma|lava", "plate|plates|crust|earth"),
        2,
        40,
    ),
    _explain(
        "Explain what a budget is and why families use one.",
        ("budget|budgets", "family|families", "money|spend|spending|income|bills"),
        2,
        40,
    ),
    _explain(
        "Describe how bread rises when it is baked: mention the yeast and the dough.",
        ("bread|dough", "yeast", "rise|rises|rising|gas|bubble|bubbles"),
        2,
        30,
    ),
    _story(
        "Write a short story about a lighthouse keeper who finds a message in a bottle.",
        ("lighthouse", "message|note", "bottle", "sea|ocean|waves|shore"),
        3,
        60,
    ),
    _story(
        "Write a poem about the first snowfall of winter.",
        ("snow|snowfall|snowflake|snowflakes", "winter", "cold|white|frost|ice"),
        2,
        30,
    ),
    _story(
        "Write a review of an imaginary restaurant that serves only soup.",
        ("soup|soups", "restaurant", "bowl|taste|flavor|flavour|menu|served"),
        2,
        40,
    ),
    _story(
        "Write a speech for the opening of a small town library.",
        ("library|libraries", "book|books|reading|read", "town|community|neighbors|neighbours"),
        2,
        50,
    ),
    _story(
        "Describe a typical day in the life of a beekeeper: the bees, the hives and the honey.",
        ("bee|bees", "hive|hives", "honey"),
        2,
        40,
    ),
    _story(
        "Write a blog post about learning to cook as an adult.",
        ("cooking|cook|cooked", "recipe|recipes|meal|meals|dinner", "adult|adults|grown"),
        2,
        50,
    ),
    _story(
        "Write an advertisement for a bakery that opens at midnight.",
        ("bakery|baker|bake|baked", "midnight|night", "bread|pastry|pastries|cake|cakes"),
        2,
        30,
    ),
    _story(
        "Describe a walk through a busy market in the morning.",
        ("market|markets", "morning", "stall|stalls|vendor|vendors|fruit|crowd|crowds"),
        2,
        40,
    ),
    _story(
        "Describe the perfect weekend for someone who loves the outdoors.",
        ("weekend|saturday|sunday", "outdoors|outside|trail|trails|camp|camping|hike|hiking"),
        2,
        40,
    ),
    _story(
        "Write a news report about a town that voted to ban cars on Sundays.",
        ("town", "car|cars", "sunday|sundays", "vote|voted|ban|banned"),
        3,
        50,
    ),
    _story(
        "Write a pitch for a mobile app that helps people swap books.",
        ("app|apps|application", "book|books", "swap|swapping|trade|exchange"),
        2,
        40,
    ),
    _story(
        "Write a motivational message for runners before a marathon.",
        ("run|runner|runners|running", "marathon|race|finish|mile|miles"),
        2,
        30,
    ),
    _story(
        "Write a product description for a solar-powered backpack.",
        ("solar|sun|sunlight", "bag|backpack", "charge|charging|battery|power|phone"),
        2,
        30,
    ),
    _list(
        "List three benefits of regular walking as a markdown list, one benefit per item, each "
        "item mentioning walking.",
        ("walking|walk|walks|walked",),
    ),
    _list(
        "List three tips for studying before an exam, one tip per list item, each mentioning "
        "study or the exam.",
        ("study|studying|studies", "exam|exams|test|tests"),
    ),
    _list(
        "Give three tips, as a list, for caring for a houseplant that gets little light; mention "
        "the plant in each tip.",
        ("plant|plants|houseplant|houseplants",),
    ),
    _list(
        "List three steps to prepare for a job interview, one step per item, each mentioning the "
        "interview.",
        ("interview|interviews|interviewer",),
    ),
    _list(
        "Give three pieces of advice, as a list, to someone starting their first vegetable "
        "garden; mention the garden or the vegetables in each.",
        ("vegetable|vegetables", "garden|gardens|gardening"),
    ),
    _list(
        "List three rules of a board game you invent, one rule per item, each mentioning a "
        "player or the board.",
        ("player|players", "board"),
    ),
    _list(
        "Write instructions for building a bird feeder as a list of at least three steps, each "
        "mentioning the feeder, the wood or the seed.",
        ("feeder|feeders", "wood|wooden", "seed|seeds"),
    ),
    _letter(
        "Write a letter to a neighbour asking them to water your plants while you travel.",
        ("plant|plants", "water|watering", "travel|trip|away|vacation|holiday"),
    ),
    _letter(
        "Write a thank-you note to a teacher who made a difference.",
        ("teacher|teaching|taught|class", "thank|thanks|grateful|gratitude"),
    ),
    _letter(
        "Write an email inviting colleagues to a team picnic.",
        ("picnic|picnics", "team", "food|lunch|park|bring|saturday|sunday"),
    ),
    _letter(
        "Write a letter to a landlord about a broken heater.",
        ("heater|heating|heat", "broken|repair|fix|fixed|working", "apartment|flat|home|unit"),
    ),
    BaseRequest(
        "Write a dialogue between a cat and a robot vacuum, each line starting with Cat: or "
        "Robot:.",
        "dialogue",
        RequestCheck(
            terms=("floor|floors|dust|clean|cleaning", "cat|robot|vacuum"),
            min_terms=1,
            min_words=30,
            speakers=("Cat", "Robot"),
        ),
    ),
    _named(
        "Write a travel guide entry for a fictional island called Marrow Cay.",
        ("Marrow Cay",),
        ("island|islands", "visit|visitors|travel|beach|beaches|harbor|boat"),
    ),
    _named(
        "Write a short biography of an imaginary inventor named Ada Finch.",
        ("Ada Finch",),
        ("invent|invented|inventor|invention|inventions", "born|life|years|work|worked"),
    ),
    _named(
        "Describe the yearly spring festival in the mountain town of Velloria.",
        ("Velloria",),
        ("festival|festivals|celebration", "spring|town|mountain|mountains"),
    ),
    _named(
        "Write a short story about a sailor named Tomas Brell who discovers a hidden cove.",
        ("Tomas Brell",),
        ("sailor|sail|sailed|sailing|ship|boat|sea", "cove|hidden|secret"),
    ),
    _named(
        "Introduce a fictional band called The Paper Owls and their first album.",
        ("Paper Owls",),
        ("band|bands", "album|song|songs|music"),
    ),
)

# Factual yes/no questions for ``detectable_format:constrained_response``: the option chosen must
# be the true one, and a reason must follow.
YES_NO_QUESTIONS: tuple[BaseRequest, ...] = (
    _yes_no("Is the Pacific the largest ocean on Earth?", "yes", ("pacific", "ocean|oceans")),
    _yes_no("Can cats see in complete darkness?", "no", ("cat|cats", "dark|darkness|light")),
    _yes_no("Is the Sun a star?", "yes", ("sun", "star|stars")),
    _yes_no("Do spiders have six legs?", "no", ("spider|spiders", "leg|legs|eight")),
    _yes_no("Is water made of hydrogen and oxygen?", "yes", ("water", "hydrogen|oxygen")),
    _yes_no(
        "Is Mount Everest in South America?", "no", ("everest", "asia|nepal|himalaya|mountain")
    ),
    _yes_no(
        "Is it possible to grow tomatoes indoors?",
        "yes",
        ("tomato|tomatoes", "indoors|pot|pots|light"),
    ),
    _yes_no("Is the Moon larger than the Earth?", "no", ("moon", "earth|smaller|size")),
)


def first_terms(check: RequestCheck) -> list[str]:
    """The term each group is written with in reference responses (its first alternative)."""
    return [group.split("|")[0] for group in check.terms]
