"""Boilerplate-heavy HTML pages whose main text is known, for the extraction/ingest benchmarks.

Each page wraps an article (title, paragraphs, sometimes a sub-heading, a list or a table) in
the chrome real sites carry: a navigation bar with dozens of links, a cookie banner, a sidebar
of related links and ads, share buttons, a comment thread, a footer full of links, scripts and
styles. Four layouts vary the markup (semantic <article>, div soup, a table layout, a docs
page), so an extractor cannot win by matching one template.

Article text comes from WikiText-2 (../shared/data/text) when present — real English prose —
otherwise from a small built-in sentence generator; pass `source="generated"` to force that.
"""

from __future__ import annotations

import html
import random
import re
from dataclasses import dataclass
from pathlib import Path

WIKITEXT = Path(__file__).resolve().parents[2] / "shared" / "data" / "text" / "wikitext2_valid.txt"


@dataclass(frozen=True)
class Page:
    url: str
    html: str
    title: str
    main_text: str  # what an ideal extractor returns (paragraphs, headings, list items, cells)


def _detok(line: str) -> str:
    """Undo WikiText's tokenisation enough to read like web prose."""
    line = line.replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".")
    line = line.replace("<unk>", "thing")
    line = re.sub(r" ([.,;:!?)\]'])", r"\1", line)
    return re.sub(r"([(\[]) ", r"\1", line).strip()


def _wikitext_articles(path: Path) -> list[tuple[str, list[str]]]:
    articles: list[tuple[str, list[str]]] = []
    title, paragraphs = None, []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if re.fullmatch(r"= [^=].* =", line):
            if title and paragraphs:
                articles.append((title, paragraphs))
            title, paragraphs = _detok(line.strip("= ").strip()), []
        elif line and not line.startswith("="):
            text = _detok(line)
            if len(text.split()) >= 12:
                paragraphs.append(text)
    if title and paragraphs:
        articles.append((title, paragraphs))
    return articles


_SUBJECTS = [
    "The old harbour",
    "Our committee",
    "The northern valley",
    "A local historian",
    "The river authority",
    "The village council",
    "Most visitors",
    "The new library",
]
_VERBS = ["described", "rebuilt", "surveyed", "documented", "celebrated", "questioned", "restored"]
_OBJECTS = [
    "the eastern bridge",
    "a series of winter markets",
    "the archive of early maps",
    "the stone chapel near the ford",
    "several drainage channels",
    "the annual regatta",
]
_TAILS = [
    "after the floods of the previous decade",
    "with help from volunteers",
    "despite a difficult budget",
    "over the course of three summers",
    "in great detail",
]


def _generated_article(rng: random.Random) -> tuple[str, list[str]]:
    def sentence() -> str:
        return f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_TAILS)}."

    title = f"{rng.choice(_SUBJECTS)} and {rng.choice(_OBJECTS)}"
    return title, [" ".join(sentence() for _ in range(rng.randint(3, 6))) for _ in range(rng.randint(4, 9))]


_NAV = [
    "Home",
    "News",
    "World",
    "Politics",
    "Business",
    "Technology",
    "Science",
    "Health",
    "Sport",
    "Culture",
    "Travel",
    "Opinion",
    "Video",
    "Podcasts",
    "Newsletters",
    "Shop",
    "Events",
    "Jobs",
    "Contact",
    "About us",
    "Subscribe",
    "Log in",
    "Register",
    "Archive",
]
_FOOTER = [
    "Privacy policy",
    "Terms of use",
    "Cookie settings",
    "Accessibility",
    "Careers",
    "Advertise with us",
    "Press office",
    "Sitemap",
    "Help centre",
    "Corrections",
    "Editorial standards",
    "Partners",
    "RSS feeds",
    "Mobile apps",
    "Contact the newsroom",
]
_COOKIE = (
    "We use cookies and similar technologies to improve your experience, personalise "
    "content and ads, and analyse our traffic. By clicking Accept all you agree to our "
    "use of cookies. You can change your preferences at any time in Cookie settings."
)
_COMMENTS = [
    "Great article, thanks for sharing!",
    "I disagree with the second point entirely.",
    "Does anyone know where to find the original source?",
    "First!",
    "This is exactly what I was looking for, bookmarked.",
    "Very informative, keep it up.",
]
_SCRIPT = (
    "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
    "gtag('js',new Date());gtag('config','G-XXXX');var ads={slots:[1,2,3],lazy:true};</script>"
)
# Real pages carry tens of kilobytes of inline state; parsers pay for it even though it is dropped.
_STATE = (
    '<script type="application/json" id="state">'
    + "{"
    + ",".join(f'"k{i}":{{"id":{i},"slot":"ad-{i}","sizes":[[300,250],[728,90]],"lazy":true}}' for i in range(120))
    + "}</script>"
)
_STYLE = "<style>body{font-family:sans-serif}.nav a{margin:0 4px}.ad{border:1px solid #ccc}</style>"


def _links(rng: random.Random, words: list[str], n: int, host: str) -> list[str]:
    picks = rng.sample(words, min(n, len(words)))
    return [f'<a href="https://{host}/{w.lower().replace(" ", "-")}">{html.escape(w)}</a>' for w in picks]


def _related(rng: random.Random, titles: list[str], host: str, n: int = 8) -> str:
    items = "".join(
        f'<li><a href="https://{host}/a/{rng.randint(1000, 9999)}">{html.escape(t)}</a></li>'
        for t in rng.sample(titles, min(n, len(titles)))
    )
    return f"<h3>Related stories</h3><ul>{items}</ul>"


def _body_blocks(rng: random.Random, paragraphs: list[str]) -> tuple[list[str], list[str]]:
    """(HTML blocks, their text) for the article body: paragraphs plus maybe a list or table."""
    blocks, texts = [], []
    for i, para in enumerate(paragraphs):
        if i == len(paragraphs) // 2 and rng.random() < 0.5:
            heading = "Background and context"
            blocks.append(f"<h2>{heading}</h2>")
            texts.append(heading)
        blocks.append(f"<p>{html.escape(para)}</p>")
        texts.append(para)
    if rng.random() < 0.35:
        pairs = rng.sample([(o, t) for o in _OBJECTS for t in _TAILS], rng.randint(3, 6))
        items = [f"{o.capitalize()} {t}" for o, t in pairs]
        blocks.append("<ul>" + "".join(f"<li>{html.escape(it)}</li>" for it in items) + "</ul>")
        texts.extend(items)
    if rng.random() < 0.25:
        rows = [
            (str(1900 + rng.randint(0, 120)), rng.choice(_SUBJECTS), rng.choice(_VERBS))
            for _ in range(rng.randint(3, 5))
        ]
        cells = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
        blocks.append(f"<table><tr><th>Year</th><th>Who</th><th>What</th></tr>{cells}</table>")
        texts.extend(["Year", "Who", "What"] + [c for row in rows for c in row])
    return blocks, texts


def _layout(style: int, rng: random.Random, host: str, title: str, body: str, related: str) -> str:
    nav = " | ".join(_links(rng, _NAV, rng.randint(12, 24), host))
    # A mega menu: every section with its sub-sections, as big news sites have.
    nav += (
        '<ul class="mega">'
        + "".join(
            f"<li>{section}<ul>"
            + "".join(
                f'<li><a href="https://{host}/{section.lower()}/{j}">{section} {sub}</a></li>'
                for j, sub in enumerate(_FOOTER[:6])
            )
            + "</ul></li>"
            for section in _NAV[:12]
        )
        + "</ul>"
    )
    footer = " · ".join(_links(rng, _FOOTER, rng.randint(8, 15), host))
    share = "Share: " + " ".join(_links(rng, ["Facebook", "X", "LinkedIn", "Email", "WhatsApp"], 5, host))
    comments = "".join(
        f'<div class="comment"><b>user{rng.randint(1, 999)}</b><p>{c}</p></div>'
        for c in rng.sample(_COMMENTS, rng.randint(2, 5))
    )
    cookie = f'<div id="cookie-banner" class="cookie"><p>{_COOKIE}</p><button>Accept all</button></div>'
    ad = f'<div class="ad">Advertisement. Sponsored: {rng.choice(_OBJECTS)} deals, up to 50% off today!</div>'
    date = f"{rng.randint(1, 28)} March {rng.randint(2015, 2024)}"
    head = (
        f'<head><meta charset="utf-8"><title>{html.escape(title)} | {host}</title>'
        f'<meta property="og:title" content="{html.escape(title)}">{_STYLE}{_SCRIPT}{_STATE}</head>'
    )
    if style == 0:  # semantic HTML5 news page
        page = (
            f'<header><nav class="nav">{nav}</nav></header>{cookie}<main><article>'
            f'<h1>{html.escape(title)}</h1><p class="byline">By Staff Reporter, {date}</p>{body}'
            f'<div class="share">{share}</div></article><aside>{related}{ad}</aside></main>'
            f'<section class="comments"><h3>Comments</h3>{comments}</section>'
            f"<footer>{footer}<p>© {host} 2024. All rights reserved.</p></footer>"
        )
    elif style == 1:  # div soup blog
        page = (
            f'<div id="top"><div class="menu">{nav}</div></div>{cookie}<div class="wrap">'
            f'<div class="sidebar">{related}{ad}</div><div class="post"><div class="post-title">'
            f'<h1>{html.escape(title)}</h1></div><div class="meta">Posted on {date}</div>'
            f'<div class="entry-content">{body}</div><div class="share">{share}</div></div>'
            f'<div id="comments">{comments}</div></div><div id="footer">{footer}</div>'
        )
    elif style == 2:  # old table layout
        page = (
            f'<table width="100%"><tr><td colspan="2">{nav}</td></tr><tr><td width="25%">'
            f"{related}{ad}</td><td><h1>{html.escape(title)}</h1>{body}</td></tr>"
            f'<tr><td colspan="2">{footer}</td></tr></table>{cookie}'
        )
    else:  # documentation / wiki style
        toc = "".join(f'<li><a href="#s{i}">Section {i}</a></li>' for i in range(1, rng.randint(4, 9)))
        page = (
            f'<div class="topbar">{nav}</div><div class="toc"><b>Contents</b><ul>{toc}</ul></div>'
            f'<div id="content" role="main"><h1>{html.escape(title)}</h1>{body}'
            f'<p class="lastmod">This page was last edited on {date}.</p></div>'
            f'<div class="related">{related}</div><div class="footer">{footer}</div>{cookie}'
        )
    return f'<!DOCTYPE html><html lang="en">{head}<body>{page}{_SCRIPT}</body></html>'


def make_pages(n: int, seed: int = 0, source: str = "auto") -> list[Page]:
    """`n` pages, reproducible from `seed`."""
    rng = random.Random(seed)
    articles = _wikitext_articles(WIKITEXT) if source != "generated" and WIKITEXT.is_file() else []
    titles = [t for t, _ in articles] or [_generated_article(rng)[0] for _ in range(40)]
    pages = []
    for i in range(n):
        if articles:
            title, paragraphs = articles[i % len(articles)]
            start = rng.randint(0, max(0, len(paragraphs) - 3))
            paragraphs = paragraphs[start : start + rng.randint(3, 10)]
        else:
            title, paragraphs = _generated_article(rng)
        host = f"site{i % 17}.example"
        blocks, texts = _body_blocks(rng, paragraphs)
        markup = _layout(i % 4, rng, host, title, "".join(blocks), _related(rng, titles, host))
        # The headline is part of the article: an extractor that keeps it is right to.
        pages.append(Page(f"https://{host}/articles/{i}", markup, title, "\n".join([title, *texts])))
    return pages
