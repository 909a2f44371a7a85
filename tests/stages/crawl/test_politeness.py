"""Politeness: Crawl-delay and min_delay_s per host, slowing down for a slow server, one User-Agent
with a contact URL, no cookies, hosts crawled in parallel."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from kit.crawl import crawl, page, robots, write_site
from stages.crawl.crawler import Crawler
from stages.crawl.fetcher import Fetcher
from stages.crawl.params import CrawlParams
from stages.crawl.safety import ConnectTarget, UrlGuard
from stages.crawl.urls import HostPorts, parse_url
from stages.crawl.warc import WarcShardWriter

A, B = "a.test", "b.test"


def _pages(host: str, n: int, delay: float | None) -> dict[str, str]:
    files = {f"{host}/robots.txt": robots(delay), f"{host}/index.html": page(*[f"/p{i}.html" for i in range(n)])}
    files.update({f"{host}/p{i}.html": page() for i in range(n)})
    return files


def _gaps(run, host: str) -> list[float]:
    times = [r.time for r in run.requests if r.host == host]
    return [later - earlier for earlier, later in zip(times, times[1:])]


@pytest.mark.parametrize("crawl_delay, min_delay, expected", [(0.15, 0.0, 0.15), (0.02, 0.15, 0.15)])
def test_requests_to_one_host_are_spaced_by_the_larger_delay(tmp_path, crawl_delay, min_delay, expected):
    site = write_site(
        tmp_path / "site", {**_pages(A, 4, crawl_delay), **_pages(B, 4, crawl_delay)}, [f"http://{A}/", f"http://{B}/"]
    )
    run = crawl(site, tmp_path, min_delay_s=min_delay, slowdown_factor=0.0)
    for host in (A, B):
        gaps = _gaps(run, host)
        assert len(gaps) == 5  # robots.txt, /, 4 pages: 6 requests
        assert min(gaps) >= expected, (host, gaps)
    # The two hosts are crawled side by side: total time well under the sequential sum.
    all_times = [r.time for r in run.requests]
    assert max(all_times) - min(all_times) < 2 * 5 * expected


def test_a_slow_server_is_asked_less_often(tmp_path):
    site = write_site(tmp_path / "site", _pages(A, 3, None), [f"http://{A}/"])
    latency = 0.1
    slowed = crawl(site, tmp_path / "slowed", latency_s=latency, slowdown_factor=1.0)
    # delay after a response >= 1 x its response time, so request starts are >= 2 x latency apart
    assert min(_gaps(slowed, A)) >= 2 * latency - 0.005
    eager = crawl(site, tmp_path / "eager", latency_s=latency, slowdown_factor=0.0)
    assert min(_gaps(eager, A)) < 2 * latency - 0.005  # proves the check above can fail


def test_user_agent_has_contact_url_and_no_cookies_are_kept():
    sent: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(
            200, headers={"Set-Cookie": "session=abc; Path=/", "Content-Type": "text/html"}, content=b"<html></html>"
        )

    guard = UrlGuard(pinned={("c.test", 80): ConnectTarget("127.0.0.1", 8123)})
    user_agent = CrawlParams().user_agent
    fetcher = Fetcher(guard, user_agent, 5.0, 2, transport=httpx.MockTransport(server))

    async def two_fetches():
        for path in ("/one", "/two"):
            await fetcher.fetch(parse_url(f"http://c.test{path}"), 1000, lambda mime: True)
        await fetcher.aclose()

    asyncio.run(two_fetches())
    assert [str(r.url) for r in sent] == ["http://127.0.0.1:8123/one", "http://127.0.0.1:8123/two"]
    assert all(r.headers["Host"] == "c.test" for r in sent)  # the pinned host keeps its name
    assert all(r.headers["User-Agent"] == user_agent for r in sent)
    assert "+https://" in user_agent
    assert "cookie" not in {k.lower() for k in sent[1].headers}


def test_user_agent_without_contact_url_is_rejected():
    with pytest.raises(ValueError, match="contact"):
        CrawlParams(user_agent="crisolbot/0.1")


def test_a_busy_server_gets_exponential_backoff(tmp_path):
    """503 / 429 double the host's delay each time (and success halves it again)."""
    times: list[tuple[str, float]] = []

    def server(request: httpx.Request) -> httpx.Response:
        times.append((request.url.path, loop_time()))
        if request.url.path == "/":
            return httpx.Response(
                200,
                headers={"Content-Type": "text/html"},
                content=page("/busy1", "/busy2", "/busy3", "/ok", "/ok2").encode(),
            )
        if request.url.path.startswith("/busy"):
            return httpx.Response(503 if request.url.path != "/busy2" else 429)
        return httpx.Response(200, headers={"Content-Type": "text/html"}, content=b"<p>ok</p>")

    def loop_time():
        return asyncio.get_running_loop().time()

    params = CrawlParams(out=tmp_path, metrics=tmp_path / "m.json", min_delay_s=0.05, slowdown_factor=0.0)
    guard = UrlGuard(pinned={("busy.test", 80): ConnectTarget("127.0.0.1", 80)})

    async def crawl_busy():
        fetcher = Fetcher(guard, params.user_agent, 5.0, 1, transport=httpx.MockTransport(server))
        writer = WarcShardWriter(tmp_path, 100, {"software": "test"})
        try:
            return await Crawler(params, fetcher, writer, HostPorts(["busy.test"]), logging.getLogger("t")).run(
                ["http://busy.test/"]
            )
        finally:
            writer.close()
            await fetcher.aclose()

    stats = asyncio.run(crawl_busy())
    assert [p for p, _ in times] == ["/robots.txt", "/", "/busy1", "/busy2", "/busy3", "/ok", "/ok2"]
    gaps = [later - earlier for (_, earlier), (_, later) in zip(times, times[1:])]
    # robots(404) / (200) busy1(503) busy2(429) busy3(503) ok(200): backoff 1 1 2 4 8 4
    for gap, factor in zip(gaps, [1, 1, 2, 4, 8, 4]):
        assert gap >= 0.05 * factor, gaps
    assert gaps[5] < gaps[4]  # success brings the delay back down
    assert stats.refused["http_status_503"] == 2 and stats.refused["http_status_429"] == 1
