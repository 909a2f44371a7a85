"""Stage `web`: generate a deterministic synthetic web about a fictional world, with ground truth."""

from __future__ import annotations

import time
from collections import Counter

from crisol.core.cli import StageContext
from crisol.formats.artifacts import write_parquet
from crisol.formats.schemas import FACTS, PAGES
from stages.web.generate import generate
from stages.web.groundtruth import fact_mentions, fact_rows, page_rows
from stages.web.site import write_site


def run(ctx: StageContext) -> None:
    """Generate the synthetic web (site directory, facts.parquet, pages.parquet) from a seed."""
    ctx.source.refuse_world("web")
    p = ctx.params
    start = time.perf_counter()
    web = generate(p)
    ctx.log.info(
        "generated %d pages about %d entities in %.1f s",
        len(web.pages),
        len(web.world.entities),
        time.perf_counter() - start,
    )
    site = write_site(p.site, web, p.crawl_delay)
    texts = [page.main_text for page in web.pages]
    write_parquet(p.facts, FACTS, fact_rows(web.world), params=ctx.params_dict())
    write_parquet(p.pages, PAGES, page_rows(web.pages, texts), params=ctx.params_dict())
    ctx.log.info(
        "wrote %s (%d files, %.1f MB), %s and %s",
        p.site,
        site["html_files"] + site["other_files"],
        site["bytes"] / 1e6,
        p.facts,
        p.pages,
    )
    ctx.metrics.update(_metrics(web, texts, site))


def _metrics(web, texts: list[str], site: dict[str, int]) -> dict:
    pages = web.pages
    mentions = fact_mentions(web.world, pages, texts)
    facts = web.world.facts
    near = [p.edit_fraction for p in pages if p.kind == "near_duplicate"]
    return {
        "entities": dict(Counter(e.kind for e in web.world.entities.values())),
        "facts": len(facts),
        "facts_by_relation": dict(Counter(f.relation for f in facts)),
        "facts_on_crawlable_pages": sum(1 for f in facts if mentions[f.fact_id] > 0),
        "fact_coverage": round(sum(1 for f in facts if mentions[f.fact_id] > 0) / max(1, len(facts)), 4),
        "fact_mentions_mean": round(sum(mentions.values()) / max(1, len(facts)), 2),
        "pages": len(pages),
        "pages_by_kind": dict(sorted(Counter(p.kind for p in pages).items())),
        "pages_by_host": dict(sorted(Counter(p.host for p in pages).items())),
        "pages_by_lang": dict(sorted(Counter(p.lang for p in pages).items())),
        "pages_by_style": dict(sorted(Counter(p.style for p in pages).items())),
        "pages_disallowed": sum(p.disallowed for p in pages),
        "pages_with_pii": sum(p.style == "news_pii" for p in pages),
        "near_dup_edit_fraction_mean": round(sum(near) / len(near), 4) if near else 0.0,
        "main_text_bytes": sum(len(t.encode("utf-8")) for t in texts),
        "main_text_words": sum(len(t.split()) for t in texts),
        "redirects": sum(len(r) for r in web.redirects.values()),
        "hosts": len(web.host_names),
        "site_files": site["html_files"] + site["other_files"],
        "site_bytes": site["bytes"],
    }
