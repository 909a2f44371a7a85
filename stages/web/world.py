"""The fictional world: countries, cities, organisations and people, and the facts about them.

Facts are consistent by construction (a founder is born decades before the company, a capital is
its country's largest city, spouses are married both ways) so that questions generated from them
later have one right answer. Every object is a short display string exactly as pages print it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from crisol.world.names import NameForge
from stages.web.lexicon import CURRENCY_UNITS, INDUSTRIES, LANDMARKS, OCCUPATIONS
from stages.web.params import WebParams

# The relations of each kind of entity, in the order articles present them.
RELATIONS = {
    "person": ("born_in", "birth_year", "occupation", "works_for", "spouse"),
    "city": ("in_country", "founded_year", "population", "river", "landmark"),
    "country": ("capital", "official_language", "currency", "population"),
    "organisation": ("industry", "founded_year", "founder", "headquartered_in", "employees"),
}
# FACTS.subject_type: countries and cities are both places.
SUBJECT_TYPE = {"person": "person", "city": "place", "country": "place", "organisation": "organisation"}


@dataclass
class Entity:
    id: str
    kind: str  # person | city | country | organisation
    name: str
    attrs: dict[str, str] = field(default_factory=dict)  # relation -> display object
    refs: dict[str, str] = field(default_factory=dict)  # relation -> object entity id
    info: dict[str, str] = field(default_factory=dict)  # non-fact details (gender, stems)

    @property
    def subject_type(self) -> str:
        return SUBJECT_TYPE[self.kind]

    @property
    def slug(self) -> str:
        return self.name.replace(" ", "_")

    @property
    def short(self) -> str:
        """How prose names the entity after the first mention: a person's family name, a company's
        distinctive first word ("Hofask" for "Hofask Weaving Mills"), a place's only name."""
        if self.kind == "organisation":
            return self.name.split(" ", 1)[0]
        return self.info.get("family", self.name)


@dataclass(frozen=True)
class Fact:
    fact_id: str
    subject_id: str
    subject_type: str
    subject: str
    relation: str
    object: str
    object_id: str | None


@dataclass
class World:
    entities: dict[str, Entity]  # id -> entity, in creation order
    facts: list[Fact]

    def of_kind(self, kind: str) -> list[Entity]:
        return [e for e in self.entities.values() if e.kind == kind]

    def facts_of(self, entity_id: str) -> list[Fact]:
        return self._by_subject.get(entity_id, [])

    def __post_init__(self) -> None:
        self._by_subject: dict[str, list[Fact]] = {}
        for fact in self.facts:
            self._by_subject.setdefault(fact.subject_id, []).append(fact)


def _number(n: int) -> str:
    return f"{n:,}"


def build_world(params: WebParams) -> World:
    rng = random.Random(f"{params.seed}:world")
    forge = NameForge(rng)
    countries = _countries(params, rng, forge)
    cities = _cities(params, rng, forge, countries)
    orgs = _organisations(params, rng, forge, cities)
    people = _people(params, rng, forge, cities)
    _link_people_and_orgs(params, rng, people, orgs)
    entities = {e.id: e for e in [*countries, *cities, *orgs, *people]}
    facts = []
    for entity in entities.values():
        for relation in RELATIONS[entity.kind]:
            if relation in entity.attrs:
                facts.append(
                    Fact(
                        f"{entity.id}/{relation}",
                        entity.id,
                        entity.subject_type,
                        entity.name,
                        relation,
                        entity.attrs[relation],
                        entity.refs.get(relation),
                    )
                )
    return World(entities, facts)


def _countries(params: WebParams, rng: random.Random, forge: NameForge) -> list[Entity]:
    units = list(CURRENCY_UNITS)
    out = []
    for i in range(params.countries):
        stem = forge.word(2, 2, max_len=8)
        name = stem + ("ia" if stem[-1] not in "aeiou" else "ria")
        adjective = name[:-1] + "n"  # Veskaria -> Veskarian
        out.append(
            Entity(
                f"country-{i + 1:03d}",
                "country",
                name,
                attrs={"official_language": adjective, "currency": f"{adjective} {units[i % len(units)]}"},
                info={"stem": name[:-2], "adjective": adjective, "unit": units[i % len(units)]},
            )
        )
    return out


def _cities(params: WebParams, rng: random.Random, forge: NameForge, countries: list[Entity]) -> list[Entity]:
    rivers = {c.id: [forge.word(2, 2) for _ in range(max(1, params.cities // (4 * len(countries))))] for c in countries}
    landmark_kinds = list(LANDMARKS)
    cities = []
    for i in range(params.cities):
        # The first cities go one per country so that no country is empty.
        country = countries[i] if i < len(countries) else rng.choice(countries)
        population = max(800, round(rng.lognormvariate(10.8, 1.1), -2))
        river = rng.choice(rivers[country.id])
        kind = rng.choice(landmark_kinds)
        landmark = forge.word(2, 2)
        cities.append(
            Entity(
                f"place-{i + 1:04d}",
                "city",
                forge.word(2, 3),
                attrs={
                    "in_country": country.name,
                    "founded_year": str(rng.randint(880, 1890)),
                    "population": _number(int(population)),
                    "river": f"{river} River",
                    "landmark": f"{landmark} {kind}",
                },
                refs={"in_country": country.id},
                info={
                    "river_name": river,
                    "landmark_name": landmark,
                    "landmark_kind": kind,
                    "population_n": str(int(population)),
                },
            )
        )
    for country in countries:
        own = [c for c in cities if c.refs["in_country"] == country.id]
        capital = max(own, key=lambda c: int(c.info["population_n"]))
        country.attrs["capital"] = capital.name
        country.refs["capital"] = capital.id
        total = sum(int(c.info["population_n"]) for c in own) * 3
        country.attrs["population"] = _number(total)
        country.info["population_n"] = str(total)
    return cities


def _organisations(params: WebParams, rng: random.Random, forge: NameForge, cities: list[Entity]) -> list[Entity]:
    industries = list(INDUSTRIES)
    orgs = []
    for i in range(params.organisations):
        industry = industries[i % len(industries)] if i < len(industries) else rng.choice(industries)
        suffix = rng.choice(INDUSTRIES[industry][1])
        hq = rng.choice(cities)
        employees = max(12, round(rng.lognormvariate(6.5, 1.3), -1))
        orgs.append(
            Entity(
                f"org-{i + 1:04d}",
                "organisation",
                f"{forge.word(2, 3)} {suffix}",
                attrs={
                    "industry": industry,
                    "founded_year": str(rng.randint(1820, 2005)),
                    "headquartered_in": hq.name,
                    "employees": _number(int(employees)),
                },
                refs={"headquartered_in": hq.id},
            )
        )
    return orgs


def _people(params: WebParams, rng: random.Random, forge: NameForge, cities: list[Entity]) -> list[Entity]:
    occupations = list(OCCUPATIONS)
    given = {"f": [], "m": []}
    for _ in range(max(30, params.people // 6)):
        base = forge.word(2, 2, max_len=7)
        given["f"].append(base + "a" if base[-1] not in "aeiou" else base)
        given["m"].append(base if base[-1] not in "aeiou" else base + "n")
    families = [forge.word(2, 3) for _ in range(max(40, params.people // 3))]
    seen: set[str] = set()
    people = []
    for i in range(params.people):
        gender = rng.choice("fm")
        while True:  # full names are unique; the pools make that easy (>= 1200 combinations)
            first, family = rng.choice(given[gender]), rng.choice(families)
            if f"{first} {family}" not in seen and first != family:
                break
        name = f"{first} {family}"
        seen.add(name)
        home = rng.choice(cities)
        people.append(
            Entity(
                f"person-{i + 1:05d}",
                "person",
                name,
                attrs={
                    "born_in": home.name,
                    "birth_year": str(rng.randint(1880, 1995)),
                    "occupation": rng.choice(occupations),
                },
                refs={"born_in": home.id},
                info={"gender": gender, "family": family},
            )
        )
    return people


def _link_people_and_orgs(params: WebParams, rng: random.Random, people: list[Entity], orgs: list[Entity]) -> None:
    """Founders, employers and spouses, keeping dates plausible."""
    for i, org in enumerate(orgs):
        founder = people[i % len(people)] if len(people) < len(orgs) else rng.choice(people)
        if "founded" in founder.info:  # founds two companies: the second comes later in life
            year = int(founder.info["founded"]) + rng.randint(3, 15)
        else:
            year = int(founder.attrs["birth_year"]) + rng.randint(24, 50)
        year = min(year, 2022)
        founder.info["founded"] = str(year)
        org.attrs["founded_year"] = str(year)
        org.attrs["founder"] = founder.name
        org.refs["founder"] = founder.id
        founder.info.setdefault("founded_org", org.id)
    org_by_id = {o.id: o for o in orgs}
    by_year = sorted(orgs, key=lambda o: int(o.attrs["founded_year"]))
    for person in people:
        org_id = person.info.get("founded_org")
        if org_id is None:
            # An employer that already existed when the person was about 30.
            limit = int(person.attrs["birth_year"]) + 30
            options = [o for o in by_year if int(o.attrs["founded_year"]) <= limit] or by_year[:1]
            org_id = rng.choice(options).id
        org = org_by_id[org_id]
        person.attrs["works_for"] = org.name
        person.refs["works_for"] = org.id
    married = rng.sample(people, k=int(len(people) * params.spouse_fraction) // 2 * 2)
    married.sort(key=lambda p: (int(p.attrs["birth_year"]), p.id))
    for a, b in zip(married[0::2], married[1::2]):
        a.attrs["spouse"], a.refs["spouse"] = b.name, b.id
        b.attrs["spouse"], b.refs["spouse"] = a.name, a.id
