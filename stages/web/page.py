"""A generated page (ground truth row + what the renderer needs) and the hosts of the web."""

from __future__ import annotations

from dataclasses import dataclass, field

from stages.web.blocks import Block, Link, main_text


@dataclass
class Page:
    host: str
    path: str  # URL path, starting with "/"
    kind: str  # article|news|list|faq|profile|mirror|near_duplicate|spam|foreign|index|about|oversized
    style: str  # the template that made it
    lang: str
    title: str
    blocks: list[Block]
    entity_ids: list[str] = field(default_factory=list)
    sidebar: list[Link] = field(default_factory=list)  # boilerplate: related links
    toolbar: list[Link] = field(default_factory=list)  # boilerplate: page tools (edit, print)
    alternates: list[Link] = field(default_factory=list)  # boilerplate: the page in other languages
    section: str | None = None  # which listing index shows it (None: not listed)
    duplicate_of: str | None = None
    edit_fraction: float | None = None
    disallowed: bool = False
    html: str | None = None  # set when rendered; a mirror copies its original's

    @property
    def url(self) -> str:
        return f"http://{self.host}{self.path}"

    @property
    def main_text(self) -> str:
        return main_text(self.title, self.blocks)


@dataclass(frozen=True)
class Hosts:
    """Host names of the web about world `w`: all under the reserved .test TLD."""

    world: str

    @property
    def wiki(self) -> str:
        return f"en.{self.world}-wiki.test"

    @property
    def news(self) -> str:
        return f"{self.world}-news.test"

    @property
    def faq(self) -> str:
        return f"{self.world}-answers.test"

    @property
    def mirror(self) -> str:
        return f"{self.world}-wikimirror.test"

    @property
    def digest(self) -> str:
        return f"{self.world}-digest.test"

    @property
    def spam(self) -> str:
        return f"best-{self.world}-deals.test"

    def foreign(self, lang: str) -> str:
        return f"{lang}.{self.world}-wiki.test"

    def article_url(self, slug: str, lang: str = "en") -> str:
        host = self.wiki if lang == "en" else self.foreign(lang)
        return f"http://{host}/wiki/{slug}.html"
