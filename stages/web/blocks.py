"""The content model of a page's main part, and its two renderings: HTML and main text.

A page is a title plus blocks. The same blocks give the HTML inside `<main>` and the page's
`main_text` ground truth, so the two can never disagree. Main-text conventions (what a good
extractor should recover): the title on the first line, then one line per paragraph, heading,
list item, table row (cells joined by " | ") and question or answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Callable, Union


@dataclass(frozen=True)
class Link:
    text: str
    href: str  # absolute URL, a path on the page's own host ("/a/b.html"), or mailto:/javascript:


Inline = Union[str, Link]


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Para:
    parts: tuple[Inline, ...]


@dataclass(frozen=True)
class Bullets:
    items: tuple[tuple[Inline, ...], ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[Inline, ...], ...]
    caption: str = ""


@dataclass(frozen=True)
class QA:
    question: str
    answer: str


@dataclass(frozen=True)
class Preformatted:
    text: str  # e.g. the source of a page in an edit form


Block = Union[Heading, Para, Bullets, Table, QA, Preformatted]


def para(*parts: Inline) -> Para:
    return Para(tuple(p for p in parts if p != ""))


def inline_text(parts: tuple[Inline, ...]) -> str:
    return "".join(p.text if isinstance(p, Link) else p for p in parts)


def _same(href: str) -> str:
    return href


def inline_html(parts: tuple[Inline, ...], href: Callable[[str], str] = _same) -> str:
    """`href` maps a link target to what the page prints (absolute, root- or page-relative)."""
    return "".join(
        f'<a href="{escape(href(p.href))}">{escape(p.text)}</a>' if isinstance(p, Link) else escape(p) for p in parts
    )


def block_lines(block: Block) -> list[str]:
    if isinstance(block, Heading):
        return [block.text]
    if isinstance(block, Para):
        return [inline_text(block.parts)]
    if isinstance(block, Bullets):
        return [inline_text(item) for item in block.items]
    if isinstance(block, Table):
        lines = [block.caption] if block.caption else []
        lines.append(" | ".join(block.header))
        return lines + [" | ".join(inline_text((cell,)) for cell in row) for row in block.rows]
    if isinstance(block, QA):
        return [block.question, block.answer]
    if isinstance(block, Preformatted):
        return block.text.splitlines()
    raise TypeError(f"not a block: {block!r}")


def main_text(title: str, blocks: list[Block]) -> str:
    lines = [title]
    for block in blocks:
        lines.extend(line for line in block_lines(block) if line.strip())
    return "\n".join(lines)


def block_html(block: Block, href: Callable[[str], str] = _same) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{escape(block.text)}</h{block.level}>"
    if isinstance(block, Para):
        return f"<p>{inline_html(block.parts, href)}</p>"
    if isinstance(block, Bullets):
        items = "".join(f"<li>{inline_html(item, href)}</li>" for item in block.items)
        return f"<ul>{items}</ul>"
    if isinstance(block, Table):
        caption = f"<caption>{escape(block.caption)}</caption>" if block.caption else ""
        head = "".join(f"<th>{escape(h)}</th>" for h in block.header)
        body = "\n".join(
            "<tr>" + "".join(f"<td>{inline_html((c,), href)}</td>" for c in row) + "</tr>" for row in block.rows
        )
        return f'<table class="wikitable">{caption}<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table>'
    if isinstance(block, QA):
        return (
            f'<div class="qa"><h3 class="question">{escape(block.question)}</h3>'
            f'<p class="answer">{escape(block.answer)}</p></div>'
        )
    if isinstance(block, Preformatted):
        return f'<pre class="source">{escape(block.text)}</pre>'
    raise TypeError(f"not a block: {block!r}")


def linkify(text: str, targets: dict[str, str]) -> tuple[Inline, ...]:
    """Split `text` so that the first occurrence of each target name becomes a link."""
    parts: list[Inline] = [text]
    for name, href in targets.items():
        for i, part in enumerate(parts):
            if isinstance(part, str) and name in part:
                before, _, after = part.partition(name)
                parts[i : i + 1] = [p for p in (before, Link(name, href), after) if p != ""]
                break
    return tuple(parts)
