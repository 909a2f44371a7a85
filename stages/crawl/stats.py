"""Counters of a crawl, and their metrics.json form.

Every URL the crawler meets ends in exactly one place: stored, refused (with its reason), a
duplicate of one already seen, or left in the queue when the page budget ran out.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field


@dataclass
class CrawlStats:
    started: float = field(default_factory=time.monotonic)
    requests: Counter = field(default_factory=Counter)  # by kind: robots, sitemap, page
    pages_fetched: int = 0  # page responses received (any status)
    pages_stored: int = 0
    stored_by_type: Counter = field(default_factory=Counter)
    bytes_fetched: int = 0  # decoded body bytes received, all kinds
    bytes_stored: int = 0
    refused: Counter = field(default_factory=Counter)
    non_html_by_type: Counter = field(default_factory=Counter)
    redirects_followed: int = 0
    redirect_to_seen: int = 0  # redirect target already fetched or queued: not fetched again
    urls_seen: int = 0
    sitemap_urls: int = 0
    sitemap_errors: int = 0
    nofollow_pages: int = 0  # stored, but their links not followed (meta robots nofollow)
    unfetched_budget: int = 0
    hosts: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    robots: dict[str, dict] = field(default_factory=dict)  # origin -> source, delay, sitemaps

    def refuse(self, reason: str, host: str | None) -> None:
        """Count a refusal; `host` (an in-scope host, or None) also gets it in its own counts."""
        self.refused[reason] += 1
        if host:
            self.hosts[host]["refused"] += 1

    def request(self, kind: str, host: str) -> None:
        self.requests[kind] += 1
        self.hosts[host]["requests"] += 1

    def store(self, mime: str, size: int, host: str) -> None:
        self.pages_stored += 1
        self.stored_by_type[mime] += 1
        self.bytes_stored += size
        self.hosts[host]["stored"] += 1

    def to_metrics(self, warc_files: list[str]) -> dict:
        seconds = max(time.monotonic() - self.started, 1e-9)
        return {
            "pages_fetched": self.pages_fetched,
            "pages_stored": self.pages_stored,
            "stored_by_content_type": dict(self.stored_by_type),
            "bytes_fetched": self.bytes_fetched,
            "bytes_stored": self.bytes_stored,
            "requests": dict(self.requests),
            "refused": dict(self.refused),
            "refused_total": sum(self.refused.values()),
            "non_html_by_content_type": dict(self.non_html_by_type),
            "redirects_followed": self.redirects_followed,
            "redirect_to_seen": self.redirect_to_seen,
            "urls_seen": self.urls_seen,
            "sitemap_urls": self.sitemap_urls,
            "sitemap_errors": self.sitemap_errors,
            "nofollow_pages": self.nofollow_pages,
            "unfetched_budget": self.unfetched_budget,
            "hosts": {h: dict(c) for h, c in sorted(self.hosts.items())},
            "robots": dict(sorted(self.robots.items())),
            "crawl_seconds": round(seconds, 3),
            "pages_per_s": round(self.pages_fetched / seconds, 2),
            "warc_files": len(warc_files),
            "warc_file_names": warc_files,
        }
