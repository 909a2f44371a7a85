"""The fictional world: unique pronounceable names, consistent facts, facts told in many ways."""

from __future__ import annotations

import random
import re

import pytest

from crisol.world.names import COMMON_WORDS, NameForge
from stages.web.page import Hosts
from stages.web.params import WebParams
from stages.web.paraphrase import FACT_TEMPLATES
from stages.web.render import article
from stages.web.world import RELATIONS, build_world

PARAMS = WebParams(countries=3, cities=30, organisations=24, people=150)


@pytest.fixture(scope="module")
def world():
    return build_world(PARAMS)


def test_names_are_unique_pronounceable_and_not_common_words():
    forge = NameForge(random.Random(3))
    words = [forge.word() for _ in range(3000)]
    assert len(set(words)) == len(words)
    assert not {w.lower() for w in words} & COMMON_WORDS
    assert all(re.fullmatch(r"[A-Z][a-z]{3,9}", w) and not re.search(r"[^aeiou]{4}", w.lower()) for w in words)
    assert [NameForge(random.Random(3)).word() for _ in range(1)] == words[:1]


def test_world_is_deterministic_and_seed_dependent(world):
    assert build_world(PARAMS).facts == world.facts
    assert build_world(PARAMS.model_copy(update={"seed": 1})).facts != world.facts


def test_entity_names_are_unique_across_the_world(world):
    names = [e.name for e in world.entities.values()]
    assert len(names) == len(set(names))


def test_facts_are_consistent(world):
    entities = world.entities
    for country in world.of_kind("country"):
        capital = entities[country.refs["capital"]]
        cities = [c for c in world.of_kind("city") if c.refs["in_country"] == country.id]
        assert capital.refs["in_country"] == country.id
        assert int(capital.info["population_n"]) == max(int(c.info["population_n"]) for c in cities)
    for org in world.of_kind("organisation"):
        founder = entities[org.refs["founder"]]
        assert int(org.attrs["founded_year"]) - int(founder.attrs["birth_year"]) >= 20
    for person in world.of_kind("person"):
        if "spouse" in person.refs:
            assert entities[person.refs["spouse"]].refs["spouse"] == person.id
        assert set(person.attrs) <= set(RELATIONS["person"])
    relations = {(f.subject_id, f.relation) for f in world.facts}
    assert len(relations) == len(world.facts)  # one object per subject and relation


def test_every_relation_has_at_least_three_paraphrases():
    for kind, relations in RELATIONS.items():
        singles = {rels[0]: templates for rels, templates in FACT_TEMPLATES[kind] if len(rels) == 1}
        for relation in relations:
            assert len(singles[relation]) >= 3, (kind, relation)


def test_articles_state_a_fact_in_varied_words(world):
    """Across articles, the sentence carrying a person's birthplace takes several shapes."""
    hosts, rng = Hosts("aldoria"), random.Random(0)
    shapes = set()
    for person in world.of_kind("person"):
        text = article(person, world, hosts, rng, 200).main_text
        sentence = next(s for s in re.split(r"(?<=\.) ", text) if person.attrs["born_in"] in s)
        for value in (person.attrs["born_in"], person.attrs["birth_year"], person.name, person.short):
            sentence = sentence.replace(value, "_")
        shapes.add(re.sub(r"\b(he|she|his|her|He|She|His|Her)\b", "P", sentence))
    assert len(shapes) >= 5
