"""Params of the `crawl` stage (section `crawl` of params.yaml); defaults are the `tiny` profile,
PROFILES holds the other profiles' values."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator

from crisol.core.params import Section
from crisol.core.path_roles import InputPath, OutputDir, OutputFile
from stages.crawl.urls import parse_host_port

# A contact URL in the User-Agent is what lets a site operator reach whoever runs the bot.
_CONTACT_URL = re.compile(r"\+https?://\S+")


class CrawlParams(Section):
    """The polite crawler, serving the synthetic web on loopback (stages/crawl): where to crawl from,
    where the WARC goes, and how politely to fetch."""

    site: InputPath = Path("data/web/site")
    out: OutputDir = Path("data/crawl/warc")
    metrics: OutputFile = Path("data/metrics/crawl.json")
    # Extra seed URLs (added to site.json's seeds when serving; the only seeds when not).
    seeds: list[str] = []
    # host:port pairs in scope besides each seed's own host:port (a seed allows no other port of
    # its host). An entry without a port means the scheme's default port (80 for http, 443 for https).
    allow_hosts: list[str] = []
    # host:port pairs allowed to resolve to private/loopback addresses, ports as in allow_hosts.
    # When serving, the site's own hosts (mapped to the loopback server) are added automatically;
    # nothing else is by default.
    ssrf_allow_hosts: list[str] = []
    user_agent: str = "crisolbot/0.1 (+https://example.org/crisol/crawler; research crawler)"
    max_pages: int = Field(20_000, ge=1)
    max_depth: int = Field(8, ge=0)
    concurrency: int = Field(8, ge=1, le=256)
    # Floor on the gap between two requests to one host; robots.txt's Crawl-delay may ask for more
    # (the larger wins). Low by default because the synthetic web states its own Crawl-delay;
    # raise it (>= 1 s) when crawling real sites with `serve: false`.
    min_delay_s: float = Field(0.02, ge=0.0)
    # After each response the host waits at least slowdown_factor x that response's time.
    slowdown_factor: float = Field(2.0, ge=0.0)
    # A host whose robots.txt asks for a longer Crawl-delay is skipped (counted), not crawled
    # for hours.
    max_crawl_delay_s: float = Field(30.0, ge=0.0)
    timeout_s: float = Field(10.0, gt=0.0)
    max_page_bytes: int = Field(1_000_000, ge=1)
    max_redirects: int = Field(4, ge=0, le=20)
    robots_max_redirects: int = Field(5, ge=0, le=20)
    records_per_file: int = Field(1000, ge=1)
    serve: bool = True

    @field_validator("allow_hosts", "ssrf_allow_hosts")
    @classmethod
    def _are_host_ports(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            parse_host_port(entry)  # its ValueError says which entry is not host or host:port
        return entries

    @field_validator("user_agent")
    @classmethod
    def _has_contact_url(cls, value: str) -> str:
        if "/" not in value.split()[0] or not _CONTACT_URL.search(value):
            raise ValueError("must look like 'name/version (+https://contact-url ...)'")
        return value

    @property
    def robots_token(self) -> str:
        """The product token robots.txt groups are matched against (e.g. 'crisolbot')."""
        return self.user_agent.split("/", 1)[0]


# The profiles' values (the defaults are tiny's; crisol/core/params.py: PROFILE_NOTES).
PROFILES = {
    "micro": {"min_delay_s": 0.01, "max_pages": 2000, "records_per_file": 200, "timeout_s": 5.0},
}
