"""Limits: page size (declared or streamed), HTML only, HTTP errors, page budget, depth."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from kit.crawl import crawl, page, robots, write_site
from stages.crawl.fetcher import Fetcher
from stages.crawl.safety import ConnectTarget, Refused, UrlGuard
from stages.crawl.urls import parse_url

H = "l.test"


def test_oversized_non_html_and_missing_pages_are_counted_not_stored(tmp_path):
    big = page(text="x" * 2_000_000)  # 2 MB, over the 1 MB default
    files = {
        f"{H}/robots.txt": robots(0.01),
        f"{H}/index.html": page(
            "/big.html", "/doc.pdf", "/photo.jpg", "/notes.txt", "/report", "/gone.html", "/ok.html"
        ),
        f"{H}/big.html": big,
        f"{H}/doc.pdf": b"%PDF-1.4\n" + b"0" * 5000,
        f"{H}/photo.jpg": b"\xff\xd8\xff" + b"0" * 5000,
        f"{H}/notes.txt": "plain text",
        f"{H}/report": b"%PDF-1.4 no extension, typed by site.json",
        f"{H}/ok.html": page(),
    }
    site = write_site(tmp_path / "site", files, [f"http://{H}/"], content_types={H: {"/report": "application/pdf"}})
    run = crawl(site, tmp_path)
    m = run.metrics
    assert m["refused"]["too_large"] == 1
    assert m["refused"]["non_html"] == 4
    assert m["non_html_by_content_type"] == {"application/pdf": 2, "image/jpeg": 1, "text/plain": 1}
    assert m["refused"]["http_status_404"] == 1
    assert m["pages_stored"] == 2 and m["stored_by_content_type"] == {"text/html": 2}
    assert m["bytes_stored"] < 10_000  # neither the big page nor the binaries were kept
    assert m["pages_fetched"] == 8 - 1  # every page answered but the one refused as too large


def test_a_streamed_body_is_abandoned_past_the_limit():
    sent_chunks = []

    async def endless():
        for _ in range(1000):
            sent_chunks.append(1)
            yield b"<p>" + b"y" * 1021

    def server(request: httpx.Request) -> httpx.Response:  # chunked: no Content-Length
        return httpx.Response(200, headers={"Content-Type": "text/html"}, content=endless())

    guard = UrlGuard(pinned={("s.test", 80): ConnectTarget("127.0.0.1", 80)})
    fetcher = Fetcher(guard, "t/1 (+https://example.org)", 5.0, 1, transport=httpx.MockTransport(server))

    async def fetch(max_bytes):
        try:
            return await fetcher.fetch(parse_url("http://s.test/"), max_bytes, lambda mime: True)
        finally:
            await fetcher.aclose()

    with pytest.raises(Refused) as refused:
        asyncio.run(fetch(10_000))
    assert refused.value.reason == "too_large"
    assert len(sent_chunks) < 20  # stopped reading soon after 10 kB, not after 1 MB


def _many_pages(n: int) -> dict[str, str]:
    files = {f"{H}/robots.txt": robots(0.0), f"{H}/index.html": page(*[f"/p{i}.html" for i in range(n)])}
    files.update({f"{H}/p{i}.html": page("/") for i in range(n)})
    return files


def test_page_budget_is_respected(tmp_path):
    site = write_site(tmp_path / "site", _many_pages(20), [f"http://{H}/"])
    run = crawl(site, tmp_path, max_pages=5)
    assert [p for p in run.paths(H) if p != "/robots.txt"] == ["/", "/p0.html", "/p1.html", "/p2.html", "/p3.html"]
    assert run.metrics["pages_stored"] == 5
    assert run.metrics["unfetched_budget"] == 20 - 4  # queued, never requested


def test_depth_limit(tmp_path):
    files = {
        f"{H}/robots.txt": robots(0.0),
        f"{H}/index.html": page("/d1.html"),
        f"{H}/d1.html": page("/d2.html"),
        f"{H}/d2.html": page("/d3.html"),
        f"{H}/d3.html": page(),
    }
    run = crawl(write_site(tmp_path / "site", files, [f"http://{H}/"]), tmp_path, max_depth=1)
    assert run.paths(H) == ["/robots.txt", "/", "/d1.html"]
    assert run.metrics["refused"]["depth"] == 1


def _mock_fetch(handler, timeout_s: float):
    guard = UrlGuard(pinned={("slow.test", 80): ConnectTarget("127.0.0.1", 80)})
    fetcher = Fetcher(guard, "t/1 (+https://example.org)", timeout_s, 1, transport=httpx.MockTransport(handler))

    async def fetch():
        try:
            return await fetcher.fetch(parse_url("http://slow.test/"), 1_000_000, lambda mime: True)
        finally:
            await fetcher.aclose()

    return asyncio.run(fetch())


def test_a_server_that_does_not_answer_or_trickles_times_out():
    async def silent(request):
        await asyncio.sleep(5)
        return httpx.Response(200)

    async def trickle():  # each chunk comes quickly, but the whole body never ends
        while True:
            await asyncio.sleep(0.02)
            yield b"<p>"

    async def trickling(request):
        return httpx.Response(200, headers={"Content-Type": "text/html"}, content=trickle())

    for handler in (silent, trickling):
        with pytest.raises(Refused) as refused:
            _mock_fetch(handler, timeout_s=0.3)
        assert refused.value.reason == "timeout"


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compressed_body_cut_short_is_refused_not_stored_as_a_partial_page(encoding):
    """A Content-Encoding body whose compressed stream ends before its end marker (the server's
    file was cut, or the connection closed early without a Content-Length to tell): refused as
    `truncated_body`, never decoded into half a page. The whole body still decodes."""
    import gzip
    import zlib

    html = b"<html><body>" + b"<p>a whole paragraph of the page</p>" * 400 + b"</body></html>"
    whole = gzip.compress(html) if encoding == "gzip" else zlib.compress(html)
    served = {}

    async def streamed():  # as a server sends it (httpx reads a bytes body up front)
        body = served["body"]
        for at in range(0, len(body), 1000):
            yield body[at : at + 1000]

    def server(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": "text/html", "Content-Encoding": encoding}
        return httpx.Response(200, headers=headers, content=streamed())

    async def fetch(body: bytes):
        served["body"] = body
        guard = UrlGuard(pinned={("s.test", 80): ConnectTarget("127.0.0.1", 80)})
        fetcher = Fetcher(guard, "t/1 (+https://example.org)", 5.0, 1, transport=httpx.MockTransport(server))
        try:
            return await fetcher.fetch(parse_url("http://s.test/"), 1_000_000, lambda mime: True)
        finally:
            await fetcher.aclose()

    assert asyncio.run(fetch(whole)).body == html
    with pytest.raises(Refused) as refused:
        asyncio.run(fetch(whole[: len(whole) // 2]))
    assert refused.value.reason == "truncated_body"
