"""Stage `crawl`: serve the synthetic web on loopback and crawl it politely into WARC.

With `serve` (the default) the stage starts a server for `crawl.site` on 127.0.0.1 (a free port),
pins every host of `site.json` to it, crawls from site.json's seeds plus `crawl.seeds`, and stops
the server at the end, also on error. Without `serve` it crawls `crawl.seeds` on the real network
and nothing is pinned or allow-listed beyond `crawl.ssrf_allow_hosts`.
Output: `crawl.out`/crawl-NNNNN.warc.gz, written into a temporary sibling directory and renamed
into place only when the crawl completed, plus the metrics.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import ExitStack
from importlib.metadata import version
from pathlib import Path

from crisol.core.atomic import atomic_dir
from crisol.core.cli import StageContext
from crisol.core.errors import StageInputError
from stages.crawl.crawler import Crawler
from stages.crawl.fetcher import Fetcher
from stages.crawl.params import CrawlParams
from stages.crawl.safety import ConnectTarget, UrlGuard
from stages.crawl.server import SiteServer
from stages.crawl.site import load_site
from stages.crawl.urls import HostPorts, parse_url
from stages.crawl.warc import WarcShardWriter

HTTP_PORT = 80


def _seeds_and_scope(params: CrawlParams, server: SiteServer | None) -> tuple[list[str], HostPorts]:
    seeds = (list(server.site.seeds) if server else []) + list(params.seeds)
    if not seeds:
        where = "site.json nor crawl.seeds" if server else "crawl.seeds (crawl.serve is false)"
        raise StageInputError(f"no seed URLs: neither {where} has any")
    scope = HostPorts(params.allow_hosts)
    for seed in seeds:
        url = parse_url(seed)
        if url is None or url.scheme not in ("http", "https"):
            raise StageInputError(f"seed {seed!r} is not an absolute http(s) URL")
        scope.add(url)  # the seed's host on the seed's port only
    return seeds, scope


def _guard(params: CrawlParams, server: SiteServer | None) -> UrlGuard:
    pinned = {}
    if server is not None:
        # Like `curl --resolve host:80:127.0.0.1`: only the site's own hosts reach the server.
        target = ConnectTarget("127.0.0.1", server.port)
        pinned = {(host, HTTP_PORT): target for host in server.site.hosts}
    return UrlGuard(allow_hosts=params.ssrf_allow_hosts, pinned=pinned, resolve_timeout_s=params.timeout_s)


def _warcinfo(params: CrawlParams, server: SiteServer | None) -> dict[str, str]:
    return {
        "software": f"crisol crawl (warcio {version('warcio')}, httpx {version('httpx')})",
        "format": "WARC File Format 1.0",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.0/",
        "isPartOf": "crisol-crawl",
        "description": ("synthetic web served on loopback from " + str(params.site))
        if server
        else "web crawl from crawl.seeds",
        "robots": "obeyed (RFC 9309)",
        "http-header-user-agent": params.user_agent,
    }


async def _crawl(
    params: CrawlParams,
    guard: UrlGuard,
    writer: WarcShardWriter,
    seeds: list[str],
    scope: HostPorts,
    log: logging.Logger,
):
    fetcher = Fetcher(guard, params.user_agent, params.timeout_s, params.concurrency)
    try:
        return await Crawler(params, fetcher, writer, scope, log).run(seeds)
    finally:
        await fetcher.aclose()


def crawl_site(params: CrawlParams, log: logging.Logger, server: SiteServer | None) -> dict:
    """Crawl from the seeds (through `server` when given) into `params.out`; returns metrics."""
    seeds, scope = _seeds_and_scope(params, server)
    guard = _guard(params, server)
    # httpx logs every request at INFO: thousands of lines; the crawl reports its own progress.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    log.info("crawling %d seeds, %d host:ports in scope, at most %d pages", len(seeds), len(scope), params.max_pages)
    with atomic_dir(params.out) as tmp:
        writer = WarcShardWriter(Path(tmp), params.records_per_file, _warcinfo(params, server))
        try:
            stats = asyncio.run(_crawl(params, guard, writer, seeds, scope, log))
        finally:
            writer.close()
        if stats.pages_stored == 0:
            raise StageInputError(
                f"the crawl stored no page (refused: {dict(stats.refused)}); check the seeds, robots.txt and the server"
            )
    metrics = stats.to_metrics([f.name for f in writer.files])
    log.info(
        "crawl: %d pages stored in %d WARC files, %d refused, %.1f pages/s",
        metrics["pages_stored"],
        metrics["warc_files"],
        metrics["refused_total"],
        metrics["pages_per_s"],
    )
    return metrics


def run(ctx: StageContext) -> None:
    """Serve the synthetic web on loopback and crawl it politely into WARC."""
    params: CrawlParams = ctx.params
    if params.serve:  # crawling the synthetic web; a crawl of real seeds (serve: false) is the user's own
        ctx.source.refuse_world("crawl")
    with ExitStack() as stack:
        server = None
        if params.serve:
            server = stack.enter_context(SiteServer(load_site(params.site)))
            ctx.log.info("serving %s on 127.0.0.1:%d", params.site, server.port)
        ctx.metrics.update(crawl_site(params, ctx.log, server))
