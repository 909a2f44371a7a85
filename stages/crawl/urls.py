"""URL normalisation, so that one page has one spelling in the seen-set and in the WARC.

Lower-case scheme and host, default port dropped, empty path -> "/", dot segments removed,
fragment and user-info dropped (a crawler never sends credentials). The query is kept as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Url:
    """A normalised absolute URL and the parts the crawler decides on."""

    text: str
    scheme: str
    host: str  # lower case; IPv6 without brackets
    port: int | None  # None for schemes without a default port (mailto:, ...)
    netloc: str  # host[:port] as written in the URL (port only when not the default)
    target: str  # path + query, as sent in the request line

    @property
    def origin(self) -> str:
        """scheme://host[:port], the unit robots.txt and politeness apply to (RFC 9309)."""
        return f"{self.scheme}://{self.netloc}"


def _remove_dot_segments(path: str) -> str:
    out: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == ".":
            if last:
                out.append("")
        elif seg == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(seg)
    result = "/".join(out)
    return result if result.startswith("/") else "/" + result


def parse_url(href: str, base: str | None = None) -> Url | None:
    """Resolve `href` against `base` and normalise it; None when it is not a usable URL."""
    href = href.strip()
    try:
        absolute = urljoin(base, href) if base else href
        parts = urlsplit(absolute)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            # mailto:, javascript:, ftp:... are kept recognisable so they can be refused by reason.
            return Url(text=absolute, scheme=scheme, host="", port=None, netloc="", target="") if scheme else None
        host = (parts.hostname or "").rstrip(".")
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:  # bad port, bad IPv6 literal...
        return None
    if not host:
        return None
    path = _remove_dot_segments(parts.path or "/")
    target = path + (f"?{parts.query}" if parts.query else "")
    shown_host = f"[{host}]" if ":" in host else host
    netloc = shown_host if port == DEFAULT_PORTS[scheme] else f"{shown_host}:{port}"
    text = urlunsplit((scheme, netloc, path, parts.query, ""))
    return Url(text=text, scheme=scheme, host=host, port=port, netloc=netloc, target=target)
