"""robots.txt per RFC 9309, parsed by protego (longest match, wildcards, Allow beats Disallow).

What the crawler does with an origin's robots.txt (RFC 9309 section 2.3.1):
- 2xx: obey its rules, Crawl-delay / Request-rate and Sitemap lines;
- 4xx "unavailable": no rules, everything may be crawled;
- 5xx, 429, network errors, too many redirects "unreachable": crawl nothing (complete disallow);
- redirects are followed up to 5 hops (each hop still goes through the SSRF guard);
- at most 500 KiB is parsed (the RFC's minimum); a longer file is cut, not rejected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Awaitable, Callable, Literal

from protego import Protego

from stages.crawl.fetcher import Fetched
from stages.crawl.safety import Refused
from stages.crawl.urls import Url, parse_url

MAX_ROBOTS_BYTES = 500 * 1024

Source = Literal["fetched", "unavailable", "unreachable"]


@dataclass
class RobotsRules:
    source: Source
    token: str
    parser: Protego | None = None
    detail: str = ""
    sitemaps: list[str] = field(default_factory=list)

    def allowed(self, url: str) -> bool:
        if self.source == "unavailable":
            return True
        if self.source == "unreachable" or self.parser is None:
            return False
        return self.parser.can_fetch(url, self.token)

    @property
    def crawl_delay(self) -> float | None:
        """Seconds between requests the site asks for: Crawl-delay or Request-rate, the larger."""
        if self.parser is None:
            return None
        delays = [self.parser.crawl_delay(self.token)]
        rate = self.parser.request_rate(self.token)
        if rate is not None and rate.requests > 0:
            delays.append(rate.seconds / rate.requests)
        delays = [d for d in delays if d is not None]
        return max(delays) if delays else None


def rules_from_text(text: str, token: str) -> RobotsRules:
    parser = Protego.parse(text)
    return RobotsRules("fetched", token, parser, sitemaps=list(parser.sitemaps))


async def fetch_robots(
    origin: str, get: Callable[[Url], Awaitable[Fetched]], token: str, max_redirects: int
) -> RobotsRules:
    """Fetch and interpret `origin`/robots.txt. `get` makes one request (the caller paces and
    counts it) and returns the body cut at MAX_ROBOTS_BYTES; it raises Refused on failure."""
    url = parse_url(f"{origin}/robots.txt")
    for _ in range(max_redirects + 1):
        try:
            response = await get(url)
        except Refused as exc:
            return RobotsRules("unreachable", token, detail=exc.reason)
        if 300 <= response.status < 400:
            location = response.header("Location")
            following = parse_url(location, base=url.text) if location else None
            if following is None or following.scheme not in ("http", "https"):
                return RobotsRules("unreachable", token, detail=f"bad redirect {location!r}")
            url = following
            continue
        if 200 <= response.status < 300:
            text = (response.body or b"").decode("utf-8", errors="replace")
            return rules_from_text(text, token)
        if 400 <= response.status < 500 and response.status != 429:
            return RobotsRules("unavailable", token, detail=f"http {response.status}")
        return RobotsRules("unreachable", token, detail=f"http {response.status}")
    return RobotsRules("unreachable", token, detail="too many redirects")
