"""English page styles on the wiki and answers hosts: encyclopedia articles, list pages with HTML
tables, FAQ pages, and the (robots-disallowed) edit form of an article."""

from __future__ import annotations

import random

from stages.web.blocks import QA, Heading, Link, Para, Preformatted, Table, linkify, para
from stages.web.page import Hosts, Page
from stages.web.paraphrase import Filler, Voice, describe, fact_sentences, possessive
from stages.web.world import Entity, World

# kind -> sections: (heading variants, relations told there). A section without facts is kept
# only when filler lands in it.
SECTIONS = {
    "person": ((("Early life", "Early years", "Background"), ("born_in", "birth_year")),
               (("Career", "Work", "Professional life"), ("occupation", "works_for")),
               (("Personal life", "Family"), ("spouse",)),
               (("Legacy", "Reputation", "Character"), ())),
    "city": ((("Geography", "Location"), ("in_country", "river")),
             (("History", "Origins"), ("founded_year",)),
             (("Population", "Demographics"), ("population",)),
             (("Landmarks", "Sights", "Culture"), ("landmark",))),
    "country": ((("Overview", "Government"), ("capital", "official_language")),
                (("Economy", "Money and trade"), ("currency",)),
                (("People", "Population"), ("population",)),
                (("Culture", "Society"), ())),
    "organisation": ((("History", "Origins"), ("founder", "founded_year")),
                     (("Operations", "Business"), ("industry", "headquartered_in")),
                     (("Workforce", "Staff"), ("employees",)),
                     (("Reputation", "Community"), ())),
}


def word_count(sentences: list[str]) -> int:
    return sum(len(s.split()) for s in sentences)


def ref_links(entity: Entity, world: World, hosts: Hosts) -> dict[str, str]:
    """Names in an entity's facts that have their own article -> that article's URL."""
    return {world.entities[oid].name: hosts.article_url(world.entities[oid].slug)
            for oid in entity.refs.values()}


def article(entity: Entity, world: World, hosts: Hosts, rng: random.Random, target_words: int) -> Page:
    voice = Voice(entity, rng)
    filler = Filler(voice, rng)
    lead = [f"{entity.name} is {describe(entity, world)}."]
    voice.mentioned = True
    sections = []
    for headings, relations in SECTIONS[entity.kind]:
        sections.append((rng.choice(headings), fact_sentences(voice, list(relations), rng)))
    # Filler goes round the sections until the page reaches its drawn length.
    slots = [lead] + [body for _, body in sections]
    i = 0
    while word_count([s for body in slots for s in body]) < target_words:
        sentence = filler.take()
        if sentence is None:
            break
        body = slots[i % len(slots)]
        body.insert(rng.randint(1, len(body)) if body else 0, sentence)
        i += 1
    links = ref_links(entity, world, hosts)
    blocks = [para(*linkify(" ".join(lead), links))]
    for heading, body in sections:
        if body:
            blocks += [Heading(heading), para(*linkify(" ".join(body), links))]
    return Page(host=hosts.wiki, path=f"/wiki/{entity.slug}.html", kind="article",
                style=f"encyclopedia_{entity.kind}", lang="en", title=entity.name, blocks=blocks,
                entity_ids=[entity.id, *entity.refs.values()], section=_section(entity))


def _section(entity: Entity) -> str:
    return {"person": "people", "city": "places", "country": "places", "organisation": "organisations"}[entity.kind]


def edit_form(source: Page) -> Page:
    """The wiki's edit page for an article: robots-disallowed, but on disk and linked."""
    slug = source.path.rsplit("/", 1)[1]
    blocks = [Para((f"You are editing the page {source.title}. Changes are reviewed by an editor "
                    "before they appear on the public site. Please cite your sources.",)),
              Preformatted(source.main_text)]
    return Page(host=source.host, path=f"/edit/{slug}", kind="article", style="edit_form", lang="en",
                title=f"Editing {source.title}", blocks=blocks, entity_ids=list(source.entity_ids),
                disallowed=True)


# Tables: (title template, intro template, column headers, row builder relations).
LIST_STYLES = {
    "city": ("Cities of {group}", ("City", "Population", "Founded", "River", "Landmark"),
             ("population", "founded_year", "river", "landmark")),
    "organisation": ("{Group} companies", ("Company", "Founded", "Founder", "Headquarters", "Employees"),
                     ("founded_year", "founder", "headquartered_in", "employees")),
    "person": ("List of {group}s", ("Name", "Born", "Birthplace", "Employer"),
               ("birth_year", "born_in", "works_for")),
}
LIST_INTROS = (
    "The table below lists {n} entries for {what}, with the most important details of each.",
    "This page collects {n} entries for {what} that have their own articles on this wiki.",
    "Here you will find {n} entries for {what}, arranged in a sortable table.",
)
LIST_OUTROS = (
    "The list is maintained by volunteers and may be incomplete. Corrections are always welcome.",
    "Entries are added when a new article is written. Each name links to the full article.",
    "The figures in the table come from the individual articles, which also give their sources.",
)


def list_page(kind: str, group: str, members: list[Entity], world: World, hosts: Hosts,
              rng: random.Random) -> Page:
    title_tpl, header, relations = LIST_STYLES[kind]
    title = title_tpl.format(group=group, Group=group[:1].upper() + group[1:])
    if kind == "city":
        members = sorted(members, key=lambda e: -int(e.info["population_n"]))
    else:
        members = sorted(members, key=lambda e: e.name)
    rows = tuple((Link(e.name, hosts.article_url(e.slug)), *(e.attrs.get(r, "") for r in relations))
                 for e in members)
    what = title[0].lower() + title[1:] if kind != "organisation" else f"companies in the {group} industry"
    intro = rng.choice(LIST_INTROS).format(n=len(members), what=what)
    blocks = [para(intro), Table(header, rows), para(rng.choice(LIST_OUTROS))]
    slug = title.lower().replace(" ", "-")
    return Page(host=hosts.wiki, path=f"/lists/{slug}.html", kind="list", style=f"table_{kind}", lang="en",
                title=title, blocks=blocks, entity_ids=[e.id for e in members], section="lists")


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
# General questions, each with an answer that opens the reply; filler from the page continues it.
GENERAL_QUESTIONS = (
    ("Why do people find {name} interesting?", "There are several reasons, and most of them have to do with the details."),
    ("Where can I read more about {name}?", "The encyclopedia article on {name} is a good place to start, and local libraries keep further material."),
    ("Is there anything else worth knowing about {name}?", "Yes, a few things are worth adding to the answers above."),
)


def faq_page(entity: Entity, world: World, hosts: Hosts, rng: random.Random) -> Page:
    voice = Voice(entity, rng)
    filler = Filler(voice, rng)
    blocks = [para(rng.choice(FAQ_INTROS).format(name=entity.name))]
    voice.mentioned = True
    for fact in world.facts_of(entity.id):
        question = rng.choice(QUESTIONS[fact.relation]).format(name=entity.name,
                                                               name_pos=possessive(entity.name))
        answer_voice = Voice(entity, rng)          # a fresh voice: every answer names the subject
        blocks.append(QA(question, fact_sentences(answer_voice, [fact.relation], rng, combine=0.0)[0]))
    for question, opening in rng.sample(GENERAL_QUESTIONS, 2):
        answer = " ".join(s for s in (opening.format(name=entity.name), filler.take(), filler.take()) if s)
        blocks.append(QA(question.format(name=entity.name), answer))
    return Page(host=hosts.faq, path=f"/q/{entity.slug}.html", kind="faq", style="faq_qa", lang="en",
                title=f"{entity.name}: frequently asked questions", blocks=blocks,
                entity_ids=[entity.id], section="questions")
