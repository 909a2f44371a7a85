"""Spam and low-quality pages: the kinds Gopher, C4 and FineWeb quality filters exist to catch.

Each style trips at least one well-known rule: keyword stuffing (repetition, low stopword ratio),
link farms (link-only pages), ALL CAPS shouting, very short pages, lorem ipsum (C4), bullet-only
pages and lines ending in ellipses (Gopher), and repeated lines (Gopher's duplicate-line ratio).
"""

from __future__ import annotations

import random

from stages.web.blocks import Bullets, Link, para
from stages.web.page import Hosts, Page
from stages.web.world import World

LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut "
    "labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris "
    "nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit "
    "esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in "
    "culpa qui officia deserunt mollit anim id est laborum."
)
PRODUCTS = ("hotels", "flights", "loans", "watches", "insurance", "tickets", "apartments", "car rental")
HYPE = (
    "BEST PRICE",
    "FREE SHIPPING",
    "LIMITED OFFER",
    "ACT NOW",
    "NO CREDIT CHECK",
    "100% GUARANTEED",
    "CLICK HERE",
    "ONLY TODAY",
    "HUGE DISCOUNT",
    "WIN BIG",
)
TEASERS = (
    "You will not believe what happened in {city}",
    "Ten secrets the {city} hotels do not want you to know",
    "This one trick saves you money on {product}",
    "Locals in {city} hate this simple idea",
    "The real reason {product} are so cheap this week",
    "What nobody tells you about {product}",
    "Doctors are amazed by this discovery from {city}",
    "Shocking prices for {product} in {city}",
)
SHORT = (
    "Coming soon.",
    "Page under construction.",
    "Click here to continue.",
    "Nothing here yet.",
    "Welcome!",
    "Loading...",
)

STYLES = (
    "keyword_stuffing",
    "link_farm",
    "shouting",
    "too_short",
    "lorem_ipsum",
    "bullet_fragments",
    "ellipsis_teasers",
    "repeated_lines",
)


def spam_pages(n: int, world: World, hosts: Hosts, rng: random.Random) -> list[Page]:
    cities = world.of_kind("city")
    articles = [hosts.article_url(e.slug) for e in world.entities.values()]
    paths = [f"/offers/{i + 1:04d}.html" for i in range(n)]
    pages = []
    for i, path in enumerate(paths):
        style = STYLES[i % len(STYLES)]
        city = rng.choice(cities)
        product = rng.choice(PRODUCTS)
        title, blocks = _BUILDERS[style](rng, city.name, product, paths, articles)
        pages.append(
            Page(
                host=hosts.spam,
                path=path,
                kind="spam",
                style=style,
                lang="en",
                title=title,
                blocks=blocks,
                entity_ids=[city.id],
                section="offers",
            )
        )
    return pages


def _keyword_stuffing(rng, city, product, paths, articles):
    keywords = [
        f"cheap {city} {product}",
        f"best {city} {product}",
        f"{city} {product} deals",
        f"{product} {city}",
        f"discount {product}",
        f"{city} cheap",
    ]
    chunks = [" ".join(rng.choice(keywords) for _ in range(25)) for _ in range(4)]
    return f"Cheap {city} {product} best {city} {product} deals", [para(c) for c in chunks]


def _link_farm(rng, city, product, paths, articles):
    targets = rng.sample(paths, min(40, len(paths))) + rng.sample(articles, min(20, len(articles)))
    items = tuple((Link(f"{product} {city} {rng.randint(1, 999)}", t),) for t in targets)
    return f"Top {product} links directory", [para(f"Best {product} links"), Bullets(items)]


def _shouting(rng, city, product, paths, articles):
    lines = [
        f"{rng.choice(HYPE)}!!! {product.upper()} IN {city.upper()} {rng.choice(HYPE)}!!! "
        f"{rng.choice(HYPE)} {rng.choice(HYPE)}!!!"
        for _ in range(8)
    ]
    return f"{product.upper()} {city.upper()} SALE!!!", [para(line) for line in lines]


def _too_short(rng, city, product, paths, articles):
    return f"{city} {product}", [para(rng.choice(SHORT))]


def _lorem(rng, city, product, paths, articles):
    return f"{city} {product} page", [para(LOREM) for _ in range(rng.randint(2, 4))]


def _bullets(rng, city, product, paths, articles):
    fragments = [
        f"{rng.choice(HYPE).lower()}",
        f"{product} in {city}",
        "free quote",
        "call now",
        "best deal",
        "no hidden fees",
        "fast service",
        "top rated",
        f"{city} special",
    ]
    items = tuple((f"\u2022 {rng.choice(fragments)}",) for _ in range(30))
    return f"{city} {product} offers", [Bullets(items)]


def _ellipses(rng, city, product, paths, articles):
    lines = [rng.choice(TEASERS).format(city=city, product=product) + "..." for _ in range(12)]
    return f"Trending now in {city}", [para(line) for line in lines]


def _repeated(rng, city, product, paths, articles):
    line = f"Book {product} in {city} today and save."
    return f"{city} {product} booking", [para(line) for _ in range(30)]


_BUILDERS = {
    "keyword_stuffing": _keyword_stuffing,
    "link_farm": _link_farm,
    "shouting": _shouting,
    "too_short": _too_short,
    "lorem_ipsum": _lorem,
    "bullet_fragments": _bullets,
    "ellipsis_teasers": _ellipses,
    "repeated_lines": _repeated,
}
