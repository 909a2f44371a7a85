"""Links out of an HTML page: `<a href>` / `<area href>`, resolved against `<base href>`.

Scripts are never run (no JavaScript), so only links present in the markup count. A page whose
`<meta name="robots">` says `nofollow` yields no links, and `rel="nofollow"` links are skipped,
as a well-behaved bot does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

from stages.crawl.fetcher import Fetched


@dataclass
class PageLinks:
    hrefs: list[str] = field(default_factory=list)
    base: str | None = None
    nofollow: bool = False  # the whole page asked not to be followed


class _LinkParser(HTMLParser):
    def __init__(self, bot_token: str) -> None:
        super().__init__(convert_charrefs=True)
        self.meta_names = {"robots", bot_token.lower()}
        self.found = PageLinks()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: (v or "") for k, v in attrs}
        if tag in ("a", "area") and "href" in attributes:
            if "nofollow" not in attributes.get("rel", "").lower().split():
                self.found.hrefs.append(attributes["href"])
        elif tag == "base" and "href" in attributes and self.found.base is None:
            self.found.base = attributes["href"]
        elif tag == "meta" and attributes.get("name", "").lower() in self.meta_names:
            directives = {d.strip() for d in attributes.get("content", "").lower().split(",")}
            if "nofollow" in directives or "none" in directives:
                self.found.nofollow = True


def charset_of(response: Fetched) -> str:
    for param in (response.header("Content-Type") or "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return "utf-8"


def decode_html(response: Fetched) -> str:
    try:
        return (response.body or b"").decode(charset_of(response), errors="replace")
    except LookupError:  # an unknown charset name
        return (response.body or b"").decode("utf-8", errors="replace")


def extract_links(html: str, bot_token: str) -> PageLinks:
    """Links of a page; `<meta name="robots">` and `<meta name="<bot_token>">` both apply."""
    parser = _LinkParser(bot_token)
    parser.feed(html)
    parser.close()
    return parser.found
