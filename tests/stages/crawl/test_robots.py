"""robots.txt: obeyed before any request, RFC 9309 status handling, redirect limit, sitemaps."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from kit.crawl import crawl, page, robots, write_site
from stages.crawl.fetcher import Fetched
from stages.crawl.robots import fetch_robots, rules_from_text
from stages.crawl.safety import Refused
from stages.crawl.urls import Url

H = "wiki.test"


def test_disallowed_links_are_never_requested(tmp_path):
    files = {
        f"{H}/robots.txt": robots(0.01, disallow=("/private/", "/*.cgi$")),
        f"{H}/index.html": page("/open.html", "/private/secret.html", "/private/", "/run.cgi"),
        f"{H}/open.html": page("/private/also.html", "/run.cgi?x=1"),
        f"{H}/private/secret.html": page(),
        f"{H}/private/also.html": page(),
        f"{H}/private/index.html": page(),
        f"{H}/run.cgi": page(),
    }
    site = write_site(tmp_path / "site", files, [f"http://{H}/"], content_types={H: {"/run.cgi": "text/html"}})
    run = crawl(site, tmp_path)

    paths = run.paths(H)
    assert paths[0] == "/robots.txt"  # robots.txt before anything else
    assert not [p for p in paths if p.startswith("/private/") or p == "/run.cgi"]
    assert "/run.cgi?x=1" in paths  # `$` anchors: the query makes it another URL, allowed
    assert run.metrics["refused"]["robots"] == 4
    assert run.metrics["pages_stored"] == 3


def test_sitemaps_from_robots_become_seeds(tmp_path):
    sitemap = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>http://{H}/orphan.html</loc></url>"
        f"<url><loc>http://{H}/private/hidden.html</loc></url></urlset>"
    )
    files = {
        f"{H}/robots.txt": robots(0.01, disallow=("/private/",), sitemap=f"http://{H}/sitemap.xml"),
        f"{H}/sitemap.xml": sitemap,
        f"{H}/index.html": page(),
        f"{H}/orphan.html": page(),  # linked from nowhere: only the sitemap knows it
        f"{H}/private/hidden.html": page(),
    }
    run = crawl(write_site(tmp_path / "site", files, [f"http://{H}/"]), tmp_path)
    assert "/orphan.html" in run.paths(H)
    assert "/private/hidden.html" not in run.paths(H)
    assert run.metrics["sitemap_urls"] == 2
    assert run.metrics["requests"]["sitemap"] == 1


def test_missing_robots_allows_everything(tmp_path):
    files = {f"{H}/index.html": page("/a.html"), f"{H}/a.html": page()}  # no robots.txt: 404
    run = crawl(write_site(tmp_path / "site", files, [f"http://{H}/"]), tmp_path, min_delay_s=0.01)
    assert run.paths(H) == ["/robots.txt", "/", "/a.html"]
    assert run.metrics["robots"][f"http://{H}"]["source"] == "unavailable"


def test_protego_rules_longest_match_and_agent_groups():
    text = "User-agent: *\nDisallow: /\n\nUser-agent: crisolbot\nDisallow: /a/\nAllow: /a/open\nCrawl-delay: 0.5\n"
    rules = rules_from_text(text, "crisolbot")
    assert rules.allowed("http://x.test/b.html")
    assert not rules.allowed("http://x.test/a/closed.html")
    assert rules.allowed("http://x.test/a/open.html")  # longer Allow beats shorter Disallow
    assert rules.crawl_delay == 0.5
    assert not rules_from_text(text, "otherbot").allowed("http://x.test/b.html")
    assert rules_from_text("User-agent: *\nRequest-rate: 1/4\n", "crisolbot").crawl_delay == 4.0


def _answer(url: Url, status: int, body: bytes = b"", location: str | None = None) -> Fetched:
    headers = [("Location", location)] if location else []
    return Fetched(
        url=url,
        ip="127.0.0.1",
        started_at=datetime.now(timezone.utc),
        elapsed_s=0.0,
        status=status,
        reason="",
        http_version="HTTP/1.1",
        headers=headers,
        request_headers=[],
        body=body,
    )


def _robots_via(answers):
    """Run fetch_robots against a scripted server; returns the rules and the URLs requested."""
    asked: list[str] = []

    async def get(url: Url) -> Fetched:
        asked.append(url.target)
        outcome = answers(url, len(asked))
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    rules = asyncio.run(fetch_robots("http://x.test", get, "crisolbot", max_redirects=5))
    return rules, asked


def test_robots_status_handling():
    page_url = "http://x.test/page.html"
    for status, allowed in ((404, True), (410, True), (500, False), (503, False), (429, False)):
        rules, _ = _robots_via(lambda url, n, s=status: _answer(url, s))
        assert rules.allowed(page_url) is allowed, status
    rules, _ = _robots_via(lambda url, n: Refused("timeout"))
    assert rules.source == "unreachable" and not rules.allowed(page_url)


def test_robots_follows_five_redirects_but_not_six():
    def chain(length):
        def answers(url, n):
            if n <= length:
                return _answer(url, 301, location=f"/robots-{n}.txt")
            return _answer(url, 200, b"User-agent: *\nDisallow: /no/\n")

        return answers

    rules, asked = _robots_via(chain(5))
    assert rules.source == "fetched" and len(asked) == 6
    assert not rules.allowed("http://x.test/no/x") and rules.allowed("http://x.test/yes")
    rules, asked = _robots_via(chain(6))
    assert rules.source == "unreachable" and len(asked) == 6
