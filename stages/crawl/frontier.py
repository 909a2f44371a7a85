"""The frontier: which URLs are still to fetch, per origin, and which were already seen.

Every URL offered is normalised and checked once: a URL seen before is dropped; a new one is
either queued on its origin's queue or refused with a reason (scheme, ssrf, out_of_scope, depth,
malformed) and counted. Redirect hops jump the queue so a chain completes promptly.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

from stages.crawl.safety import UrlGuard
from stages.crawl.stats import CrawlStats
from stages.crawl.urls import HostPorts, Url

Kind = Literal["page", "sitemap"]
QUEUED = "queued"
SEEN = "seen"


@dataclass(frozen=True)
class CrawlItem:
    url: Url
    depth: int  # link hops from a seed (a redirect keeps its source's depth)
    kind: Kind = "page"
    chain: tuple[str, ...] = ()  # the URLs that redirected here, oldest first


class Frontier:
    def __init__(self, scope: HostPorts, guard: UrlGuard, max_depth: int, stats: CrawlStats) -> None:
        self.scope = scope
        self.guard = guard
        self.max_depth = max_depth
        self.stats = stats
        self.seen: set[str] = set()
        self.queues: dict[str, deque[CrawlItem]] = {}

    def in_scope(self, url: Url) -> bool:
        return self.scope.allows(url)

    def offer(
        self, url: Url | None, depth: int, kind: Kind = "page", chain: tuple[str, ...] = (), first: bool = False
    ) -> str:
        """Queue `url` unless seen or refused; returns QUEUED, SEEN or the refusal reason."""
        if url is None:
            self.stats.refuse("malformed", None)
            return "malformed"
        if url.text in self.seen:
            return SEEN
        self.seen.add(url.text)
        self.stats.urls_seen += 1
        reason = self.guard.static_refusal(url)
        if reason is None and not self.in_scope(url):
            reason = "out_of_scope"
        if reason is None and depth > self.max_depth:
            reason = "depth"
        if reason is not None:
            self.stats.refuse(reason, url.host if self.in_scope(url) else None)
            return reason
        queue = self.queues.setdefault(url.origin, deque())
        item = CrawlItem(url, depth, kind, chain)
        if first:
            queue.appendleft(item)
        else:
            queue.append(item)
        return QUEUED

    def pending(self) -> int:
        return sum(len(q) for q in self.queues.values())
