"""English page styles on the wiki and answers hosts: encyclopedia articles, list pages with HTML
tables, FAQ pages, and the (robots-disallowed) edit form of an article."""

from __future__ import annotations

import random
from dataclasses import dataclass

from stages.web.blocks import QA, Heading, Link, Para, Preformatted, Table, linkify, para
from stages.web.page import Hosts, Page
from stages.web.paraphrase import DESCRIBED, Filler, Voice, describe, fact_sentences
from stages.web.world import RELATIONS, Entity, World

# kind -> sections: (heading variants, relations told there). A section without facts is kept
# only when filler lands in it.
SECTIONS = {
    "person": (
        (("Early life", "Early years", "Background"), ("born_in", "birth_year")),
        (("Career", "Work", "Professional life"), ("occupation", "works_for")),
        (("Personal life", "Family"), ("spouse",)),
        (("Legacy", "Reputation", "Character"), ()),
    ),
    "city": (
        (("Geography", "Location"), ("in_country", "river")),
        (("History", "Origins"), ("founded_year",)),
        (("Population", "Demographics"), ("population",)),
        (("Landmarks", "Sights", "Culture"), ("landmark",)),
    ),
    "country": (
        (("Overview", "Government"), ("capital", "official_language")),
        (("Economy", "Money and trade"), ("currency",)),
        (("People", "Population"), ("population",)),
        (("Culture", "Society"), ()),
    ),
    "organisation": (
        (("History", "Origins"), ("founder", "founded_year")),
        (("Operations", "Business"), ("industry", "headquartered_in")),
        (("Workforce", "Staff"), ("employees",)),
        (("Reputation", "Community"), ()),
    ),
}


def word_count(sentences: list[str]) -> int:
    return sum(len(s.split()) for s in sentences)


def ref_links(entity: Entity, world: World, hosts: Hosts) -> dict[str, str]:
    """Names in an entity's facts that have their own article -> that article's URL."""
    return {world.entities[oid].name: hosts.article_url(world.entities[oid].slug) for oid in entity.refs.values()}


@dataclass(frozen=True)
class _Filler:
    """A filler template placed in an article, worded once every sentence has its place."""

    template: str


def article(entity: Entity, world: World, hosts: Hosts, rng: random.Random, target_words: int) -> Page:
    voice = Voice(entity, rng)
    filler = Filler(entity.kind, rng)
    # The lead defines the subject and so states one fact (DESCRIBED); the sections tell the rest.
    lead: list[str | _Filler] = [f"{entity.name} is {describe(entity, world)}."]
    voice.mentioned = True
    told_in_lead = DESCRIBED.get(entity.kind)
    sections = []
    for headings, relations in SECTIONS[entity.kind]:
        relations = [r for r in relations if r != told_in_lead]
        sections.append((rng.choice(headings), fact_sentences(voice, relations, rng)))
    # Filler goes round the sections until the page reaches its drawn length.
    slots = [lead] + [body for _, body in sections]
    i = 0
    while word_count([s if isinstance(s, str) else s.template for body in slots for s in body]) < target_words:
        template = filler.draw()
        if template is None:
            break
        body = slots[i % len(slots)]
        body.insert(rng.randint(1, len(body)) if body else 0, _Filler(template))
        i += 1
    # Worded in reading order: a fact sentence names the subject in full, the filler after it
    # refers back ("the company", "she") until a long run of references re-anchors the name.
    for body in slots:
        for j, sentence in enumerate(body):
            if isinstance(sentence, _Filler):
                body[j] = filler.say(sentence.template, voice)
            else:
                voice.stating()
    links = ref_links(entity, world, hosts)
    blocks = [para(*linkify(" ".join(lead), links))]
    for heading, body in sections:
        if body:
            blocks += [Heading(heading), para(*linkify(" ".join(body), links))]
    return Page(
        host=hosts.wiki,
        path=f"/wiki/{entity.slug}.html",
        kind="article",
        style=f"encyclopedia_{entity.kind}",
        lang="en",
        title=entity.name,
        blocks=blocks,
        entity_ids=[entity.id, *entity.refs.values()],
        section=_section(entity),
    )


def _section(entity: Entity) -> str:
    return {"person": "people", "city": "places", "country": "places", "organisation": "organisations"}[entity.kind]


def edit_form(source: Page) -> Page:
    """The wiki's edit page for an article: robots-disallowed, but on disk and linked."""
    slug = source.path.rsplit("/", 1)[1]
    blocks = [
        Para(
            (
                f"You are editing the page {source.title}. Changes are reviewed by an editor "
                "before they appear on the public site. Please cite your sources.",
            )
        ),
        Preformatted(source.main_text),
    ]
    return Page(
        host=source.host,
        path=f"/edit/{slug}",
        kind="article",
        style="edit_form",
        lang="en",
        title=f"Editing {source.title}",
        blocks=blocks,
        entity_ids=list(source.entity_ids),
        disallowed=True,
    )


# kind -> (title template, column headers, the relations in the columns, the relation that
# groups the page's members: stated in its title, so not repeated for every entry). Founding
# years are told in the entry notes only: every figure column costs prose (see _list_page).
LIST_STYLES = {
    "city": (
        "Cities of {group}",
        ("City", "Population", "River", "Landmark"),
        ("population", "river", "landmark"),
        "in_country",
    ),
    "organisation": (
        "{Group} companies",
        ("Company", "Founder", "Headquarters", "Employees"),
        ("founder", "headquartered_in", "employees"),
        "industry",
    ),
    "person": (
        "List of {group}s",
        ("Name", "Born", "Birthplace", "Employer"),
        ("birth_year", "born_in", "works_for"),
        "occupation",
    ),
}
# Long lists are split into parts, as wikis split them: each entry's note takes one filler
# sentence from the part's pool, which holds 25 or more per kind, and a sentence repeated on a page
# is what Gopher's duplicate n-gram rules catch.
LIST_ROWS_PER_PAGE = 20
# kind -> how the intro names what the list holds.
LIST_WHAT = {"city": "cities of {group}", "organisation": "companies in the {group} industry", "person": "{group}s"}
LIST_INTROS = (
    "The table below lists {n} entries for {what}, with the most important details of each.",
    "This page collects {n} entries for {what} that have their own articles on this wiki.",
    "Here you will find {n} entries for {what}, arranged in a sortable table.",
)
# kind -> sentences that sum a page's table up in words; {first} and {last} are the members at
# either end of the ranking in LIST_RANKS, with their values.
LIST_SUMMARIES = {
    "city": (
        "The largest of them is {first}, with a population of {first_value}, and the smallest is "
        "{last}, with {last_value} inhabitants.",
        "By population, {first} leads the table with {first_value} residents, while {last} is home "
        "to only {last_value} people.",
    ),
    "organisation": (
        "The largest employer among them is {first}, with {first_value} employees; the "
        "smallest is {last}, which employs {last_value} people.",
        "With {first_value} employees, {first} has the biggest workforce in the table, and "
        "{last}, with {last_value}, the smallest.",
    ),
    "person": (
        "The oldest of them is {first}, who was born in {first_value}, and the youngest is "
        "{last}, who was born in {last_value}.",
        "The entries span several generations, from {first}, born in {first_value}, to {last}, born in {last_value}.",
    ),
}
# kind -> (relation to rank by, largest first?)
LIST_RANKS = {"city": ("population", True), "organisation": ("employees", True), "person": ("birth_year", False)}
ENTRY_HEADINGS = ("Notes on the entries", "The entries in brief", "About the entries")
LIST_OUTROS = (
    "The list is maintained by volunteers and may be incomplete. Corrections are always welcome.",
    "Entries are added when a new article is written. Each name links to the full article.",
    "The figures in the table come from the individual articles, which also give their sources.",
)


def list_pages(kind: str, group: str, members: list[Entity], hosts: Hosts, rng: random.Random) -> list[Page]:
    """The list of one group (the cities of a country, ...), in parts of at most LIST_ROWS_PER_PAGE."""
    title_tpl = LIST_STYLES[kind][0]
    title = title_tpl.format(group=group, Group=group[:1].upper() + group[1:])
    if kind == "city":
        members = sorted(members, key=lambda e: -int(e.info["population_n"]))
    else:
        members = sorted(members, key=lambda e: e.name)
    parts = -(-len(members) // LIST_ROWS_PER_PAGE)
    slug = title.lower().replace(" ", "-")
    pages = []
    for i in range(parts):
        chunk = members[i * len(members) // parts : (i + 1) * len(members) // parts]
        part_title = title if parts == 1 else f"{title} (part {i + 1} of {parts})"
        path = f"/lists/{slug}.html" if parts == 1 else f"/lists/{slug}-{i + 1}.html"
        part = f"This is part {i + 1} of {parts} of the list." if parts > 1 else ""
        pages.append(_list_page(kind, group, part_title, part, path, chunk, hosts, rng))
    return pages


def _list_page(
    kind: str, group: str, title: str, part: str, path: str, members: list[Entity], hosts: Hosts, rng: random.Random
) -> Page:
    """An introduction that sums the table up, the table, and a short note per entry.

    Real list pages are mostly prose around their tables, and they have to be: a table row is
    half separators and figures ("| Hofask Weaving Mills | Edreim Naerreima | Belkroungi | 1,300 |"),
    which Gopher's alphabetic-words rule (80% of words with a letter) rejects. Each entry's note
    tells the row's facts again, in sentences that name the entry in full, and adds a sentence
    about it, so that each row carries about thirty words of prose."""
    _, header, relations, grouped_by = LIST_STYLES[kind]
    rows = tuple((Link(e.name, hosts.article_url(e.slug)), *(e.attrs.get(r, "") for r in relations)) for e in members)
    what = LIST_WHAT[kind].format(group=group)
    intro = [rng.choice(LIST_INTROS).format(n=len(members), what=what), part]
    if len(members) > 1:
        rank_by, largest_first = LIST_RANKS[kind]
        ranked = sorted(members, key=lambda e: (int(e.attrs[rank_by].replace(",", "")), e.name), reverse=largest_first)
        intro.append(
            rng.choice(LIST_SUMMARIES[kind]).format(
                first=ranked[0].name,
                first_value=ranked[0].attrs[rank_by],
                last=ranked[-1].name,
                last_value=ranked[-1].attrs[rank_by],
            )
        )
    blocks = [para(" ".join(s for s in intro if s)), Table(header, rows), Heading(rng.choice(ENTRY_HEADINGS))]
    filler = Filler(kind, rng, about_page=False)
    for e in members:
        voice = Voice(e, rng)
        note = fact_sentences(voice, [r for r in RELATIONS[e.kind] if r != grouped_by], rng, combine=1.0)
        if more := filler.take(voice):
            note.insert(rng.randint(1, len(note)), more)
        blocks.append(para(" ".join(note)))
    blocks.append(para(rng.choice(LIST_OUTROS)))
    return Page(
        host=hosts.wiki,
        path=path,
        kind="list",
        style=f"table_{kind}",
        lang="en",
        title=title,
        blocks=blocks,
        entity_ids=[e.id for e in members],
        section="lists",
    )


QUESTIONS = {
    "born_in": ("Where was {name} born?", "In which city was {name} born?", "What is the birthplace of {name}?"),
    "birth_year": ("When was {name} born?", "In what year was {name} born?"),
    "occupation": ("What does {name} do for a living?", "What is {name_pos} occupation?"),
    "works_for": ("Who does {name} work for?", "Which company employs {name}?"),
    "spouse": ("Who is {name} married to?", "Who is {name_pos} spouse?"),
    "in_country": ("Which country is {name} in?", "In which country is {name} located?"),
    "founded_year": ("When was {name} founded?", "In which year was {name} founded?"),
    "population": ("How many people live in {name}?", "What is the population of {name}?"),
    "river": ("Which river flows through {name}?", "On which river does {name} lie?"),
    "landmark": ("What is {name} famous for?", "What is the best-known landmark of {name}?"),
    "capital": ("What is the capital of {name}?", "Which city is the capital of {name}?"),
    "official_language": ("What language is spoken in {name}?", "What is the official language of {name}?"),
    "currency": ("What is the currency of {name}?", "Which currency is used in {name}?"),
    "industry": ("What does {name} do?", "Which industry is {name} in?"),
    "founder": ("Who founded {name}?", "Who is the founder of {name}?"),
    "headquartered_in": ("Where is {name} based?", "Where are the headquarters of {name}?"),
    "employees": ("How many people work for {name}?", "How many employees does {name} have?"),
}
FAQ_INTROS = (
    "This page answers the questions our readers ask most often about {name}.",
    "Below are short answers to common questions about {name}, checked against published sources.",
    "Curious about {name}? These are the questions that come up again and again.",
)
FAQ_ANSWER_GOES_ON = 0.4  # share of fact answers followed by a filler sentence
# General questions, each with an answer that opens the reply; filler from the page continues it.
GENERAL_QUESTIONS = (
    (
        "Why do people find {name} interesting?",
        "There are several reasons, and most of them have to do with the details.",
    ),
    (
        "Where can I read more about {name}?",
        "The encyclopedia article on {name} is a good place to start, and local libraries keep further material.",
    ),
    ("Is there anything else worth knowing about {name}?", "Yes, a few things are worth adding to the answers above."),
)


def faq_page(entity: Entity, world: World, hosts: Hosts, rng: random.Random) -> Page:
    voice = Voice(entity, rng)
    filler = Filler(entity.kind, rng, about_page=False)  # an answer is no article
    blocks = [para(rng.choice(FAQ_INTROS).format(name=entity.name))]
    voice.mentioned = True
    for fact in world.facts_of(entity.id):
        # Questions refer to the subject as readers ask them ("Where was Losedreind born?", "Who
        # founded the company?"); the answer's first sentence states the fact and names the
        # subject in full, and some answers go on for a sentence, as real FAQ answers do.
        slots = voice.referring()
        question = rng.choice(QUESTIONS[fact.relation]).format(name=slots["name"], name_pos=slots["name_pos"])
        answer = fact_sentences(voice, [fact.relation], rng, combine=0.0)
        if rng.random() < FAQ_ANSWER_GOES_ON and (more := filler.take(voice)):
            answer.append(more)
        blocks.append(QA(question[0].upper() + question[1:], " ".join(answer)))
    for question, opening in rng.sample(GENERAL_QUESTIONS, 2):
        slots = voice.referring()
        answer = " ".join(s for s in (opening.format(name=slots["name"]), filler.take(voice), filler.take(voice)) if s)
        blocks.append(QA(question.format(name=slots["name"]), answer))
    return Page(
        host=hosts.faq,
        path=f"/q/{entity.slug}.html",
        kind="faq",
        style="faq_qa",
        lang="en",
        title=f"{entity.name}: frequently asked questions",
        blocks=blocks,
        entity_ids=[entity.id],
        section="questions",
    )
