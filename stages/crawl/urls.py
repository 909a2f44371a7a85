"""URL normalisation, so that one page has one spelling in the seen-set and in the WARC.

Lower-case scheme and host, default port dropped, empty path -> "/", dot segments removed,
fragment and user-info dropped (a crawler never sends credentials). The query is kept as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable
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


def parse_host_port(entry: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]:port` or a bare IPv6 address -> (lower-case host, port or None).

    Raises ValueError for anything else (a URL, a path, user-info, a port out of 1..65535)."""
    entry = entry.strip()
    if entry.count(":") > 1 and not entry.startswith("["):
        entry = f"[{entry}]"  # a bare IPv6 address: its colons are not a port separator
    parts = urlsplit("//" + entry)
    port = parts.port  # ValueError when not a number in 0..65535
    host = (parts.hostname or "").rstrip(".")
    if not host or port == 0 or parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"{entry!r} is not host or host:port")
    return host, port


class HostPorts:
    """An allow-list of host:port pairs: allowing a host never allows its other ports (a link to
    `localhost:22` is not in scope because `localhost:8000` is). An entry without a port stands
    for the default port of the URL's scheme (80 for http, 443 for https)."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self._pairs = {parse_host_port(entry) for entry in entries}

    def add(self, url: Url) -> None:
        """Allow exactly `url`'s host and port."""
        self._pairs.add((url.host, url.port))

    def allows(self, url: Url) -> bool:
        if (url.host, url.port) in self._pairs:
            return True
        return (url.host, None) in self._pairs and url.port == DEFAULT_PORTS.get(url.scheme)

    def __len__(self) -> int:
        return len(self._pairs)
