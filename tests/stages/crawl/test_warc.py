"""WARC output read back with warcio: request/response pairs, real target URIs, verified digests,
the HTTP headers and body exactly as served, rotation into shards."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import http.client
from datetime import datetime, timezone
from pathlib import Path

import httpx
from warcio.archiveiterator import ArchiveIterator

from kit.crawl import LOG, page, robots, write_site
from stages.crawl.fetcher import Fetched, Fetcher
from stages.crawl.params import CrawlParams
from stages.crawl.safety import ConnectTarget, UrlGuard
from stages.crawl.server import SiteServer
from stages.crawl.site import load_site
from stages.crawl.stage import crawl_site
from stages.crawl.urls import parse_url
from stages.crawl.warc import WarcShardWriter, headers_for_storage

H, G = "w.test", "v.test"


def _records(path: Path) -> list:
    out = []
    with open(path, "rb") as fh:
        for record in ArchiveIterator(fh, check_digests="raise"):
            body = record.content_stream().read()  # raises on a digest mismatch
            out.append((record, body))
    return out


def _served(port: int, host: str, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path, headers={"Host": host})
    response = conn.getresponse()
    result = response.status, response.getheaders(), response.read()
    conn.close()
    return result


def _sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def test_warc_round_trip(tmp_path):
    files = {
        f"{H}/robots.txt": robots(0.0),
        f"{G}/robots.txt": robots(0.0),
        f"{H}/index.html": page("/a.html", "/b/", f"http://{G}/", text="Ünïcødé ✓ café"),
        f"{H}/a.html": page(),
        f"{H}/b/index.html": page("../a.html"),
        f"{G}/index.html": page("/x.html?q=1"),
        f"{G}/x.html": page(),
    }
    site = write_site(tmp_path / "site", files, [f"http://{H}/", f"http://{G}/"])
    params = CrawlParams(
        site=site, out=tmp_path / "warc", metrics=tmp_path / "m.json", min_delay_s=0.0, records_per_file=2
    )
    with SiteServer(load_site(site)) as server:
        metrics = crawl_site(params, LOG, server)
        warc_files = sorted((tmp_path / "warc").iterdir())
        assert [f.name for f in warc_files] == ["crawl-00000.warc.gz", "crawl-00001.warc.gz", "crawl-00002.warc.gz"]
        assert metrics["warc_files"] == 3 and metrics["pages_stored"] == 5

        responses = {}
        for warc in warc_files:
            records = _records(warc)
            assert records[0][0].rec_type == "warcinfo"
            assert b"crisolbot" in records[0][1]
            pairs = records[1:]
            assert 1 <= len(pairs) // 2 <= 2 and len(pairs) % 2 == 0
            by_id = {r.rec_headers.get_header("WARC-Record-ID"): (r, body) for r, body in pairs}
            for record, body in pairs:
                if record.rec_type != "request":
                    continue
                response, payload = by_id[record.rec_headers.get_header("WARC-Concurrent-To")]
                assert response.rec_type == "response"
                uri = record.rec_headers.get_header("WARC-Target-URI")
                assert uri == response.rec_headers.get_header("WARC-Target-URI")
                assert record.http_headers.get_header("Host") == parse_url(uri).netloc
                assert record.http_headers.get_header("User-Agent") == params.user_agent
                assert record.http_headers.get_header("Cookie") is None
                assert response.rec_headers.get_header("WARC-IP-Address") == "127.0.0.1"
                assert response.rec_headers.get_header("WARC-Payload-Digest") == _sha1_b32(payload)
                responses[uri] = (response, payload)

        assert sorted(responses) == sorted(
            [f"http://{H}/", f"http://{H}/a.html", f"http://{H}/b/", f"http://{G}/", f"http://{G}/x.html?q=1"]
        )
        for uri, (response, payload) in responses.items():
            url = parse_url(uri)
            status, headers, body = _served(server.port, url.host, url.target)
            assert response.http_headers.get_statuscode() == str(status) == "200"
            assert payload == body
            same = [(k, v) for k, v in headers if k != "Date"]
            assert [(k, v) for k, v in response.http_headers.headers if k != "Date"] == same
        assert "Ünïcødé ✓ café".encode() in responses[f"http://{H}/"][1]


def test_decoded_payload_keeps_original_transfer_headers(tmp_path):
    html = page(text="compressed " * 200).encode()
    packed = gzip.compress(html)

    def server(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            content=packed,
            headers={"Content-Type": "text/html", "Content-Encoding": "gzip", "Content-Length": str(len(packed))},
        )

    guard = UrlGuard(pinned={("z.test", 80): ConnectTarget("127.0.0.1", 80)})
    fetcher = Fetcher(guard, "t/1 (+https://example.org)", 5.0, 1, transport=httpx.MockTransport(server))

    async def fetch():
        try:
            return await fetcher.fetch(parse_url("http://z.test/p"), 1_000_000, lambda mime: True)
        finally:
            await fetcher.aclose()

    fetched = asyncio.run(fetch())
    assert fetched.body == html
    writer = WarcShardWriter(tmp_path, 10, {"software": "test"})
    writer.write(fetched)
    writer.close()
    ((record, payload),) = [(r, b) for r, b in _records(tmp_path / "crawl-00000.warc.gz") if r.rec_type == "response"]
    assert payload == html
    assert record.http_headers.get_header("Content-Length") == str(len(html))
    assert record.http_headers.get_header("X-Crawler-Content-Encoding") == "gzip"
    assert record.http_headers.get_header("X-Crawler-Content-Length") == str(len(packed))
    assert record.http_headers.get_header("Content-Encoding") is None


def test_headers_unchanged_when_the_payload_is_as_sent():
    headers = [("Server", "x"), ("Content-Type", "text/html"), ("Content-Length", "5")]
    assert headers_for_storage(headers, 5) == headers
    chunked = [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")]
    assert headers_for_storage(chunked, 7) == [
        ("Content-Type", "text/html"),
        ("X-Crawler-Transfer-Encoding", "chunked"),
        ("Content-Length", "7"),
    ]


def test_warc_date_is_the_fetch_time(tmp_path):
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    fetched = Fetched(
        url=parse_url("http://d.test/"),
        ip="127.0.0.1",
        started_at=when,
        elapsed_s=0.1,
        status=200,
        reason="OK",
        http_version="HTTP/1.1",
        headers=[("Content-Type", "text/html"), ("Content-Length", "2")],
        request_headers=[("Host", "d.test")],
        body=b"hi",
    )
    writer = WarcShardWriter(tmp_path, 10, {"software": "test"})
    writer.write(fetched)
    writer.close()
    dates = {r.rec_type: r.rec_headers.get_header("WARC-Date") for r, _ in _records(tmp_path / "crawl-00000.warc.gz")}
    assert dates["response"] == dates["request"] == "2024-05-06T07:08:09Z"
