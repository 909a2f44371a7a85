"""Params of the `web` stage: the size and shape of the synthetic web. Defaults are the `tiny` profile;
PROFILES holds the other profiles' values."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from crisol.core.params import Section
from crisol.core.path_roles import OutputDir, OutputFile


class WebParams(Section):
    """The synthetic web: a fictional world rendered as pages on several hosts (stages/web): how big the
    world is, which pages describe it, and where the outputs go."""

    seed: int = 20240501
    # Lower-case ASCII world name: it names the hosts (en.<world>-wiki.test, <world>-news.test, ...).
    world: str = Field("aldoria", pattern=r"^[a-z][a-z0-9]{2,20}$")

    # The world.
    countries: int = Field(6, ge=1, le=40)
    cities: int = Field(60, ge=1)
    organisations: int = Field(40, ge=1)
    people: int = Field(200, ge=2)
    spouse_fraction: float = Field(0.4, ge=0.0, le=1.0)  # share of people who are married (pairs)

    # English content pages. Every entity has a wiki article; these knobs add more mentions.
    news_articles: int = Field(150, ge=0)
    faq_fraction: float = Field(0.3, ge=0.0, le=1.0)  # entities that also get an FAQ page
    # Fact sheets per entity on the Answers host: every fact once, in an order and wording of the
    # sheet's own (knowledge augmentation; stages/web/profiles.py says why). 2 on tiny: held-out
    # closed-book exact match SFT +0.088 +- 0.048, RLHF +0.126 +- 0.046 (paired, one seed).
    profiles_per_entity: int = Field(2, ge=0)
    filler_min_words: int = Field(80, ge=0)  # target prose length of an article ...
    filler_max_words: int = Field(200, ge=0)  # ... drawn per page in [min, max]
    index_page_size: int = Field(100, ge=5)  # links per listing page

    # Copies, noise and other languages.
    mirror_fraction: float = Field(0.1, ge=0.0, le=1.0)  # wiki articles copied byte for byte
    near_dup_fraction: float = Field(0.15, ge=0.0, le=1.0)  # articles + news copied with edits
    near_dup_edit_min: float = Field(0.01, ge=0.0, le=0.5)  # share of words edited, drawn per copy
    near_dup_edit_max: float = Field(0.10, ge=0.0, le=0.5)
    spam_pages: int = Field(150, ge=0)
    pii_fraction: float = Field(0.08, ge=0.0, le=1.0)  # news pages carrying emails/phones/IPs
    foreign_fraction: float = Field(0.2, ge=0.0, le=1.0)  # entities with an article per language
    foreign_langs: list[str] = Field(default_factory=lambda: ["de", "es", "fr"])
    disallowed_fraction: float = Field(0.03, ge=0.0, le=1.0)  # entities with a robots-disallowed edit page
    old_url_redirects: int = Field(20, ge=0)  # /old/<slug> -> 301 -> article
    oversized_page_bytes: int = Field(2_000_000, gt=1_048_576)  # above the crawler's 1 MB default

    # robots.txt: the Crawl-delay every host states (seconds)
    crawl_delay: float = Field(0.02, ge=0.0, le=60.0)

    # Outputs.
    site: OutputDir = Path("data/web/site")
    facts: OutputFile = Path("data/web/facts.parquet")
    pages: OutputFile = Path("data/web/pages.parquet")
    metrics: OutputFile = Path("data/metrics/web.json")

    @model_validator(mode="after")
    def _ranges(self) -> "WebParams":
        if self.cities < self.countries:
            raise ValueError("cities must be at least countries (every country needs a capital)")
        if self.filler_min_words > self.filler_max_words:
            raise ValueError("filler_min_words must not exceed filler_max_words")
        if self.near_dup_edit_min > self.near_dup_edit_max:
            raise ValueError("near_dup_edit_min must not exceed near_dup_edit_max")
        unknown = [lang for lang in self.foreign_langs if lang not in SUPPORTED_FOREIGN]
        if unknown:
            raise ValueError(f"foreign_langs: {unknown[0]!r} is not one of {', '.join(SUPPORTED_FOREIGN)}")
        if len(set(self.foreign_langs)) != len(self.foreign_langs):
            raise ValueError("foreign_langs: languages must be unique")
        return self


# The profiles' values (the defaults are tiny's; crisol/core/params.py: PROFILE_NOTES).
PROFILES = {
    "micro": {
        "countries": 3,
        "cities": 30,
        "organisations": 24,
        "people": 120,
        "news_articles": 60,
        "filler_min_words": 150,
        "filler_max_words": 300,
        "index_page_size": 50,
        "spam_pages": 24,
        "old_url_redirects": 5,
        "disallowed_fraction": 0.05,
        "oversized_page_bytes": 1_200_000,
        "crawl_delay": 0.01,
        # The test world: its suites check pages, not what a model learns from them (the sheets'
        # own tests generate them at micro size).
        "profiles_per_entity": 0,
    },
}

# Languages with sentence templates in stages/web/foreign.py.
SUPPORTED_FOREIGN = ("de", "es", "fr")
