"""The chrome around every page: cookie banner, header and navigation, sidebar of related links,
footer with copyright. It is what extraction must remove, so it is the same on every page of a
host (a tell for line-level boilerplate detection) and different between hosts.

Each host prints its links one way: absolute URLs, root-relative paths or page-relative paths,
so that a crawler's URL resolution is exercised on all three.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from html import escape
from urllib.parse import urlsplit

from stages.web.blocks import Link, block_html
from stages.web.page import Page

LINK_MODES = ("absolute", "root", "relative")
COPYRIGHT_YEAR = 2024  # fixed, not today's date: outputs must not depend on when they were made

COOKIE_TEXTS = (
    "We use cookies to improve your experience, to measure traffic and to show relevant content.",
    "This website stores small files on your device. By continuing to browse you agree to our use of cookies.",
    "Cookies help us deliver our services. Some are essential, others help us understand how the site is used.",
)
FOOTER_NOTES = (
    "Text is available under a free licence; additional terms may apply.",
    "Reproduction of articles is permitted for personal, non-commercial use only.",
    "Opinions expressed by contributors are their own and do not reflect the views of the editors.",
)


@dataclass(frozen=True)
class Labels:
    home: str = "Home"
    about: str = "About"
    related: str = "Related pages"
    languages: str = "Languages"
    accept: str = "Accept all"
    rights: str = "All rights reserved."
    contact: str = "Contact us"
    cookies: str = "Cookie settings"
    privacy: str = "Privacy"


@dataclass(frozen=True)
class Theme:
    host: str
    site_name: str
    lang: str
    link_mode: str  # one of LINK_MODES
    nav: tuple[tuple[str, str], ...]  # (label, target) after Home
    cookie: str
    footer_note: str
    contact_email: str
    labels: Labels = Labels()

    def href(self, page_path: str, target: str) -> str:
        """How a page at `page_path` on this host prints a link to `target`."""
        if target.startswith("http://"):
            parts = urlsplit(target)
            if parts.netloc != self.host:
                return target
            target = parts.path or "/"
        elif not target.startswith("/"):
            return target  # mailto:, javascript:, #fragment
        if self.link_mode == "absolute":
            return f"http://{self.host}{target}"
        if self.link_mode == "root":
            return target
        path, _, fragment = target.partition("#")
        base = posixpath.dirname(page_path)
        rel = posixpath.relpath(path, base)
        if path.endswith("/") and rel != ".":
            rel += "/"
        elif rel == ".":
            rel = "./"
        return rel + (f"#{fragment}" if fragment else "")


def _links(theme: Theme, page: Page, links: list[Link]) -> str:
    return "".join(
        f'<li><a href="{escape(theme.href(page.path, link.href))}">{escape(link.text)}</a></li>' for link in links
    )


def render(theme: Theme, page: Page) -> str:
    """The full HTML document of a page."""

    def href(target: str) -> str:
        return theme.href(page.path, target)

    lb = theme.labels
    nav = [Link(lb.home, "/"), *(Link(label, target) for label, target in theme.nav), Link(lb.about, "/about/")]
    main = "\n".join(block_html(block, href) for block in page.blocks)
    toolbar = f'<div class="page-tools"><ul>{_links(theme, page, page.toolbar)}</ul></div>\n' if page.toolbar else ""
    aside = ""
    if page.sidebar:
        aside += f"<h3>{escape(lb.related)}</h3><ul>{_links(theme, page, page.sidebar)}</ul>"
    if page.alternates:
        aside += f"<h3>{escape(lb.languages)}</h3><ul>{_links(theme, page, page.alternates)}</ul>"
    footer_links = [
        Link(lb.about, "/about/"),
        Link(lb.privacy, "/about/#privacy"),
        Link(lb.contact, f"mailto:{theme.contact_email}"),
        Link(lb.cookies, "javascript:void(0)"),
    ]
    return (
        f'<!DOCTYPE html>\n<html lang="{page.lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(page.title)} - {escape(theme.site_name)}</title>\n"
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n</head>\n<body>\n'
        f'<div id="cookie-banner" class="cookie-banner"><p>{escape(theme.cookie)}</p>'
        f'<a class="button" href="javascript:void(0)">{escape(lb.accept)}</a></div>\n'
        f'<header class="site-header"><a class="logo" href="{escape(href("/"))}">{escape(theme.site_name)}</a>\n'
        f'<nav class="main-nav"><ul>{_links(theme, page, nav)}</ul></nav></header>\n'
        f'{toolbar}<div class="layout">\n<main id="content"><article>\n<h1>{escape(page.title)}</h1>\n'
        f"{main}\n</article></main>\n"
        + (f'<aside class="sidebar">{aside}</aside>\n' if aside else "")
        + f'</div>\n<footer class="site-footer"><p>\u00a9 {COPYRIGHT_YEAR} {escape(theme.site_name)}. '
        f"{escape(lb.rights)}</p>\n<p>{escape(theme.footer_note)}</p>\n"
        f"<ul>{_links(theme, page, footer_links)}</ul></footer>\n</body>\n</html>\n"
    )
