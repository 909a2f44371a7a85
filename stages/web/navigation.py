"""Pages that make a host crawlable from its home page: paged listings, the home page, the about page.

Every listed page is reachable from `/` in at most two hops (home -> listing page -> page), so a
crawl from the seeds finds the whole site without reading the sitemap.
"""

from __future__ import annotations

from stages.web.blocks import Bullets, Link, para
from stages.web.page import Page

SECTION_LABELS = {
    "people": "People",
    "places": "Places",
    "organisations": "Organisations",
    "lists": "Lists",
    "news": "News archive",
    "questions": "Questions",
    "facts": "Fact sheets",
    "mirror": "Mirrored articles",
    "digest": "Stories",
    "offers": "Offers",
}

# Links a careful crawler must refuse: cloud metadata, private and loopback addresses, non-HTTP schemes.
FORBIDDEN_LINKS = (
    Link("Status dashboard", "http://169.254.169.254/latest/meta-data/"),
    Link("Intranet", "http://10.0.0.1/"),
    Link("Server console", "http://localhost:22/"),
    Link("Test service", "http://127.0.0.1:9/"),
    Link("Write to the webmaster", "mailto:webmaster@example.org"),
    Link("Open the chat window", "javascript:openChat()"),
)


def listing_pages(
    host: str, lang: str, pages: list[Page], page_size: int, labels: dict[str, str]
) -> tuple[list[Page], list[tuple[str, str]]]:
    """Paged index pages per section of a host; returns them and (label, first page path) for the nav."""
    sections: dict[str, list[Page]] = {}
    for page in pages:
        if page.section is not None and page.host == host:
            sections.setdefault(page.section, []).append(page)
    out, nav = [], []
    for section, members in sections.items():
        members = sorted(members, key=lambda p: (p.title, p.path))
        # Foreign hosts have one section, named in their language.
        label = labels.get("index") or SECTION_LABELS.get(section, section.capitalize())
        chunks = [members[i : i + page_size] for i in range(0, len(members), page_size)]
        paths = [f"/index/{section}-{i + 1}.html" for i in range(len(chunks))]
        nav.append((label, paths[0]))
        intro = labels.get("index_text", f"This page lists the pages in the section {label}.")
        for i, chunk in enumerate(chunks):
            toolbar = []
            if i > 0:
                toolbar.append(Link("Previous page", paths[i - 1]))
            if i + 1 < len(chunks):
                toolbar.append(Link("Next page", paths[i + 1]))
            items = tuple((Link(p.title, p.url),) for p in chunk)
            title = labels["index_title"].format(n=i + 1) if "index_title" in labels else f"{label}, page {i + 1}"
            out.append(
                Page(
                    host=host,
                    path=paths[i],
                    kind="index",
                    style="listing",
                    lang=lang,
                    title=title,
                    blocks=[para(intro), Bullets(items)],
                    toolbar=toolbar,
                )
            )
    return out, nav


def home_page(
    host: str, lang: str, title: str, welcome: list[str], nav: list[tuple[str, str]], extra: list[Link]
) -> Page:
    blocks = [para(" ".join(welcome)), Bullets(tuple((Link(label, path),) for label, path in nav))]
    if extra:
        blocks.append(Bullets(tuple((link,) for link in extra)))
    return Page(host=host, path="/", kind="index", style="home", lang=lang, title=title, blocks=blocks)


def about_page(host: str, lang: str, title: str, text: list[str], extra: list[Link]) -> Page:
    blocks = [para(sentence) for sentence in text]
    blocks.append(Bullets(tuple((link,) for link in (*extra, *FORBIDDEN_LINKS))))
    return Page(host=host, path="/about/", kind="about", style="about", lang=lang, title=title, blocks=blocks)
