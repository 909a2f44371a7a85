"""Builds the whole synthetic web in memory: every page of every host, rendered, plus the files,
redirects and robots rules that `site.py` writes out.

Each part draws from its own `random.Random(f"{seed}:{part}")`, so the output depends only on the
seed and params, and changing one part (say, the number of spam pages) leaves the others as they were.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from stages.web.blocks import Link, para
from stages.web.boilerplate import COOKIE_TEXTS, FOOTER_NOTES, Labels, Theme, render
from stages.web.files import oversized_page, tiny_jpeg, tiny_pdf
from stages.web.foreign import LABELS, foreign_article
from stages.web.lexicon import INDUSTRIES, OCCUPATIONS
from stages.web.navigation import about_page, home_page, listing_pages
from stages.web.news import news_article
from stages.web.page import Hosts, Page
from stages.web.params import WebParams
from stages.web.profiles import profile_pages
from stages.web.render import article, edit_form, faq_page, list_pages
from stages.web.spam import spam_pages
from stages.web.variants import mirror, near_duplicate
from stages.web.world import Entity, World, build_world

REDIRECT_CHAIN_HOPS = 6  # longer than the 4 redirects a polite crawler follows

# English hosts: attribute of Hosts -> (site name, how its links are printed, welcome, about text).
ENGLISH_SITES = {
    "wiki": (
        "{W} Wiki",
        "absolute",
        [
            "Welcome to the {W} Wiki, the free encyclopedia of the continent of {W}.",
            "Volunteers have written articles about its people, its cities and towns, and its companies.",
            "Start with one of the sections below, or follow the featured links further down.",
        ],
        [
            "The {W} Wiki is written and maintained by volunteers who care about the history of the continent.",
            "Every article is reviewed by at least one editor before it is published.",
            "Corrections and new articles are always welcome; please cite your sources when you edit.",
        ],
    ),
    "news": (
        "The {W} Courier",
        "root",
        [
            "The {W} Courier reports on the people, towns and businesses of {W}.",
            "Our reporters travel across the continent to bring you stories you will not read anywhere else.",
            "Browse the archive below or read the latest story.",
        ],
        [
            "The {W} Courier has been published by an independent team of journalists for many years.",
            "We are funded by our readers and do not accept payment for coverage.",
            "Letters to the editor are published every weekend.",
        ],
    ),
    "faq": (
        "{W} Answers",
        "relative",
        [
            "{W} Answers collects short, checked answers to the questions readers ask about {W}.",
            "Each page covers one person, place or company.",
            "If your question is missing, write to us and we will try to answer it.",
        ],
        [
            "{W} Answers is a small reference project run by librarians and teachers.",
            "Answers are checked against the encyclopedia and other published sources.",
            "We update pages when new information becomes available.",
        ],
    ),
    "mirror": (
        "{W} Wiki Mirror",
        "absolute",
        [
            "This site mirrors a selection of articles from the {W} Wiki.",
            "The copies are refreshed from time to time and may lag behind the original.",
        ],
        [
            "This mirror is run by volunteers to keep popular articles available when the main site is slow.",
            "All content belongs to the original authors.",
        ],
    ),
    "digest": (
        "{W} Digest",
        "relative",
        [
            "The {W} Digest republishes stories and articles about {W} with light editing.",
            "Follow the links below to read this week's selection.",
        ],
        [
            "The {W} Digest is an aggregator: it collects and adapts texts published elsewhere.",
            "Each story names its original source.",
        ],
    ),
    "spam": (
        "Best {W} Deals!!!",
        "root",
        ["BEST DEALS!!! Cheap offers for {W} every day.", "Click the links below now."],
        ["We are the number one deals site.", "Contact us for advertising."],
    ),
}
DISALLOW = {"wiki": ["/edit/", "/private/"], "news": ["/drafts/"], "faq": ["/admin/"]}
DEFAULT_DISALLOW = ["/search/"]


@dataclass
class Web:
    world: World
    hosts: Hosts
    host_names: list[str]
    pages: list[Page]  # rendered (page.html set)
    files: dict[str, dict[str, bytes]]  # host -> path -> bytes (non-HTML files)
    redirects: dict[str, dict[str, dict]]  # host -> path -> {status, location}
    content_types: dict[str, dict[str, str]]  # host -> path -> MIME type override
    disallow: dict[str, list[str]]  # host -> robots.txt Disallow prefixes


def _sample(rng: random.Random, items: list, fraction: float, at_least: int = 0) -> list:
    """A random subset in the original order (so output order never depends on the draw order)."""
    k = min(len(items), max(at_least, round(len(items) * fraction)))
    return [items[i] for i in sorted(rng.sample(range(len(items)), k))]


def generate(params: WebParams) -> Web:
    """The whole web for `params.seed`: the world, its content pages, the files and redirects that
    test a crawler, each host's navigation, every page rendered, and robots.txt's rules."""

    def rng(part: str) -> random.Random:
        return random.Random(f"{params.seed}:{part}")

    world = build_world(params)
    hosts = Hosts(params.world)
    lengths = rng("lengths")

    def target() -> int:
        """A filler length: articles, news and foreign articles draw from one stream, in that order."""
        return lengths.randint(params.filler_min_words, params.filler_max_words)

    content = _content(params, world, hosts, rng, target)
    files, content_types = _files(params, hosts)
    big = oversized_page(hosts.wiki, world, params.oversized_page_bytes)
    content.pages.append(big)
    entities = list(world.entities.values())
    chain_end = content.articles[entities[rng("chain").randrange(len(entities))].id].url
    _trap_redirects(hosts, content.redirects, chain_end, content.news)

    host_names = [getattr(hosts, key) for key in ENGLISH_SITES] + [hosts.foreign(lang) for lang in params.foreign_langs]
    extra_home, extra_about = _extra_links(hosts, files, big, bool(content.news))
    themes, navigation = _navigation(params, hosts, host_names, content.pages, extra_home, extra_about)
    pages = content.pages + navigation
    _render_all(pages, themes, content.mirrors)
    disallow = {h: DISALLOW.get(_english_key(hosts, h) or "", DEFAULT_DISALLOW) for h in host_names}
    _check_robots(pages, disallow)
    return Web(world, hosts, host_names, pages, files, content.redirects, content_types, disallow)


@dataclass
class _Content:
    """The content pages (not yet rendered) and what the rest of the web links to among them."""

    pages: list[Page]  # every content page, in output order
    articles: dict[str, Page]  # entity id -> its encyclopedia article
    news: list[Page]
    mirrors: list[Page]  # rendered last: byte copies of their originals
    redirects: dict[str, dict[str, dict]]  # host -> path -> {status, location}


def _content(
    params: WebParams, world: World, hosts: Hosts, rng: Callable[[str], random.Random], target: Callable[[], int]
) -> _Content:
    """Every content page, each kind from its own random stream (`target` aside)."""
    entities = list(world.entities.values())
    # Encyclopedia articles: one per entity, the pages that carry every fact.
    r = rng("articles")
    articles = {e.id: article(e, world, hosts, r, target()) for e in entities}
    wiki_pages = list(articles.values())
    disallowed = _wiki_disallowed(params, hosts, wiki_pages, rng("edit"))
    lists = _list_pages(world, hosts, rng("lists"))
    faqs = [faq_page(e, world, hosts, rng("faq")) for e in _sample(rng("faq-pick"), entities, params.faq_fraction)]
    profiles = profile_pages(entities, world, hosts, rng("profiles"), params.profiles_per_entity)
    article_href, redirects = _old_urls(params, hosts, entities, rng("old-urls"))
    news = _news(params, world, hosts, rng("news"), target, article_href)
    disallowed += _drafts(news, rng("drafts"))
    disallowed.append(
        Page(
            host=hosts.faq,
            path="/admin/",
            kind="about",
            style="moderation",
            lang="en",
            title="Moderation queue",
            disallowed=True,
            blocks=[para("Questions waiting for review are listed here for moderators.")],
        )
    )
    foreign = _foreign(params, world, hosts, rng, target, articles)
    spam = spam_pages(params.spam_pages, world, hosts, rng("spam"))
    _sidebars(rng("sidebars"), world, hosts, articles, news, faqs, foreign, spam)
    mirrors = [mirror(p, hosts.mirror) for p in _sample(rng("mirrors"), wiki_pages, params.mirror_fraction)]
    near_dups = _near_duplicates(params, hosts, wiki_pages + news, rng)
    pages = [*wiki_pages, *lists, *news, *faqs, *profiles, *foreign, *spam, *mirrors, *near_dups, *disallowed]
    return _Content(pages, articles, news, mirrors, redirects)


def _wiki_disallowed(params: WebParams, hosts: Hosts, wiki_pages: list[Page], rng: random.Random) -> list[Page]:
    """Robots-disallowed pages that exist and are linked: edit forms and staff notes."""
    disallowed = []
    for page in _sample(rng, wiki_pages, params.disallowed_fraction, at_least=1):
        form = edit_form(page)
        page.toolbar.append(Link("Edit this page", form.path))
        disallowed.append(form)
    disallowed.append(
        Page(
            host=hosts.wiki,
            path="/private/staff-notes.html",
            kind="about",
            style="staff_notes",
            lang="en",
            title="Staff notes",
            disallowed=True,
            blocks=[
                para("These notes are for editors only. Please do not share them outside the team."),
                para(
                    "The next review of the list pages is planned for the spring. Volunteers who "
                    "want to help should contact the coordinating editor."
                ),
            ],
        )
    )
    return disallowed


def _old_urls(
    params: WebParams,
    hosts: Hosts,
    entities: list[Entity],
    rng: random.Random,
) -> tuple[dict[str, str], dict[str, dict[str, dict]]]:
    """(entity id -> the URL news stories link its article by, the redirects): some articles moved,
    their old URLs redirecting, and news stories link to them through the old ones."""
    old = _sample(rng, entities, 0.0, at_least=min(params.old_url_redirects, len(entities)))
    article_href = {e.id: hosts.article_url(e.slug) for e in entities}
    redirects: dict[str, dict[str, dict]] = {}
    for e in old:
        article_href[e.id] = f"http://{hosts.wiki}/old/{e.slug}"
        redirects.setdefault(hosts.wiki, {})[f"/old/{e.slug}"] = {"status": 301, "location": hosts.article_url(e.slug)}
    return article_href, redirects


def _drafts(news: list[Page], rng: random.Random) -> list[Page]:
    """Disallowed draft copies of a few news stories, linked from the stories."""
    drafts = []
    for page in _sample(rng, news, 0.02, at_least=1 if news else 0):
        draft = Page(
            host=page.host,
            path="/drafts" + page.path,
            kind="news",
            style="draft",
            lang="en",
            title=f"DRAFT: {page.title}",
            blocks=list(page.blocks),
            entity_ids=list(page.entity_ids),
            disallowed=True,
        )
        page.toolbar.append(Link("Draft version", draft.path))
        drafts.append(draft)
    return drafts


def _near_duplicates(
    params: WebParams, hosts: Hosts, sources: list[Page], rng: Callable[[str], random.Random]
) -> list[Page]:
    """The digest's lightly edited copies of articles and stories, with sidebars among themselves."""
    near_dups = []
    r = rng("near-dups")
    for source in _sample(r, sources, params.near_dup_fraction):
        path = "/stories/" + source.path.removeprefix("/wiki/").strip("/").replace("/", "-")
        fraction = r.uniform(params.near_dup_edit_min, params.near_dup_edit_max)
        near_dups.append(near_duplicate(source, hosts.digest, path, fraction, r))
    r = rng("digest-sidebars")
    for page in near_dups:
        page.sidebar = [Link(p.title, p.path) for p in r.sample(near_dups, min(4, len(near_dups))) if p is not page]
    return near_dups


def _files(params: WebParams, hosts: Hosts) -> tuple[dict[str, dict[str, bytes]], dict[str, dict[str, str]]]:
    """(host -> path -> bytes of the non-HTML files, host -> path -> MIME type where the path lacks a suffix)."""
    W = params.world.capitalize()
    files = {
        hosts.wiki: {
            f"/files/{params.world}-atlas.pdf": tiny_pdf(f"Atlas of {W}"),
            f"/images/map-of-{params.world}.jpg": tiny_jpeg(),
            "/files/readme.txt": f"The {W} Wiki: plain-text notes for offline readers.\n".encode(),
            "/download/atlas": tiny_pdf(f"Atlas of {W}, download edition"),
        },
        hosts.news: {"/files/press-kit.pdf": tiny_pdf(f"The {W} Courier press kit")},
    }
    return files, {hosts.wiki: {"/download/atlas": "application/pdf"}}


def _trap_redirects(hosts: Hosts, redirects: dict[str, dict[str, dict]], chain_end: str, news: list[Page]) -> None:
    """Redirects that exercise a crawler's limits: a chain longer than it follows, a loop, and
    redirects between hosts."""
    wiki_redirects = redirects.setdefault(hosts.wiki, {})
    for hop in range(1, REDIRECT_CHAIN_HOPS + 1):
        location = f"http://{hosts.wiki}/go/hop-{hop + 1}" if hop < REDIRECT_CHAIN_HOPS else chain_end
        wiki_redirects[f"/go/hop-{hop}"] = {"status": 301 if hop % 2 else 302, "location": location}
    wiki_redirects["/go/loop-a"] = {"status": 302, "location": f"http://{hosts.wiki}/go/loop-b"}
    wiki_redirects["/go/loop-b"] = {"status": 302, "location": f"http://{hosts.wiki}/go/loop-a"}
    if news:
        redirects[hosts.news] = {"/latest": {"status": 302, "location": max(news, key=lambda p: p.path).url}}
    redirects[hosts.faq] = {"/wiki": {"status": 301, "location": f"http://{hosts.wiki}/"}}


def _extra_links(
    hosts: Hosts, files: dict[str, dict[str, bytes]], big: Page, has_news: bool
) -> tuple[dict[str, list[Link]], dict[str, list[Link]]]:
    """(host -> links its home page adds, host -> links its about page adds): the files, traps and
    disallowed pages a crawler can only find from there."""
    extra_home = {
        hosts.wiki: [
            *(Link(f"Download: {p.rsplit('/', 1)[1]}", p) for p in files[hosts.wiki]),
            Link("Complete register of facts", big.path),
            Link("Featured article", "/go/hop-1"),
            Link("Random article", "/go/loop-a"),
            Link("Staff notes", "/private/staff-notes.html"),
        ],
        hosts.news: [Link("Latest story", "/latest")] if has_news else [],
        hosts.faq: [Link("Encyclopedia", "/wiki"), Link("Moderation", "/admin/")],
    }
    return extra_home, {hosts.news: [Link("Press kit (PDF)", "/files/press-kit.pdf")]}


def _english_key(hosts: Hosts, host: str) -> str | None:
    """The ENGLISH_SITES key of `host`, None for a foreign-language host."""
    return next((k for k in ENGLISH_SITES if getattr(hosts, k) == host), None)


def _navigation(
    params: WebParams,
    hosts: Hosts,
    host_names: list[str],
    content: list[Page],
    extra_home: dict[str, list[Link]],
    extra_about: dict[str, list[Link]],
) -> tuple[dict[str, Theme], list[Page]]:
    """(host -> its theme, the navigation pages: each host's listings, home page and about page)."""
    W = params.world.capitalize()
    themes, navigation = {}, []
    for i, host in enumerate(host_names):
        key = _english_key(hosts, host)
        lang = "en" if key else host.split(".", 1)[0]
        labels = {k: v.replace("{World}", W) for k, v in LABELS[lang].items()} if lang != "en" else {}
        listings, nav = listing_pages(host, lang, content, params.index_page_size, labels)
        name, mode, welcome, about, theme_labels = _site_texts(key, labels, W)
        themes[host] = Theme(
            host=host,
            site_name=name,
            lang=lang,
            link_mode=mode,
            nav=tuple(nav),
            cookie=labels.get("cookie", COOKIE_TEXTS[i % len(COOKIE_TEXTS)]),
            footer_note=labels.get("note", FOOTER_NOTES[i % len(FOOTER_NOTES)]),
            contact_email=f"editors@{host}",
            labels=theme_labels,
        )
        navigation += listings
        navigation.append(home_page(host, lang, name, welcome, nav, extra_home.get(host, [])))
        navigation.append(about_page(host, lang, f"{theme_labels.about}: {name}", about, extra_about.get(host, [])))
    return themes, navigation


def _site_texts(key: str | None, labels: dict[str, str], W: str) -> tuple[str, str, list[str], list[str], Labels]:
    """(site name, link mode, welcome text, about text, boilerplate labels) of an English site
    (`key`) or, with key None, of a foreign one in `labels`' language."""
    if key:
        name, mode, welcome, about = ENGLISH_SITES[key]
        return (
            name.replace("{W}", W),
            mode,
            [s.replace("{W}", W) for s in welcome],
            [s.replace("{W}", W) for s in about],
            Labels(),
        )
    return (
        labels["site"],
        "root",
        [labels["welcome"]],
        [labels["about_text"]],
        Labels(
            home=labels["home"],
            about=labels["about"],
            related=labels["related"],
            languages=labels["languages"],
            accept=labels["accept"],
            rights=labels["rights"],
            contact=labels["contact"],
            cookies=labels["cookies"],
            privacy=labels["privacy"],
        ),
    )


def _render_all(pages: list[Page], themes: dict[str, Theme], mirrors: list[Page]) -> None:
    """Set every page's HTML; a mirror's is its original's, byte for byte."""
    for page in pages:
        if page.kind != "mirror":
            page.html = render(themes[page.host], page)
    by_url = {p.url: p for p in pages}
    for page in mirrors:
        page.html = by_url[page.duplicate_of].html


def _list_pages(world: World, hosts: Hosts, rng: random.Random) -> list[Page]:
    pages = []
    for country in world.of_kind("country"):
        members = [c for c in world.of_kind("city") if c.refs["in_country"] == country.id]
        pages.extend(list_pages("city", country.name, members, hosts, rng))
    for industry in INDUSTRIES:
        members = [o for o in world.of_kind("organisation") if o.attrs["industry"] == industry]
        if members:
            pages.extend(list_pages("organisation", industry, members, hosts, rng))
    for occupation in OCCUPATIONS:
        members = [p for p in world.of_kind("person") if p.attrs["occupation"] == occupation]
        if members:
            pages.extend(list_pages("person", occupation, members, hosts, rng))
    return pages


def _news(params: WebParams, world: World, hosts: Hosts, rng: random.Random, target, article_href) -> list[Page]:
    people = world.of_kind("person")
    reporters = [p for p in people if p.attrs["occupation"] == "journalist"] or people
    by_kind = {k: world.of_kind(k) for k in ("person", "organisation", "city", "country")}
    used: set[str] = set()
    pages = []
    for _ in range(params.news_articles):
        roll = rng.random()
        kind = "person" if roll < 0.5 else "organisation" if roll < 0.72 else "city" if roll < 0.95 else "country"
        entity = rng.choice(by_kind[kind])
        pages.append(
            news_article(
                entity,
                world,
                hosts,
                rng,
                rng.choice(reporters),
                target(),
                rng.random() < params.pii_fraction,
                used,
                article_href,
            )
        )
    return pages


def _foreign(params: WebParams, world: World, hosts: Hosts, rng, target, articles: dict[str, Page]) -> list[Page]:
    pages = []
    entities = list(world.entities.values())
    for lang in params.foreign_langs:
        chosen = _sample(rng(f"foreign-pick-{lang}"), entities, params.foreign_fraction)
        have = {e.id for e in chosen}
        r = rng(f"foreign-{lang}")
        for e in chosen:
            page = foreign_article(e, world, hosts, lang, r, target(), have)
            # Interlanguage links, both ways, as real wikis have.
            page.alternates.append(Link("English", articles[e.id].url))
            articles[e.id].alternates.append(Link(LANGUAGE_NAMES[lang], page.url))
            pages.append(page)
    return pages


LANGUAGE_NAMES = {"de": "Deutsch", "es": "Español", "fr": "Français"}


def _sidebars(
    rng: random.Random,
    world: World,
    hosts: Hosts,
    articles: dict[str, Page],
    news: list[Page],
    faqs: list[Page],
    foreign: list[Page],
    spam: list[Page],
) -> None:
    """Related links in the boilerplate: what extraction must drop, and more paths for the crawler."""
    by_kind: dict[str, list[str]] = {}
    for e in world.entities.values():
        by_kind.setdefault(e.kind, []).append(e.id)
    for eid, page in articles.items():
        e = world.entities[eid]
        related = list(e.refs.values()) + rng.sample(by_kind[e.kind], min(3, len(by_kind[e.kind])))
        page.sidebar = [Link(world.entities[r].name, articles[r].url) for r in dict.fromkeys(related) if r != eid]
    for group in (news, faqs, spam):
        for page in group:
            page.sidebar = [Link(p.title, p.path) for p in rng.sample(group, min(4, len(group))) if p is not page]
    for page in faqs:
        subject = page.entity_ids[0]
        page.sidebar.insert(0, Link(f"{world.entities[subject].name} in the encyclopedia", articles[subject].url))
    by_host: dict[str, list[Page]] = {}
    for page in foreign:
        by_host.setdefault(page.host, []).append(page)
    for group in by_host.values():
        for page in group:
            page.sidebar = [Link(p.title, p.path) for p in rng.sample(group, min(4, len(group))) if p is not page]


def _check_robots(pages: list[Page], disallow: dict[str, list[str]]) -> None:
    """Ground truth must match robots.txt: a page is disallowed exactly when a rule covers it."""
    for page in pages:
        covered = any(page.path.startswith(prefix) for prefix in disallow[page.host])
        if covered != page.disallowed:
            raise RuntimeError(f"robots ground truth mismatch for {page.url}")
