"""The concurrent, polite crawl loop (asyncio + one httpx.AsyncClient).

One worker task per origin (scheme://host:port) fetches that origin's queue one request at a time,
so per-host politeness is simple and exact; a global semaphore caps requests in flight across
hosts. For each origin:
1. robots.txt is fetched first; its rules decide every later URL *before* it is requested, and
   its Sitemap lines become extra seeds;
2. between two requests the worker waits max(Crawl-delay, min_delay_s,
   slowdown_factor x the last response time) x backoff, counted from the end of the previous
   response (backoff doubles on 429/503 and decays on success): a slow server is asked less often;
3. redirects are not followed inline: the target goes back to the front of its origin's queue,
   carrying the chain, so every hop is paced and re-checked (robots, scope, SSRF); past
   `max_redirects` hops, or back into its own chain, it is refused.
Every queue item costs one unit of the page budget (robots.txt requests do not); the crawl ends
when every queue is empty or the budget is spent.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass

from crisol.core.progress import LOG_EVERY_S
from stages.crawl.fetcher import Fetched, Fetcher
from stages.crawl.frontier import QUEUED, SEEN, CrawlItem, Frontier, Kind
from stages.crawl.links import decode_html, extract_links
from stages.crawl.params import CrawlParams
from stages.crawl.robots import MAX_ROBOTS_BYTES, RobotsRules, fetch_robots
from stages.crawl.safety import Refused
from stages.crawl.sitemaps import SitemapError, parse_sitemap
from stages.crawl.stats import CrawlStats
from stages.crawl.urls import HostPorts, Url, parse_url
from stages.crawl.warc import WarcShardWriter

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
BACKOFF_STATUSES = frozenset({429, 503})
MAX_BACKOFF = 16.0


def is_html(mime: str) -> bool:
    return mime in HTML_TYPES


def _any_type(mime: str) -> bool:
    return True


@dataclass
class HostState:
    origin: str
    host: str
    queue: deque[CrawlItem]  # the frontier's queue for this origin
    robots: RobotsRules | None = None
    # Why this origin is not crawled at all (refused address, Crawl-delay too long); each of its
    # URLs is counted under this reason.
    skipped: str = ""
    last_end: float | None = None  # event-loop time the previous response ended
    last_elapsed: float = 0.0  # how long the previous response took
    backoff: float = 1.0


class Crawler:
    def __init__(
        self, params: CrawlParams, fetcher: Fetcher, writer: WarcShardWriter, scope: HostPorts, log: logging.Logger
    ) -> None:
        self.params = params
        self.fetcher = fetcher
        self.writer = writer
        self.log = log
        self.stats = CrawlStats()
        self.frontier = Frontier(scope, fetcher.guard, params.max_depth, self.stats)
        self.hosts: dict[str, HostState] = {}
        self.workers: dict[str, asyncio.Task] = {}
        self.budget = params.max_pages
        self.slots = asyncio.Semaphore(params.concurrency)
        self._worker_ended = asyncio.Event()
        self._error: BaseException | None = None

    # ---- the loop -------------------------------------------------------------------------

    async def run(self, seeds: list[str]) -> CrawlStats:
        for seed in seeds:
            self.offer(parse_url(seed), depth=0)
        reporter = asyncio.create_task(self._report())
        try:
            while self.workers:
                await self._worker_ended.wait()
                self._worker_ended.clear()
                if self._error is not None:
                    raise self._error  # a worker's crash ends the crawl (and discards its output)
        finally:
            reporter.cancel()
            for task in self.workers.values():
                task.cancel()
            await asyncio.gather(*self.workers.values(), reporter, return_exceptions=True)
        self.stats.unfetched_budget = self.frontier.pending()
        return self.stats

    def offer(
        self, url: Url | None, depth: int, kind: Kind = "page", chain: tuple[str, ...] = (), first: bool = False
    ) -> str:
        outcome = self.frontier.offer(url, depth, kind, chain, first)
        if outcome == QUEUED and url.origin not in self.workers:
            host = self.hosts.get(url.origin)
            if host is None:
                host = self.hosts[url.origin] = HostState(url.origin, url.host, self.frontier.queues[url.origin])
            self.workers[url.origin] = asyncio.create_task(self._work(host), name=url.origin)
        return outcome

    async def _work(self, host: HostState) -> None:
        try:
            if host.robots is None and self.budget > 0:
                await self._load_robots(host)
            while host.queue and self.budget > 0:
                item = host.queue.popleft()
                if host.skipped:
                    self.stats.refuse(host.skipped, host.host)
                elif not host.robots.allowed(item.url.text):
                    self.stats.refuse("robots", host.host)  # decided before any request
                else:
                    self.budget -= 1
                    await (self._crawl_page(host, item) if item.kind == "page" else self._crawl_sitemap(host, item))
        except Exception as exc:
            self._error = self._error or exc
        finally:
            # No await between the empty-queue check and here: an offer() after this line
            # starts a fresh worker for the origin.
            self.workers.pop(host.origin, None)
            self._worker_ended.set()

    async def _report(self) -> None:
        while True:
            await asyncio.sleep(LOG_EVERY_S)
            s = self.stats
            self.log.info(
                "crawl: %d fetched, %d stored, %d refused, %d queued, %d hosts active",
                s.pages_fetched,
                s.pages_stored,
                sum(s.refused.values()),
                self.frontier.pending(),
                len(self.workers),
            )

    # ---- politeness ------------------------------------------------------------------------

    async def _paced_fetch(
        self, host: HostState, kind: str, url: Url, max_bytes: int, wants_body, truncate: bool = False
    ) -> Fetched:
        # The SSRF check (a DNS lookup for unpinned hosts, cached) comes before any waiting, so a
        # refused URL costs neither a request nor the host's time.
        await self.fetcher.guard.connect_target(url)
        loop = asyncio.get_running_loop()
        if host.last_end is not None:
            # Computed now, not when the last response ended: robots.txt's Crawl-delay is only
            # known after robots.txt itself was fetched.
            wait = host.last_end + self._delay(host) - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
        async with self.slots:
            self.stats.request(kind, host.host)
            start = loop.time()
            status = None
            try:
                response = await self.fetcher.fetch(url, max_bytes, wants_body, truncate)
                status = response.status
                self.stats.bytes_fetched += len(response.body or b"")
                return response
            finally:
                host.last_end = loop.time()
                host.last_elapsed = host.last_end - start
                if status in BACKOFF_STATUSES:
                    host.backoff = min(host.backoff * 2, MAX_BACKOFF)
                elif status is not None and status < 400:
                    host.backoff = max(1.0, host.backoff / 2)

    def _delay(self, host: HostState) -> float:
        """Seconds to leave between the end of the host's last response and its next request."""
        asked = host.robots.crawl_delay if host.robots is not None else None
        base = max(asked or 0.0, self.params.min_delay_s, self.params.slowdown_factor * host.last_elapsed)
        return base * host.backoff

    async def _load_robots(self, host: HostState) -> None:
        async def get(url: Url) -> Fetched:
            return await self._paced_fetch(host, "robots", url, MAX_ROBOTS_BYTES, _any_type, truncate=True)

        try:
            # An origin the guard refuses (or that does not resolve) is refused as a whole, under
            # that reason, rather than as "robots.txt unreachable".
            await self.fetcher.guard.connect_target(parse_url(f"{host.origin}/robots.txt"))
        except Refused as exc:
            host.skipped = exc.reason
            host.robots = RobotsRules("unreachable", self.params.robots_token, detail=exc.reason)
            self.stats.robots[host.origin] = {"source": "not_fetched", "detail": exc.reason}
            return
        rules = await fetch_robots(host.origin, get, self.params.robots_token, self.params.robots_max_redirects)
        host.robots = rules
        delay = rules.crawl_delay
        if delay is not None and delay > self.params.max_crawl_delay_s:
            host.skipped = "crawl_delay"
            self.log.warning("%s asks for Crawl-delay %.0f s (> max_crawl_delay_s): not crawled", host.origin, delay)
        if rules.source != "fetched":
            self.log.info("%s: robots.txt %s (%s)", host.origin, rules.source, rules.detail)
        self.stats.robots[host.origin] = {
            "source": rules.source,
            "detail": rules.detail,
            "crawl_delay_s": delay,
            "sitemaps": len(rules.sitemaps),
        }
        for sitemap in rules.sitemaps:
            self.offer(parse_url(sitemap, base=f"{host.origin}/robots.txt"), depth=0, kind="sitemap")

    # ---- one item --------------------------------------------------------------------------

    async def _fetch_item(self, host: HostState, item: CrawlItem, wants_body) -> Fetched | None:
        """Fetch an item; None when it was refused, failed, redirected or answered non-2xx."""
        try:
            response = await self._paced_fetch(host, item.kind, item.url, self.params.max_page_bytes, wants_body)
        except Refused as exc:
            self.stats.refuse(exc.reason, host.host)
            return None
        if item.kind == "page":
            self.stats.pages_fetched += 1
        location = response.header("Location")
        if 300 <= response.status < 400 and location:
            self._follow_redirect(item, location)
            return None
        if response.status != 200:
            self.stats.refuse(f"http_status_{response.status}", host.host)
            return None
        return response

    def _follow_redirect(self, item: CrawlItem, location: str) -> None:
        target = parse_url(location, base=item.url.text)
        chain = item.chain + (item.url.text,)
        if target is not None and target.text in chain:
            self.stats.refuse("redirect_loop", item.url.host)
        elif len(chain) > self.params.max_redirects:
            self.stats.refuse("too_many_redirects", item.url.host)
        else:
            outcome = self.offer(target, item.depth, item.kind, chain, first=True)
            if outcome == QUEUED:
                self.stats.redirects_followed += 1
            elif outcome == SEEN:
                self.stats.redirect_to_seen += 1

    async def _crawl_page(self, host: HostState, item: CrawlItem) -> None:
        response = await self._fetch_item(host, item, is_html)
        if response is None:
            return
        if response.body is None:  # a 200 whose type is not HTML: never downloaded
            self.stats.refuse("non_html", host.host)
            self.stats.non_html_by_type[response.mime or "unknown"] += 1
            return
        self.writer.write(response)
        self.stats.store(response.mime, len(response.body), host.host)
        links = extract_links(decode_html(response), self.params.robots_token)
        if links.nofollow:
            self.stats.nofollow_pages += 1
            return
        base = (parse_url(links.base, item.url.text) if links.base else None) or item.url
        for href in links.hrefs:
            self.offer(parse_url(href, base.text), item.depth + 1)

    async def _crawl_sitemap(self, host: HostState, item: CrawlItem) -> None:
        response = await self._fetch_item(host, item, _any_type)
        if response is None:
            return
        try:
            sitemap = parse_sitemap(response.body or b"", self.params.max_page_bytes)
        except SitemapError as exc:
            self.stats.sitemap_errors += 1
            self.log.warning("sitemap %s skipped: %s", item.url.text, exc)
            return
        self.stats.sitemap_urls += len(sitemap.pages)
        for loc in sitemap.pages:
            self.offer(parse_url(loc, item.url.text), depth=0)
        for loc in sitemap.sitemaps:
            self.offer(parse_url(loc, item.url.text), depth=0, kind="sitemap")
