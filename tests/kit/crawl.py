"""Helpers for the crawl tests: build a tiny site directory following the site contract, crawl it.

The tests never depend on stage `web`: each writes its own few pages here.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from stages.crawl.params import CrawlParams
from stages.crawl.server import LoggedRequest, SiteServer
from stages.crawl.site import load_site
from stages.crawl.stage import crawl_site

LOG = logging.getLogger("test.crawl")


def page(*hrefs: str, text: str = "Some words about Aldoria.") -> str:
    links = "\n".join(f'<a href="{h}">link {i}</a>' for i, h in enumerate(hrefs))
    return f"<!doctype html><html><head><title>t</title></head><body><p>{text}</p>\n{links}\n</body></html>\n"


def robots(delay: float | None = None, disallow: tuple[str, ...] = (), sitemap: str | None = None) -> str:
    lines = ["User-agent: *"] + [f"Disallow: {d}" for d in disallow]
    if delay is not None:
        lines.append(f"Crawl-delay: {delay}")
    if sitemap:
        lines.append(f"Sitemap: {sitemap}")
    return "\n".join(lines) + "\n"


def write_site(
    root: Path,
    files: dict[str, str | bytes],
    seeds: list[str],
    redirects: dict | None = None,
    content_types: dict | None = None,
) -> Path:
    """`files` maps "host/path" to content; hosts are taken from the keys."""
    hosts = sorted({key.split("/", 1)[0] for key in files})
    for key, content in files.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
    (root / "site.json").write_text(
        json.dumps(
            {
                "schema_version": 1,
                "hosts": hosts,
                "seeds": seeds,
                "redirects": redirects or {},
                "content_types": content_types or {},
            }
        )
    )
    return root


@dataclass
class CrawlRun:
    metrics: dict
    requests: list[LoggedRequest]
    params: CrawlParams
    port: int

    def paths(self, host: str | None = None) -> list[str]:
        return [r.path for r in self.requests if host is None or r.host == host]


def crawl(site: Path, tmp_path: Path, latency_s: float = 0.0, **overrides) -> CrawlRun:
    """Serve `site`, crawl it with fast test settings (plus `overrides`), return what happened."""
    settings = dict(
        site=site, out=tmp_path / "warc", metrics=tmp_path / "crawl.json", min_delay_s=0.0, timeout_s=5.0, concurrency=4
    )
    settings.update(overrides)
    params = CrawlParams(**settings)
    with SiteServer(load_site(site), latency_s=latency_s) as server:
        metrics = crawl_site(params, LOG, server)
        return CrawlRun(metrics, server.requests, params, server.port)
