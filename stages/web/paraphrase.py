"""English sentences: facts in several paraphrases, and generic filler prose around them.

Each relation has at least three single-fact templates, and some pairs of relations have combined
templates ("X was born in Y in 1923."), so a fact reads differently from page to page. Every
template prints the fact's object verbatim: the ground-truth check (object string in main text)
and closed-book QA both rely on it. Filler sentences make pages long enough for quality filters
and never state anything that could contradict a fact (no years, places or numbers of record).
"""

from __future__ import annotations

import random

from stages.web.lexicon import a_or_an
from stages.web.world import Entity, World

# kind -> list of (relations expressed, templates). Placeholders: {S} the subject at the start of
# a sentence, {name} the subject elsewhere, {name_pos} its possessive (all three the full name in a
# fact sentence, see Voice; in filler also "she", "the company", a short name), {proper} a name
# even in filler, {pron}/{poss} pronouns, and one per relation ({born_in}, {a_occupation} =
# "an engineer", {a_industry} = "a banking").
FACT_TEMPLATES: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "person": [
        (
            ("born_in", "birth_year"),
            (
                "{S} was born in {born_in} in {birth_year}.",
                "{name} was born in {birth_year} in the city of {born_in}.",
                "Born in {born_in} in {birth_year}, {name} spent {poss} early years there.",
            ),
        ),
        (
            ("occupation", "works_for"),
            ("{S} is {a_occupation} at {works_for}.", "{name} works as {a_occupation} for {works_for}."),
        ),
        (
            ("born_in",),
            (
                "{S} was born in {born_in}.",
                "{born_in} is the birthplace of {name}.",
                "{name} is a native of {born_in}, where {pron} was born.",
                "{S} grew up in {born_in}, the city of {poss} birth.",
            ),
        ),
        (
            ("birth_year",),
            (
                "{S} was born in {birth_year}.",
                "{name} was born in the year {birth_year}.",
                "The records give {birth_year} as the year of {name_pos} birth.",
            ),
        ),
        (
            ("occupation",),
            (
                "{S} is known as {a_occupation}.",
                "By profession, {name} is {a_occupation}.",
                "{S} built a career as {a_occupation}.",
                "{name} is best known for {poss} work as {a_occupation}.",
            ),
        ),
        (
            ("works_for",),
            (
                "{S} works for {works_for}.",
                "{name} is employed by {works_for}.",
                "For many years {name} has worked at {works_for}.",
                "{S} joined {works_for} and has remained with the firm ever since.",
            ),
        ),
        (
            ("spouse",),
            (
                "{S} is married to {spouse}.",
                "{name_pos} spouse is {spouse}.",
                "{name} and {spouse} are married.",
                "{S} married {spouse}, and the couple have shared a home ever since.",
            ),
        ),
    ],
    "city": [
        (
            ("in_country", "population"),
            (
                "{S} is a city in {in_country} with a population of {population}.",
                "{name}, a city in {in_country}, has {population} inhabitants.",
            ),
        ),
        (("founded_year", "in_country"), ("Founded in {founded_year}, {name} is one of the cities of {in_country}.",)),
        (
            ("in_country",),
            (
                "{S} is a city in {in_country}.",
                "{name} lies in {in_country}.",
                "{S} is located in the country of {in_country}.",
                "{in_country} counts {name} among its cities.",
            ),
        ),
        (
            ("founded_year",),
            (
                "{S} was founded in {founded_year}.",
                "The town of {name} dates back to {founded_year}, when it was founded.",
                "{name} was established in {founded_year}.",
            ),
        ),
        (
            ("population",),
            (
                "{S} has a population of {population}.",
                "The population of {name} is {population}.",
                "{name} is home to {population} residents.",
            ),
        ),
        (
            ("river",),
            (
                "{S} lies on the banks of the {river}.",
                "The {river} flows through {name}.",
                "{name} was built along the {river}.",
            ),
        ),
        (
            ("landmark",),
            (
                "{S} is famous for the {landmark}.",
                "The best-known landmark of {name} is the {landmark}.",
                "Visitors to {name} often come to see the {landmark}.",
            ),
        ),
    ],
    "country": [
        (
            ("capital",),
            (
                "The capital of {name} is {capital}.",
                "{capital} is the capital of {name}.",
                "{S} has its capital at {capital}.",
                "The seat of government of {name} is {capital}, its capital city.",
            ),
        ),
        (
            ("official_language",),
            (
                "The official language of {name} is {official_language}.",
                "{official_language} is the official language of {name}.",
                "Most people in {name} speak {official_language}, the official language.",
            ),
        ),
        (
            ("currency",),
            (
                "The currency of {name} is the {currency}.",
                "{S} uses the {currency} as its currency.",
                "Prices in {name} are given in the {currency}, the national currency.",
            ),
        ),
        (
            ("population",),
            (
                "{S} has a population of {population}.",
                "The population of {name} is {population}.",
                "{name} is home to {population} people.",
            ),
        ),
    ],
    "organisation": [
        (
            ("founder", "founded_year"),
            ("{S} was founded by {founder} in {founded_year}.", "In {founded_year}, {founder} founded {name}."),
        ),
        (
            ("industry",),
            (
                "{S} is {a_industry} company.",
                "{name} operates in the {industry} industry.",
                "The main business of {name} is {industry}.",
            ),
        ),
        (
            ("founded_year",),
            (
                "{S} was founded in {founded_year}.",
                "{name} has been in business since {founded_year}, the year it was founded.",
                "The company {name} was established in {founded_year}.",
            ),
        ),
        (
            ("founder",),
            (
                "{S} was founded by {founder}.",
                "{founder} founded {name}.",
                "{name} owes its existence to its founder, {founder}.",
            ),
        ),
        (
            ("headquartered_in",),
            (
                "{S} is headquartered in {headquartered_in}.",
                "The headquarters of {name} are in {headquartered_in}.",
                "{name} has its head office in {headquartered_in}.",
            ),
        ),
        (
            ("employees",),
            (
                "{S} employs {employees} people.",
                "{name} has {employees} employees.",
                "The workforce of {name} numbers {employees}.",
            ),
        ),
    ],
}

# Filler about the subject, for any kind of entity.
GENERIC_FILLER = (
    "Much of what is known about {name} comes from local archives and the recollections of residents.",
    "Several books and essays have been written about {name}, and more are said to be in preparation.",
    "Interest in {name} has grown steadily in recent years, both at home and abroad.",
    "Opinions about {name} differ, but few people who know the subject would call it unimportant.",
    "The story of {name} is often told in schools as an example of patience and steady work.",
    "Photographs and letters connected with {name} are kept in a small public collection.",
    "Over the years the name {proper} has become familiar to many people who never met the subject.",
    "Like many subjects of this kind, {name} is easier to appreciate with a little background.",
    "Several of the claims repeated about {name} in popular accounts are not supported by the sources.",
    "A number of exhibitions have looked at {name} from different points of view.",
    "Local newspapers have covered {name} on many occasions, usually in {a_adj} tone.",
)
# Filler about the page itself: fits a whole article, not a note on one entry of a list.
PAGE_FILLER = (
    "Readers who want to learn more will find a short reading list at the end of this page.",
    "This article is a summary; some details are still debated by those who study the subject.",
    "Accounts from the period describe {a_adj} atmosphere and a sense of new beginnings.",
    "The sections below describe the most important points in more detail.",
    "Visitors and researchers regularly ask about {name}, which is why this page was written.",
    "The available sources agree on the main facts, even if they disagree on smaller details.",
    "Anyone who spends a little time with the subject soon understands why it attracts attention.",
)

KIND_FILLER = {
    "person": (
        "{S} is remembered by colleagues as {adj} and generous with {poss} time.",
        "Friends describe {name} as a careful listener who rarely raised {poss} voice.",
        "Early on, {name} showed a talent for explaining difficult ideas in plain words.",
        "{S} has given talks to students and kept up a long correspondence with former teachers.",
        "In interviews, {name} has said that curiosity mattered more than talent.",
        "{S} spends much of {poss} free time walking, reading and writing letters.",
        "Colleagues often mention the {adj} way in which {name} approached new problems.",
        "{name} has received letters of thanks from people who were helped by {poss} work.",
        "Outside work, {name} has supported several local charities and reading clubs.",
        "{S} has been described in the press as one of the more {adj} figures of {poss} generation.",
        "Those who worked with {name} recall long days and a strong sense of humour.",
        "{name} once said that the best advice {pron} ever received was to finish what one starts.",
        "Over the course of {poss} career, {name} trained a number of younger colleagues.",
        "{S} is said to keep a notebook with ideas, sketches and lists of books to read.",
        "Family members remember {name} as someone who always had time for a conversation.",
        "{name} has never sought publicity and rarely gives interviews.",
    ),
    "city": (
        "{S} has {a_adj} historic centre with narrow streets, small squares and many cafes.",
        "The local market in {name} is busy on most mornings and sells fruit, bread and fish.",
        "Public transport in {name} consists mainly of buses and a small tram network.",
        "Many residents of {name} work in trade, services and small workshops.",
        "The climate around {name} is mild, with warm summers and wet autumns.",
        "Every summer the people of {name} hold a festival with music, food and dancing.",
        "The surrounding countryside is known for orchards, vineyards and quiet villages.",
        "{name} has several schools, a public library and a small university college.",
        "Walking tours of {name} start near the central square and last about two hours.",
        "The streets of {name} are lined with houses painted in {adj} colours.",
        "Local cooks in {name} are proud of a fish stew that is served in most restaurants.",
        "Parks and gardens cover a large part of the centre of {name}.",
        "Visitors usually arrive in {name} by train, and the station is a short walk from the centre.",
        "The people of {name} are known for their hospitality and their love of long lunches.",
        "{S} has grown slowly, and much of its historic character has been preserved.",
        "Several bridges connect the older districts of {name} with the newer suburbs.",
    ),
    "country": (
        "{S} has a varied landscape of hills, river valleys and farmland.",
        "The people of {name} are known for their music, their markets and their long festivals.",
        "Agriculture, trade and crafts have shaped the economy of {name} for centuries.",
        "{S} is divided into several provinces, each with its own traditions.",
        "Travellers often describe {name} as {adj} and welcoming.",
        "The railway network of {name} links the capital with most larger towns.",
        "Schools in {name} teach history, languages and mathematics from an early age.",
        "The cuisine of {name} relies on bread, cheese, river fish and seasonal vegetables.",
        "Many families in {name} keep gardens, and flowers are part of everyday life.",
        "The national holiday of {name} is celebrated with parades and open-air concerts.",
        "Writers from {name} have produced {a_adj} literature of poems, novels and plays.",
        "{S} maintains friendly relations with its neighbours and trades with all of them.",
    ),
    "organisation": (
        "{S} has a reputation for reliable work and {adj} customer service.",
        "The company trains its own apprentices and runs courses for new staff.",
        "{name} publishes a short annual report that describes its work and plans.",
        "Over the decades {name} has survived several difficult periods.",
        "Customers of {name} include households, small businesses and public bodies.",
        "The management of {name} has always favoured slow and careful growth.",
        "{name} supports a number of local sports clubs and cultural events.",
        "Staff at {name} describe the working atmosphere as {adj} and friendly.",
        "The company has kept much of its original character while modernising its methods.",
        "{S} has been praised in the trade press for the quality of its products.",
        "{name} keeps a small archive of documents, photographs and early products.",
        "Former employees of {name} have gone on to start businesses of their own.",
        "The offices of {name} are open to visitors on one weekend each year.",
        "{name} invests a part of its income in research and new equipment.",
    ),
}

ADJECTIVES = (
    "lively",
    "quiet",
    "remarkable",
    "thoughtful",
    "warm",
    "unusual",
    "modest",
    "careful",
    "cheerful",
    "distinctive",
    "calm",
    "energetic",
    "steady",
    "curious",
    "gentle",
)

PRONOUNS = {"f": ("she", "her"), "m": ("he", "his")}
# What prose calls a place or company it has already named, besides its (short) name.
NOMINALS = {"city": ("the city", "the town"), "country": ("the country",), "organisation": ("the company", "the firm")}
# A run of this many short references ends with the full name again, to re-anchor the reader.
REANCHOR_AFTER = 4
PERSON_PRONOUN_SUBJECT = 0.5  # share of a person's referring subjects that are "she"/"he"


def possessive(name: str) -> str:
    return name + ("'" if name.endswith("s") else "'s")


class Voice:
    """Refers to one entity in running text the way writers do.

    A sentence that states a fact names its subject in full (`stating`), so that the sentence
    alone says whom it is about: later stages turn such sentences into closed-book questions.
    Every other sentence (`referring`) uses what follows a first mention in real prose: "she",
    "the company", the family name or the distinctive part of a company's name, and only now and
    then the full name again. A multi-word name repeated in every sentence is what Gopher's top
    n-gram rules catch: "Hofask Weaving Mills" fifteen times covers a fifth of a page's letters.
    """

    def __init__(self, entity: Entity, rng: random.Random):
        self.entity = entity
        self.rng = rng
        self.mentioned = False
        self.references = 0  # short references since the full name was last used

    def stating(self) -> dict[str, str]:
        """Slots for a sentence that states a fact: {S} and {name} are the full name."""
        self.mentioned = True
        self.references = 0
        return self._slots(self.entity.name, self.entity.name)

    def referring(self) -> dict[str, str]:
        """Slots for any other sentence: a short reference, or the full name the first time."""
        if not self.mentioned or self.references >= REANCHOR_AFTER:
            return self.stating()
        self.references += 1
        return self._slots(self._reference(subject=True), self._reference(subject=False))

    def _reference(self, subject: bool) -> str:
        e = self.entity
        if e.kind == "person":
            pronoun = subject and self.rng.random() < PERSON_PRONOUN_SUBJECT
            return PRONOUNS[e.info["gender"]][0].capitalize() if pronoun else e.short
        # Places and companies: the short name or "the city", about half and half.
        return e.short if self.rng.random() < 0.5 else self.rng.choice(NOMINALS[e.kind])

    def _slots(self, subject: str, name: str) -> dict[str, str]:
        e = self.entity
        pron, poss = PRONOUNS[e.info["gender"]] if e.kind == "person" else ("it", "its")
        adj = self.rng.choice(ADJECTIVES)
        # {proper}: where only a name reads well ("the name {proper}"), never "the company".
        proper = name if name[:1].isupper() else e.short
        return {
            "S": subject,
            "name": name,
            "name_pos": possessive(name),
            "proper": proper,
            "pron": pron,
            "poss": poss,
            "adj": adj,
            "a_adj": a_or_an(adj),
        }


def fact_values(entity: Entity) -> dict[str, str]:
    values = dict(entity.attrs)
    if "occupation" in values:
        values["a_occupation"] = a_or_an(values["occupation"])
    if "industry" in values:
        values["a_industry"] = a_or_an(values["industry"])
    return values


def fact_sentences(voice: Voice, relations: list[str], rng: random.Random, combine: float = 0.5) -> list[str]:
    """One sentence per relation or pair of relations, in the given order."""
    entity = voice.entity
    values = fact_values(entity)
    remaining = [r for r in relations if r in entity.attrs]
    sentences = []
    options = FACT_TEMPLATES[entity.kind]
    while remaining:
        head = remaining[0]
        combos = [
            (rels, tpls)
            for rels, tpls in options
            if len(rels) > 1 and head in rels and all(r in remaining for r in rels)
        ]
        if combos and rng.random() < combine:
            rels, templates = rng.choice(combos)
        else:
            rels, templates = next((rels, tpls) for rels, tpls in options if rels == (head,))
        sentence = rng.choice(templates).format(**voice.stating(), **values)
        sentences.append(sentence[0].upper() + sentence[1:])
        remaining = [r for r in remaining if r not in rels]
    return sentences


class Filler:
    """Draws filler sentences about one kind of entity without repeating any on the same page.

    `draw` and `say` are apart so that a page can place its filler first and word it in reading
    order: the voice then knows how long ago the reader last saw the full name. A list page
    shares one Filler between its entries (`about_page=False`: no sentences about "this page"),
    each entry speaking with its own voice."""

    def __init__(self, kind: str, rng: random.Random, about_page: bool = True):
        pool = list(KIND_FILLER[kind]) + list(GENERIC_FILLER) + (list(PAGE_FILLER) if about_page else [])
        rng.shuffle(pool)
        self.pool = pool

    def draw(self) -> str | None:
        """The next unused template, or None when all are used."""
        return self.pool.pop() if self.pool else None

    @staticmethod
    def say(template: str, voice: Voice) -> str:
        sentence = template.format(**voice.referring())
        return sentence[0].upper() + sentence[1:]

    def take(self, voice: Voice) -> str | None:
        template = self.draw()
        return None if template is None else self.say(template, voice)


# The relation that `describe` states, so that an article's lead and its sections do not both say it.
DESCRIBED = {"person": "occupation", "city": "in_country", "organisation": "industry"}


def describe(entity: Entity, world: World) -> str:
    """A short definition for a lead sentence or a link title ('a Veskarian engineer')."""
    if entity.kind == "person":
        city = world.entities[entity.refs["born_in"]]
        country = world.entities[city.refs["in_country"]]
        return a_or_an(f"{country.info['adjective']} {entity.attrs['occupation']}")
    if entity.kind == "city":
        return f"a city in {entity.attrs['in_country']}"
    if entity.kind == "country":
        return "a country of the continent"
    return f"{a_or_an(entity.attrs['industry'])} company"
