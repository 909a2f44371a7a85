"""Fact sheets (web.profiles_per_entity): every entity gets that many, each states every one of its
facts once in a sentence that names it, in an order and wording of its own, passes the quality
rules ingest applies, is listed where a crawler finds it; and the rest of the web does not move."""

from __future__ import annotations

from collections import Counter

import pytest

from kit.prose import (
    MIN_ALPHA_WORDS,
    SENTENCE_END,
    TOP_NGRAM_MAX,
    alpha_words_frac,
    extracted_text,
    names_subject_and_states,
    top_ngram_char_frac,
)
from kit.web import MICRO
from stages.web.generate import generate
from stages.web.params import WebParams

SHEETS = 2


@pytest.fixture(scope="module")
def plain():
    return generate(WebParams(**MICRO))


@pytest.fixture(scope="module")
def augmented():
    return generate(WebParams(**{**MICRO, "profiles_per_entity": SHEETS}))


def sheets(web):
    return [p for p in web.pages if p.kind == "profile"]


def test_every_entity_has_its_sheets_stating_each_fact(augmented):
    per_entity = Counter(p.entity_ids[0] for p in sheets(augmented))
    assert per_entity == {eid: SHEETS for eid in augmented.world.entities}
    for page in sheets(augmented):
        for fact in augmented.world.facts_of(page.entity_ids[0]):
            assert names_subject_and_states(page.main_text, fact.subject, fact.object), (page.url, fact.fact_id)


def test_sheets_of_one_entity_differ_in_order_or_wording(augmented):
    by_entity: dict[str, list[str]] = {}
    for page in sheets(augmented):
        by_entity.setdefault(page.entity_ids[0], []).append(page.main_text)
    differing = sum(len(set(texts)) == SHEETS for texts in by_entity.values())
    assert differing == len(by_entity)
    # the order of the facts: the first fact stated is not always the same relation
    first = Counter()
    for page in sheets(augmented):
        entity = augmented.world.entities[page.entity_ids[0]]
        facts = augmented.world.facts_of(entity.id)
        positions = {f.relation: page.main_text.find(f.object) for f in facts}
        first[(entity.kind, min(positions, key=positions.get))] += 1
    assert len({relation for (kind, relation) in first if kind == "person"}) >= 3


def test_sheets_pass_the_quality_rules(augmented):
    for page in sheets(augmented):
        text = extracted_text(page)
        words = text.split()
        assert len(words) >= 50 and len(SENTENCE_END.split(page.main_text)) >= 5, page.url
        for n, limit in TOP_NGRAM_MAX.items():
            assert top_ngram_char_frac(words, n) <= limit, (page.url, n)
        assert alpha_words_frac(words) >= MIN_ALPHA_WORDS, page.url


def test_sheets_are_listed_and_the_rest_of_the_web_is_unchanged(plain, augmented):
    faq = augmented.hosts.faq
    index_html = "".join(p.html for p in augmented.pages if p.kind == "index" and p.host == faq)
    assert all(page.path in index_html for page in sheets(augmented))
    assert not sheets(plain)
    # Content pages come from their own random streams: the sheets move none of them. Their text is
    # the same everywhere, their HTML too off the Answers host (whose navigation gains a section).
    content = lambda web: [p for p in web.pages if p.kind not in ("index", "about", "profile")]  # noqa: E731
    assert {p.url: p.main_text for p in content(plain)} == {p.url: p.main_text for p in content(augmented)}
    html = lambda web: {p.url: p.html for p in content(web) if p.host != faq}  # noqa: E731
    assert html(plain) == html(augmented)
