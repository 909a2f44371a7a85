"""The synthetic web at micro size, for the tests of the stages that read it (web, dedup, sft,
the facts probes): the `web` stage run through its command line into a folder."""

from __future__ import annotations

from pathlib import Path

from kit.stages import run_stage, write_stage_params

# The micro profile's sizes: a few hundred pages in about a second.
MICRO = {
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
}
CRAWL_DELAY = 0.05


def generate(root: Path, **overrides) -> Path:
    """Run the stage through its command line into `root`; returns the output folder."""
    root.mkdir(parents=True, exist_ok=True)
    out = root / "out"
    section = {
        **MICRO,
        "crawl_delay": CRAWL_DELAY,
        **overrides,
        "site": str(out / "site"),
        "facts": str(out / "facts.parquet"),
        "pages": str(out / "pages.parquet"),
        "metrics": str(out / "web.json"),
    }
    params = write_stage_params(root / "params.yaml", "web", section, profile="micro", executor={"workers": 1})
    assert run_stage("web", params) == 0
    return out
