"""Units of the crawler that need no network: URL normalisation, link extraction, sitemaps,
site.json checks and the server's path mapping."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone

import pytest

from crisol.core.errors import StageInputError
from stages.crawl.fetcher import Fetched
from stages.crawl.links import decode_html, extract_links
from stages.crawl.server import file_for
from stages.crawl.site import load_site
from stages.crawl.sitemaps import SitemapError, parse_sitemap
from stages.crawl.urls import parse_url


@pytest.mark.parametrize(
    "href, base, expected",
    [
        ("HTTP://Ex.TEST:80/a", None, "http://ex.test/a"),
        ("https://ex.test:443", None, "https://ex.test/"),
        ("http://ex.test:8080/a#frag", None, "http://ex.test:8080/a"),
        ("http://user:pw@ex.test/", None, "http://ex.test/"),
        ("../c.html?x=1", "http://ex.test/a/b/page.html", "http://ex.test/a/c.html?x=1"),
        ("./", "http://ex.test/a/b.html", "http://ex.test/a/"),
        ("//other.test/x", "https://ex.test/", "https://other.test/x"),
        ("http://ex.test/a/./b/../c", None, "http://ex.test/a/c"),
        ("#top", "http://ex.test/p.html", "http://ex.test/p.html"),
        ("  /spaced  ", "http://ex.test/", "http://ex.test/spaced"),
    ],
)
def test_parse_url_normalises(href, base, expected):
    assert parse_url(href, base).text == expected


def test_parse_url_rejects_and_classifies():
    assert parse_url("http://ex.test:99999/") is None
    assert parse_url("http://[::1/") is None
    assert parse_url("relative/without/base") is None
    assert parse_url("mailto:a@b.test").scheme == "mailto"
    url = parse_url("http://[::1]:8080/a?b")
    assert (url.host, url.port, url.target, url.origin) == ("::1", 8080, "/a?b", "http://[::1]:8080")


def test_extract_links_follows_markup_only():
    html = """<html><head><base href="/sub/"><script>location='/js-only.html'</script></head>
    <body><a href="a.html">a</a><a href='/b.html' rel="nofollow">b</a><area href="c.html">
    <a>no href</a><a href="d.html?x=1&amp;y=2">d</a></body></html>"""
    links = extract_links(html, "crisolbot")
    assert links.base == "/sub/"
    assert links.hrefs == ["a.html", "c.html", "d.html?x=1&y=2"]
    assert not links.nofollow
    assert extract_links('<meta name="robots" content="noindex, nofollow"><a href="x">', "crisolbot").nofollow
    assert extract_links('<meta name="CrisolBot" content="none"><a href="x">', "crisolbot").nofollow
    assert not extract_links('<meta name="otherbot" content="nofollow">', "crisolbot").nofollow


def test_decode_html_uses_the_declared_charset():
    def fetched(content_type, body):
        return Fetched(
            url=parse_url("http://x.test/"),
            ip="",
            started_at=datetime.now(timezone.utc),
            elapsed_s=0,
            status=200,
            reason="OK",
            http_version="HTTP/1.1",
            headers=[("Content-Type", content_type)],
            request_headers=[],
            body=body,
        )

    assert decode_html(fetched("text/html; charset=iso-8859-1", "café".encode("latin-1"))) == "café"
    assert decode_html(fetched("text/html", "café".encode())) == "café"
    assert decode_html(fetched("text/html; charset=bogus", b"ok")) == "ok"


def test_sitemaps_urlset_index_gzip_and_errors():
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    urlset = f"<urlset {ns}><url><loc> http://x.test/a </loc></url><url><loc>http://x.test/b</loc></url></urlset>"
    assert parse_sitemap(urlset.encode(), 10_000).pages == ["http://x.test/a", "http://x.test/b"]
    index = f"<sitemapindex {ns}><sitemap><loc>http://x.test/s1.xml</loc></sitemap></sitemapindex>"
    assert parse_sitemap(index.encode(), 10_000).sitemaps == ["http://x.test/s1.xml"]
    assert parse_sitemap(gzip.compress(urlset.encode()), 10_000).pages[0] == "http://x.test/a"
    with pytest.raises(SitemapError, match="more than"):
        parse_sitemap(gzip.compress(b"<urlset>" + b" " * 100_000 + b"</urlset>"), 10_000)
    with pytest.raises(SitemapError):
        parse_sitemap(b"<html>not a sitemap</html>", 10_000)
    with pytest.raises(SitemapError):
        parse_sitemap(b"<urlset", 10_000)


def test_site_json_is_checked(tmp_path):
    def site(payload):
        (tmp_path / "site.json").write_text(json.dumps(payload))
        return load_site(tmp_path)

    good = {
        "schema_version": 1,
        "hosts": ["A.test"],
        "seeds": ["http://a.test/"],
        "redirects": {"a.test": {"/o": {"status": 301, "location": "http://a.test/n"}}},
        "content_types": {"a.test": {"/f": "application/pdf"}},
    }
    loaded = site(good)
    assert loaded.hosts == ("a.test",) and loaded.redirects["a.test"]["/o"].status == 301
    for broken, message in [
        ({**good, "schema_version": 2}, "schema_version"),
        ({**good, "hosts": []}, "hosts"),
        ({**good, "seeds": ["a.test/"]}, "seed"),
        ({**good, "redirects": {"b.test": {}}}, "not listed"),
        ({**good, "redirects": {"a.test": {"/o": {"status": 200, "location": "/"}}}}, "3xx"),
    ]:
        with pytest.raises(StageInputError, match=message):
            site(broken)
    (tmp_path / "site.json").write_text("{not json")
    with pytest.raises(StageInputError, match="JSON"):
        load_site(tmp_path)


def test_server_path_mapping_stays_inside_the_host_folder(tmp_path):
    (tmp_path / "h.test" / "a").mkdir(parents=True)
    for name in ("index.html", "a/index.html", "a/b.html"):
        (tmp_path / "h.test" / name).write_text("x")
    (tmp_path / "secret.txt").write_text("no")
    (tmp_path / "site.json").write_text(json.dumps({"schema_version": 1, "hosts": ["h.test"], "seeds": []}))
    site = load_site(tmp_path)
    assert file_for(site, "h.test", "/") == (tmp_path / "h.test" / "index.html").resolve()
    assert file_for(site, "h.test", "/a/") == (tmp_path / "h.test" / "a" / "index.html").resolve()
    assert file_for(site, "h.test", "/a/b.html") == (tmp_path / "h.test" / "a" / "b.html").resolve()
    assert file_for(site, "h.test", "/a") is None  # a folder is not a file
    assert file_for(site, "h.test", "/../secret.txt") is None
    assert file_for(site, "h.test", "/%2e%2e/secret.txt") is None
    assert file_for(site, "other.test", "/") is None
