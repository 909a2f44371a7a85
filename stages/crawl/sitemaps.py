"""Sitemaps (sitemaps.org protocol): a `<urlset>` lists pages, a `<sitemapindex>` lists sitemaps.

Gzipped sitemaps are accepted (decompressed up to a byte limit, so a gzip bomb cannot blow up
memory). At most 50,000 `<loc>` entries are taken from one file, the protocol's own maximum.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from xml.etree import ElementTree

MAX_LOCS = 50_000
GZIP_MAGIC = b"\x1f\x8b"


class SitemapError(ValueError):
    pass


@dataclass
class Sitemap:
    pages: list[str] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)  # from a sitemap index


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise SitemapError(f"bad gzip: {exc}") from exc
    if len(out) > max_bytes:
        raise SitemapError(f"decompresses to more than {max_bytes} bytes")
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_sitemap(data: bytes, max_bytes: int) -> Sitemap:
    if data.startswith(GZIP_MAGIC):
        data = _gunzip(data, max_bytes)
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise SitemapError(f"not XML: {exc}") from exc
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise SitemapError(f"root element <{kind}> is neither <urlset> nor <sitemapindex>")
    locs = [el.text.strip() for el in root.iter() if _local(el.tag) == "loc" and el.text][:MAX_LOCS]
    return Sitemap(pages=locs) if kind == "urlset" else Sitemap(sitemaps=locs)
