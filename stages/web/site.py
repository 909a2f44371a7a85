"""Writes the site directory of the site contract: one folder per host with its pages and files,
robots.txt and sitemap.xml per host, and site.json (hosts, seeds, redirects, content types).

The directory appears atomically: it is written under a temporary name and renamed into place.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from crisol.core.atomic import atomic_dir
from stages.web.generate import Web

SCHEMA_VERSION = 1
BAD_BOT = "BadBot"  # a second robots.txt group, barred from the whole host


def file_path(url_path: str) -> str:
    """The contract's mapping from a URL path to a file under the host folder."""
    return url_path.lstrip("/") + ("index.html" if url_path.endswith("/") else "")


def robots_txt(host: str, disallow: list[str], crawl_delay: float) -> str:
    lines = [
        "User-agent: *",
        *(f"Disallow: {prefix}" for prefix in disallow),
        f"Crawl-delay: {crawl_delay:g}",
        "",
        f"User-agent: {BAD_BOT}",
        "Disallow: /",
        "",
        f"Sitemap: http://{host}/sitemap.xml",
        "",
    ]
    return "\n".join(lines)


def sitemap_xml(urls: list[str]) -> str:
    body = "".join(f"  <url><loc>{escape(u)}</loc></url>\n" for u in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' + body + "</urlset>\n"
    )


def site_json(web: Web) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "hosts": sorted(web.host_names),
        "seeds": [f"http://{h}/" for h in sorted(web.host_names)],
        "redirects": {h: dict(sorted(r.items())) for h, r in sorted(web.redirects.items())},
        "content_types": {h: dict(sorted(c.items())) for h, c in sorted(web.content_types.items())},
    }


def write_site(target: Path, web: Web, crawl_delay: float) -> dict[str, int]:
    """Write the directory; returns counts and bytes for the metrics."""
    stats = {"html_files": 0, "other_files": 0, "bytes": 0}
    with atomic_dir(target) as tmp:

        def put(host: str, url_path: str, data: bytes) -> None:
            path = tmp / host / file_path(url_path)
            if path.exists():
                raise RuntimeError(f"two outputs for http://{host}{url_path}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            stats["bytes"] += len(data)

        for page in web.pages:
            put(page.host, page.path, page.html.encode("utf-8"))
            stats["html_files"] += 1
        for host, files in web.files.items():
            for url_path, data in files.items():
                put(host, url_path, data)
                stats["other_files"] += 1
        for host in web.host_names:
            put(host, "/robots.txt", robots_txt(host, web.disallow[host], crawl_delay).encode())
            urls = sorted(p.url for p in web.pages if p.host == host and not p.disallowed)
            put(host, "/sitemap.xml", sitemap_xml(urls).encode())
        for host, redirects in web.redirects.items():
            for url_path in redirects:
                if (tmp / host / file_path(url_path)).exists():
                    raise RuntimeError(f"redirect source http://{host}{url_path} is also a file")
        (tmp / "site.json").write_text(json.dumps(site_json(web), indent=2, sort_keys=True) + "\n")
    return stats
