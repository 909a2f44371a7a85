"""The synthetic web at micro size, for the tests of the stages that read it (web, dedup, sft,
the facts probes): the `web` stage run through its command line into a folder."""

from __future__ import annotations

from pathlib import Path

from kit.stages import run_stage, write_stage_params
from stages.web.params import PROFILES

# The micro profile's sizes: a few hundred pages in about a second. The profile's own values, not a
# copy: these tests need a small web, none is about these numbers. (Its crawl_delay, unused by the
# generator, is overridden by CRAWL_DELAY where the stage writes robots.txt.)
MICRO = PROFILES["micro"]
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
