"""News articles on the news host: a story about one entity that mentions its facts and those of
a related entity, with quotes and newsroom prose; some carry PII (emails, phones, IPv4)."""

from __future__ import annotations

import ipaddress
import random

from stages.web.blocks import Heading, linkify, para
from stages.web.lexicon import a_or_an
from stages.web.page import Hosts, Page
from stages.web.paraphrase import ADJECTIVES, Voice, fact_sentences, fact_values
from stages.web.world import Entity, World

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

HEADLINES = {
    "person": (
        "A conversation with {name}",
        "{name} reflects on a long career",
        "Meet {name}, {a_occupation} with a story to tell",
        "Neighbours honour {name}",
        "{name} opens a small exhibition of personal papers",
    ),
    "organisation": (
        "{name} looks back on its history",
        "Inside {name}: a visit to the company",
        "{name} announces a new training programme",
        "Open day draws crowds to {name}",
    ),
    "city": (
        "A weekend in {name}",
        "{name} prepares for the summer festival",
        "Life along the river: a visit to {name}",
        "New plans for the centre of {name}",
    ),
    "country": (
        "{name} at a glance: what visitors should know",
        "Travel notes from {name}",
        "Why more travellers are choosing {name}",
    ),
}
LEADS = {
    "person": (
        "{name} welcomed our reporter for a long conversation about work, family and the years ahead.",
        "Friends, colleagues and neighbours gathered this week to celebrate {name}.",
        "For the first time, {name} has agreed to speak in public about a remarkable working life.",
    ),
    "organisation": (
        "{name} opened its doors to visitors this week, offering a rare look behind the scenes.",
        "Staff and guests gathered at {name} to mark another year of steady work.",
        "{name} has announced plans to train more young people over the coming years.",
    ),
    "city": (
        "Residents of {name} are getting ready for the busiest weeks of the year.",
        "Our correspondent spent several days in {name} and came back with many impressions.",
        "The council of {name} has presented a plan to make the old centre greener.",
    ),
    "country": (
        "{name} is attracting more visitors than ever, and it is easy to see why.",
        "Our travel desk has collected the essentials for anyone planning a trip to {name}.",
        "From markets to mountain villages, {name} has plenty to offer the curious traveller.",
    ),
}
QUOTES = (
    "\u201cWe are proud of what we have achieved together,\u201d said {speaker}.",
    "\u201cNone of this would have been possible without the help of many people,\u201d {speaker} said.",
    "\u201cThere is still a great deal of work ahead of us,\u201d {speaker} added.",
    "\u201cIt has been {a_adj} year, and we have learned a lot,\u201d said {speaker}.",
    "\u201cPeople here care about their town and about each other,\u201d {speaker} told our reporter.",
    "\u201cI hope that young people will find their own way, as we did,\u201d said {speaker}.",
)
NEWSROOM = (
    "The event drew a large crowd despite the grey weather.",
    "Organisers said they were pleased with the response and plan to repeat the event next year.",
    "Further details are expected to be announced in the coming weeks.",
    "Local shops reported a busy day, and several cafes ran out of cake by the afternoon.",
    "A short film about the day will be shown at the public library next month.",
    "Not everyone was convinced, and some residents raised questions at a public meeting.",
    "Tickets for the guided tours sold out within a few hours.",
    "The council has promised to publish a full report once the figures are available.",
    "Several schools have asked to arrange visits for their pupils.",
    "Our readers have sent in many letters on the subject, a selection of which we will publish.",
    "Volunteers helped with the preparations and stayed late to clear up afterwards.",
    "The story has been widely shared, and many readers have written in with their own memories.",
    "Photographs from the day can be found in our weekend edition.",
    "A spokesperson declined to comment on rumours about further plans.",
)
CLOSINGS = (
    "We will continue to follow the story and report on any developments.",
    "Readers who would like to share their views can write to the editors.",
    "This article will be updated when more information becomes available.",
)
PII_SENTENCES = (
    "Readers with questions can write to {email} or call the newsroom on {phone} during office hours.",
    "Tickets can be reserved by email at {email}; the box office can also be reached on {phone}.",
    "The organisers asked visitors to register in advance by writing to {email}.",
    "According to the technical team, the public booking page was briefly unavailable after the server at {ip} "
    "ran out of memory.",
    "Anyone who found the lost camera is asked to call {phone} or to send a message to {email}.",
    "Readers who could not reach the archive were asked to report the address {ip} "
    "shown in the error message to the newsroom.",
)


def _pii(rng: random.Random, person: Entity) -> dict[str, str]:
    first, family = person.name.split(" ", 1)
    domain = rng.choice(("example.org", "mail.example.com", "post.example.net"))
    return {
        "email": f"{first.lower()}.{family.lower()}@{domain}",
        "phone": f"+{rng.randint(30, 49)} {rng.randint(100, 999)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
        "ip": _public_ipv4(rng),
    }


def _public_ipv4(rng: random.Random) -> str:
    """A random global unicast IPv4 address. Not one from the documentation ranges (RFC 5737):
    those, like private and reserved ones, identify no one, so a PII masker rightly leaves them,
    and the synthetic web would never exercise its IP path."""
    while True:
        address = ipaddress.IPv4Address(rng.getrandbits(32))
        if address.is_global and not address.is_multicast and address.packed[3] not in (0, 255):
            return str(address)


def _related(entity: Entity, world: World) -> Entity:
    key = {"person": "works_for", "organisation": "headquartered_in", "city": "in_country", "country": "capital"}[
        entity.kind
    ]
    return world.entities[entity.refs[key]]


def _dateline_city(entity: Entity, world: World) -> str:
    key = {"person": "born_in", "organisation": "headquartered_in", "country": "capital"}.get(entity.kind)
    return (world.entities[entity.refs[key]] if key else entity).name.upper()


def news_article(
    entity: Entity,
    world: World,
    hosts: Hosts,
    rng: random.Random,
    reporter: Entity,
    target_words: int,
    pii: bool,
    used_paths: set[str],
    article_href: dict[str, str],
) -> Page:
    """`article_href`: entity id -> URL to link its article with (some go via redirects)."""
    voice = Voice(entity, rng)
    headline = rng.choice(HEADLINES[entity.kind]).format(name=entity.name, **fact_values(entity))
    year, month, day = rng.randint(2019, 2024), rng.randint(1, 12), rng.randint(1, 28)
    dateline = f"{_dateline_city(entity, world)}, {day} {MONTHS[month - 1]} {year} \u2014 "
    lead = dateline + rng.choice(LEADS[entity.kind]).format(name=entity.name)
    voice.mentioned = True
    relations = [f.relation for f in world.facts_of(entity.id)]
    told = rng.sample(relations, k=min(len(relations), rng.randint(3, 4)))
    body = fact_sentences(voice, [r for r in relations if r in told], rng)
    other = _related(entity, world)
    other_facts = [f.relation for f in world.facts_of(other.id)]
    other_told = fact_sentences(Voice(other, rng), rng.sample(other_facts, k=min(2, len(other_facts))), rng)
    speaker = entity.name if entity.kind == "person" else f"a spokesperson for {entity.name}"
    quotes = [q.format(speaker=speaker, a_adj=a_or_an(rng.choice(ADJECTIVES))) for q in rng.sample(QUOTES, 2)]
    newsroom = rng.sample(NEWSROOM, len(NEWSROOM))
    paragraphs = [[lead], body, quotes[:1], other_told, quotes[1:]]
    while sum(len(s.split()) for p in paragraphs for s in p) < target_words and newsroom:
        paragraphs[rng.randint(2, len(paragraphs) - 1)].append(newsroom.pop())
    if pii:
        contact = _pii(rng, reporter)
        paragraphs.insert(rng.randint(2, len(paragraphs)), [rng.choice(PII_SENTENCES).format(**contact)])
    paragraphs.append([rng.choice(CLOSINGS)])
    links = {entity.name: article_href[entity.id], other.name: article_href[other.id]}
    blocks = [para(f"By {reporter.name}, staff reporter")]
    for i, sentences in enumerate(p for p in paragraphs if p):
        if i == 2 and rng.random() < 0.5:
            blocks.append(Heading(rng.choice(("Looking back", "In their own words", "Background", "What comes next"))))
        blocks.append(para(*linkify(" ".join(sentences), links)))
    slug = "".join(c if c.isalnum() else "-" for c in headline.lower()).strip("-")
    while "--" in slug:
        slug = slug.replace("--", "-")
    path = f"/{year}/{month:02d}/{slug}.html"
    n = 2
    while path in used_paths:
        path = f"/{year}/{month:02d}/{slug}-{n}.html"
        n += 1
    used_paths.add(path)
    return Page(
        host=hosts.news,
        path=path,
        kind="news",
        style="news_pii" if pii else "news_story",
        lang="en",
        title=headline,
        blocks=blocks,
        entity_ids=[entity.id, other.id],
        section="news",
    )
