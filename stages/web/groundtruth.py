"""Ground-truth rows (FACTS, PAGES) and what they say about the web: which facts can be read where."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict

from stages.web.page import Page
from stages.web.world import World

# Kinds a crawl can fetch and keep as text; the oversized page is beyond any sane size limit.
UNREADABLE_KINDS = ("oversized",)


def fact_rows(world: World) -> list[dict]:
    return [asdict(f) for f in world.facts]


def page_rows(pages: list[Page], texts: list[str]) -> list[dict]:
    return [
        {
            "url": p.url,
            "host": p.host,
            "kind": p.kind,
            "style": p.style,
            "lang": p.lang,
            "duplicate_of": p.duplicate_of,
            "edit_fraction": p.edit_fraction,
            "disallowed": p.disallowed,
            "main_text": text,
            "entity_ids": list(dict.fromkeys(p.entity_ids)),
        }
        for p, text in zip(pages, texts)
    ]


def fact_mentions(world: World, pages: list[Page], texts: list[str]) -> Counter:
    """fact_id -> number of crawlable English pages whose main text states it.

    A page states a fact when the fact's subject is among the page's entities and the object's
    display string occurs in its main text (every English template prints objects verbatim).
    """
    counts: Counter = Counter()
    for page, text in zip(pages, texts):
        if page.lang != "en" or page.disallowed or page.kind in UNREADABLE_KINDS:
            continue
        for entity_id in dict.fromkeys(page.entity_ids):
            for fact in world.facts_of(entity_id):
                if fact.object in text:
                    counts[fact.fact_id] += 1
    return counts
