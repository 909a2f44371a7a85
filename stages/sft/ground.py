"""The synthetic world's ground truth as SFT generation needs it: entities with their facts, and
which facts the crawlable English pages state.

Read from the web stage's artifacts (facts.parquet, pages.parquet), never from its code. The kind
of a place comes from its relations: a place with a capital is a country, any other a city.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from crisol.core.errors import StageInputError
from crisol.facts.matching import find_word
from crisol.formats.artifacts import read_parquet
from crisol.formats.schemas import FACTS, PAGES

# Pages a polite crawl fetches and quality filters keep as English text: what pretraining read.
UNSEEN_KINDS = ("oversized", "spam")
SEEN_LANG = "en"
PAGE_COLUMNS = ["url", "kind", "lang", "disallowed", "main_text", "entity_ids"]


@dataclass
class Entity:
    id: str
    name: str
    kind: str  # person | city | country | organisation
    facts: dict[str, str] = field(default_factory=dict)  # relation -> object (display string)
    fact_ids: dict[str, str] = field(default_factory=dict)  # relation -> fact_id


@dataclass
class Ground:
    entities: dict[str, Entity]  # id -> entity, in id order
    pages: list[dict]  # seen English pages (PAGES rows), url order
    stated: set[str]  # fact_ids some seen page states
    only_stated: bool = True  # questions ask only about stated facts
    facts: int = 0  # fact rows read

    def askable(self, entity: Entity) -> dict[str, str]:
        """relation -> object of the facts a question may ask about (stated ones, if so configured)."""
        if not self.only_stated:
            return dict(entity.facts)
        return {rel: obj for rel, obj in entity.facts.items() if entity.fact_ids[rel] in self.stated}

    def of_kind(self, kind: str) -> list[Entity]:
        return [e for e in self.entities.values() if e.kind == kind]

    def names(self) -> dict[str, str]:
        """name -> entity id, for every real entity."""
        return {e.name: e.id for e in self.entities.values()}


def entity_kind(subject_type: str, relations: set[str]) -> str:
    if subject_type == "place":
        return "country" if "capital" in relations else "city"
    if subject_type in ("person", "organisation"):
        return subject_type
    raise StageInputError(f"facts: unknown subject_type {subject_type!r}")


def is_seen(page: dict) -> bool:
    return (
        page.get("lang") == SEEN_LANG
        and not page.get("disallowed")
        and page.get("kind") not in UNSEEN_KINDS
        and bool(page.get("main_text"))
    )


def ground_from_rows(facts: list[dict], pages: list[dict], only_stated: bool) -> Ground:
    """Entities (with all their facts) from FACTS rows, seen pages from PAGES rows."""
    rows = sorted(
        (r for r in facts if r.get("subject_id") and r.get("subject") and r.get("relation") and r.get("object")),
        key=lambda r: r["fact_id"],
    )
    if not rows:
        raise StageInputError("facts: no usable fact rows (subject, relation and object are all required)")
    relations: dict[str, set[str]] = {}
    for r in rows:
        relations.setdefault(r["subject_id"], set()).add(r["relation"])
    entities: dict[str, Entity] = {}
    for r in rows:
        entity = entities.get(r["subject_id"])
        if entity is None:
            kind = entity_kind(r.get("subject_type") or "", relations[r["subject_id"]])
            entity = entities[r["subject_id"]] = Entity(r["subject_id"], r["subject"], kind)
        entity.facts[r["relation"]] = r["object"]
        entity.fact_ids[r["relation"]] = r["fact_id"]
    seen = sorted((p for p in pages if is_seen(p)), key=lambda p: p["url"])
    return Ground(dict(sorted(entities.items())), seen, _stated(entities, seen), only_stated, facts=len(facts))


def _stated(entities: dict[str, Entity], pages: list[dict]) -> set[str]:
    """Facts whose object a seen page about the subject prints as a whole word."""
    stated: set[str] = set()
    for page in pages:
        for entity_id in dict.fromkeys(page["entity_ids"] or []):
            entity = entities.get(entity_id)
            if entity is None:
                continue
            for relation, obj in entity.facts.items():
                if entity.fact_ids[relation] not in stated and find_word(page["main_text"], obj) >= 0:
                    stated.add(entity.fact_ids[relation])
    return stated


def read_ground(facts_parquet: Path | str, pages_parquet: Path | str, only_stated: bool = True) -> Ground:
    facts = read_parquet(facts_parquet, FACTS).to_pylist()
    pages = read_parquet(pages_parquet, PAGES).select(PAGE_COLUMNS).to_pylist()
    return ground_from_rows(facts, pages, only_stated)
