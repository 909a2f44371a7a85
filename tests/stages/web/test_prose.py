"""The synthetic web's good pages read like real writing: they pass the quality rules that web
corpora apply (good pages must survive ingest, spam must not), state every fact in a sentence that
names its subject, and carry personal data a PII masker must act on."""

from __future__ import annotations

import ipaddress
import random
import re
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
from stages.web.blocks import Table
from stages.web.generate import generate
from stages.web.news import _public_ipv4
from stages.web.page import Page
from stages.web.params import WebParams
from stages.web.paraphrase import DESCRIBED, REANCHOR_AFTER, Voice
from stages.web.render import LIST_ROWS_PER_PAGE, LIST_STYLES, list_pages

GOOD_KINDS = ("article", "news", "faq", "list", "mirror", "near_duplicate")


@pytest.fixture(scope="module")
def web():
    return generate(WebParams(**MICRO))


def good_pages(web) -> list[Page]:
    return [p for p in web.pages if p.lang == "en" and not p.disallowed and p.kind in GOOD_KINDS]


# --- quality rules -----------------------------------------------------------------------------


def test_good_pages_pass_gophers_repetition_and_alphabetic_rules(web):
    pages = good_pages(web)
    assert {p.kind for p in pages} == set(GOOD_KINDS)
    for page in pages:
        words = extracted_text(page).split()
        for n, limit in TOP_NGRAM_MAX.items():
            assert top_ngram_char_frac(words, n) <= limit, (page.url, n)
        assert alpha_words_frac(words) >= MIN_ALPHA_WORDS, page.url


def test_the_rules_still_catch_a_page_that_repeats_a_long_name():
    # The failure the prose avoids: a three-word name in every sentence.
    name = "Hofask Weaving Mills"
    text = " ".join(
        f"{name} {rest}."
        for rest in (
            "is a textiles company",
            "publishes a short annual report",
            "keeps a small archive",
            "has survived several difficult periods",
            "trains its own apprentices",
            "employs many people",
        )
    )
    assert top_ngram_char_frac(text.split(), 3) > TOP_NGRAM_MAX[3]


# --- references and explicit facts -------------------------------------------------------------


def test_voice_states_in_full_and_refers_back_in_short(web):
    org = next(e for e in web.world.entities.values() if e.kind == "organisation")
    voice = Voice(org, random.Random(1))
    assert voice.referring()["name"] == org.name  # the first mention is in full
    refs = [voice.referring() for _ in range(REANCHOR_AFTER)]
    assert all(r["name"] != org.name and r["S"] != org.name for r in refs)
    assert {r["name"] for r in refs} <= {org.short, "the company", "the firm"}
    assert voice.referring()["name"] == org.name  # a long run ends with the name again
    assert voice.stating()["S"] == org.name and voice.stating()["name"] == org.name
    person = next(e for e in web.world.entities.values() if e.kind == "person")
    voice = Voice(person, random.Random(2))
    subjects = set()
    for _ in range(40):
        voice.stating()
        subjects.add(voice.referring()["S"])
    assert subjects == {person.short, {"f": "She", "m": "He"}[person.info["gender"]]}


def test_articles_refer_back_instead_of_repeating_the_full_name(web):
    articles = [p for p in good_pages(web) if p.kind == "article" and p.style == "encyclopedia_organisation"]
    assert articles
    for page in articles:
        name = page.title
        sentences = SENTENCE_END.split(" ".join(page.main_text.splitlines()[1:]))
        full = sum(name in s for s in sentences)
        assert full <= 0.6 * len(sentences), page.url
        assert any(
            ref in s and name not in s
            for s in sentences
            for ref in (name.split()[0], "the company", "the firm", "The company", "The firm")
        ), page.url


def test_every_fact_sentence_names_its_subject_in_full(web):
    """Closed-book questions are built from the sentence that states a fact: it must say whom
    it is about, not "she" or "the company"."""
    checked = 0
    for page in good_pages(web):
        if page.kind in ("article", "faq"):
            entity = web.world.entities[page.entity_ids[0]]
            facts = web.world.facts_of(entity.id)
        elif page.kind == "list":
            grouped_by = LIST_STYLES[web.world.entities[page.entity_ids[0]].kind][3]
            facts = [f for eid in page.entity_ids for f in web.world.facts_of(eid) if f.relation != grouped_by]
        else:
            continue
        for fact in facts:
            assert names_subject_and_states(page.main_text, fact.subject, fact.object), (page.url, fact.fact_id)
            checked += 1
    assert checked > 1000


def test_an_article_states_the_fact_of_its_lead_only_there(web):
    """The lead ("X is a Veskarian engineer") states one fact; no section says it again."""
    for page in good_pages(web):
        if page.kind != "article":
            continue
        entity = web.world.entities[page.entity_ids[0]]
        if entity.kind in DESCRIBED:
            value = entity.attrs[DESCRIBED[entity.kind]]
            sentences = SENTENCE_END.split(" ".join(page.main_text.splitlines()[1:]))
            told = [s for s in sentences if re.search(rf"\b{re.escape(value)}\b", s)]
            assert told == [sentences[0]], page.url


# --- list pages --------------------------------------------------------------------------------


def test_list_pages_cover_every_entity_of_their_kinds_once(web):
    lists = [p for p in web.pages if p.kind == "list"]
    listed = Counter(eid for p in lists for eid in p.entity_ids)
    assert set(listed.values()) == {1}
    assert set(listed) == {e.id for e in web.world.entities.values() if e.kind != "country"}
    for page in lists:
        table = next(b for b in page.blocks if isinstance(b, Table))
        assert [row[0].text for row in table.rows] == [web.world.entities[eid].name for eid in page.entity_ids]


def test_a_long_list_is_split_into_numbered_parts(web):
    people = [e for e in web.world.entities.values() if e.kind == "person"][:45]
    parts = list_pages("person", "engineer", people, web.hosts, random.Random(0))
    assert [len(p.entity_ids) for p in parts] == [15, 15, 15]
    assert all(len(p.entity_ids) <= LIST_ROWS_PER_PAGE for p in parts)
    assert sorted(eid for p in parts for eid in p.entity_ids) == sorted(e.id for e in people)
    for i, page in enumerate(parts, start=1):
        assert page.title == f"List of engineers (part {i} of 3)"
        assert page.path == f"/lists/list-of-engineers-{i}.html"
        assert f"This is part {i} of 3 of the list." in page.main_text
        # One note per entry, in table order, naming it in full; no sentence said twice on a page.
        notes = page.main_text.split("\n")[-len(page.entity_ids) - 1 : -1]
        names = [web.world.entities[eid].name for eid in page.entity_ids]
        assert all(name in note for name, note in zip(names, notes, strict=True))
        sentences = [s for note in notes for s in SENTENCE_END.split(note)]
        assert len(sentences) >= 3 * len(notes) and len(set(sentences)) == len(sentences)
    one = list_pages("person", "engineer", people[:LIST_ROWS_PER_PAGE], web.hosts, random.Random(0))
    assert len(one) == 1 and one[0].title == "List of engineers" and one[0].path == "/lists/list-of-engineers.html"


# --- personal data -----------------------------------------------------------------------------


def test_pii_ip_addresses_are_public_so_a_masker_must_mask_them():
    rng = random.Random(5)
    addresses = [_public_ipv4(rng) for _ in range(3000)]
    for text in addresses:
        address = ipaddress.IPv4Address(text)
        assert address.is_global and not address.is_multicast, text
        assert not any(
            address in ipaddress.ip_network(net)
            for net in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "10.0.0.0/8", "100.64.0.0/10")
        )
    assert len(set(addresses)) > 2990
    assert addresses[:10] == [_public_ipv4(r) for r in [random.Random(5)] for _ in range(10)]


def test_ip_addresses_on_the_web_are_global():
    web = generate(WebParams(**{**MICRO, "news_articles": 200, "pii_fraction": 0.5}))
    found = [
        m
        for p in web.pages
        if p.style.endswith("news_pii")
        for m in re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}\b", p.main_text)
    ]
    assert found
    assert all(ipaddress.IPv4Address(ip).is_global for ip in found), found
