"""Fact sheets: short pages that each state every fact of one entity once, in an order and wording
drawn for that sheet, on the Answers host (`web.profiles_per_entity` of them per entity: 2 on tiny,
none on micro).

Why: a small model that reads each fact in one place (its encyclopedia article, always in the same
section order) stores it tied to that context, and recalls it when asked about an entity it was
never asked about in fine-tuning far less often than it completes the article's own sentence.
Physics of Language Models 3.1 (Allen-Zhu and Li, 2023) measured the cure: several renderings of
each entity's facts, in shuffled orders ("multi + permute"), lifted extraction on held-out people
from ~10% to over 80%. These sheets are that augmentation in the world itself: they are pages of the
web, crawled, filtered and deduplicated like the rest, and they state the same facts as the
articles (the ground truth does not change), never a question the evaluation asks.
"""

from __future__ import annotations

import random

from stages.web.blocks import para
from stages.web.page import Hosts, Page
from stages.web.paraphrase import Filler, Voice, fact_sentences
from stages.web.world import Entity, World

TITLES = ("{name}: facts at a glance", "Quick facts: {name}", "{name} in brief", "Fact sheet: {name}")
INTROS = (
    "This sheet gathers the main facts about {name}.",
    "Here is a short summary of what the records say about {name}.",
    "The essentials about {name}, checked against published sources.",
)
# Enough words and sentences for the quality rules a page must pass (Gopher's 50 words, C4's 5
# sentences) before a sheet can reach the model: filler sentences top a short sheet up.
MIN_WORDS = 70
MIN_SENTENCES = 6
# The full name's share of the word characters a sheet may reach (Gopher's strictest top-n-gram
# limit is 0.16, for 4-grams): filler sentences, which refer back in short, dilute it.
NAME_SHARE_MAX = 0.14
COMBINE = 0.3  # chance of a two-fact template where one fits (articles: 0.5)
FILLER_BETWEEN = 0.5  # chance of a filler sentence after each fact sentence


def profile_page(entity: Entity, world: World, hosts: Hosts, rng: random.Random, number: int) -> Page:
    """Sheet `number` (1, 2, ...) of `entity`: an intro, then every fact once in a shuffled order."""
    voice = Voice(entity, rng)
    filler = Filler(entity.kind, rng, about_page=False)
    relations = list(dict.fromkeys(f.relation for f in world.facts_of(entity.id)))
    rng.shuffle(relations)
    sentences = [rng.choice(INTROS).format(name=entity.name)]
    voice.mentioned = True
    # A filler sentence after about every other fact, referring back ("the company", "she"): every
    # fact sentence names the subject in full, and a sheet of nothing else repeats a long name past
    # Gopher's top-n-gram limits.
    for sentence in fact_sentences(voice, relations, rng, combine=COMBINE):
        sentences.append(sentence)
        if rng.random() < FILLER_BETWEEN and (more := filler.take(voice)):
            sentences.append(more)
    while _short(sentences) or _name_share(sentences, entity.name) > NAME_SHARE_MAX:
        more = filler.take(voice)
        if more is None:
            break
        sentences.append(more)
    return Page(
        host=hosts.faq,
        path=f"/facts/{entity.slug}-{number}.html",
        kind="profile",
        style="fact_sheet",
        lang="en",
        title=rng.choice(TITLES).format(name=entity.name),
        blocks=[para(" ".join(sentences))],
        entity_ids=[entity.id],
        section="facts",
    )


def _short(sentences: list[str]) -> bool:
    return len(" ".join(sentences).split()) < MIN_WORDS or len(sentences) < MIN_SENTENCES


def _name_share(sentences: list[str], name: str) -> float:
    """The share of the sheet's word characters that its full-name mentions cover: what Gopher's
    top-n-gram rule measures for the name, the sheet's most repeated n-gram."""
    text = " ".join(sentences)
    letters = sum(len(w) for w in text.split())
    return text.count(name) * sum(len(w) for w in name.split()) / letters


def profile_pages(
    entities: list[Entity], world: World, hosts: Hosts, rng: random.Random, per_entity: int
) -> list[Page]:
    """`per_entity` sheets of every entity, each drawn independently from `rng`."""
    return [profile_page(e, world, hosts, rng, n + 1) for e in entities for n in range(per_entity)]
