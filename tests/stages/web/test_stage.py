"""The `web` stage end to end at micro size: the site contract, ground truth and determinism."""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import py3langid
import pyarrow.parquet as pq
import pytest
from protego import Protego

from kit.web import CRAWL_DELAY, generate
from stages.web.spam import STYLES as SPAM_STYLES


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="module")
def pages(out) -> list[dict]:
    return pq.read_table(out / "pages.parquet").to_pylist()


@pytest.fixture(scope="module")
def facts(out) -> list[dict]:
    return pq.read_table(out / "facts.parquet").to_pylist()


@pytest.fixture(scope="module")
def site(out) -> dict:
    return json.loads((out / "site" / "site.json").read_text())


def local_file(out: Path, url: str) -> Path:
    parts = urlsplit(url)
    path = parts.path or "/"
    return out / "site" / parts.netloc / (path.lstrip("/") + ("index.html" if path.endswith("/") else ""))


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every output file's bytes, except the metrics (they hold the run time)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "web.json"
    }


class Hrefs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.extend(v for k, v in attrs if k == "href" and v is not None)


def links_of(path: Path) -> list[str]:
    parser = Hrefs()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.hrefs


# --- determinism -------------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path):
    # Same output paths each time: the params (paths included) are recorded in the Parquet files.
    first = tree_bytes(generate(tmp_path))
    again = tree_bytes(generate(tmp_path))
    assert first == again and any(name.startswith("site/") for name in first)
    other = tree_bytes(generate(tmp_path, seed=7))
    assert other["facts.parquet"] != first["facts.parquet"]
    assert {k: v for k, v in other.items() if k.startswith("site/")} != {
        k: v for k, v in first.items() if k.startswith("site/")
    }


# --- site contract -----------------------------------------------------------------------------


def test_site_json_hosts_seeds_redirects_and_content_types(out, site):
    assert site["schema_version"] == 1
    assert len(site["hosts"]) >= 9 and all(h.endswith(".test") for h in site["hosts"])
    assert sorted(p.name for p in (out / "site").iterdir() if p.is_dir()) == sorted(site["hosts"])
    assert site["seeds"] and all(s.startswith("http://") for s in site["seeds"])
    for seed in site["seeds"]:
        assert local_file(out, seed).is_file(), seed
    for host, redirects in site["redirects"].items():
        for path, rule in redirects.items():
            assert rule["status"] in (301, 302, 303, 307, 308)
            assert not local_file(out, f"http://{host}{path}").exists(), "a redirect source must not be a file"
            target = urlsplit(rule["location"])
            assert target.scheme == "http" and target.netloc in site["hosts"]
            assert local_file(out, rule["location"]).is_file() or target.path in site["redirects"].get(
                target.netloc, {}
            )
    for host, types in site["content_types"].items():
        for path in types:
            assert local_file(out, f"http://{host}{path}").is_file()


def follow(site: dict, url: str, limit: int = 20) -> tuple[list[str], bool]:
    """The URLs a redirect chain passes through, and whether it comes back to one of them."""
    seen = [url]
    while len(seen) < limit:
        parts = urlsplit(seen[-1])
        rule = site["redirects"].get(parts.netloc, {}).get(parts.path)
        if rule is None:
            return seen, False
        if rule["location"] in seen:
            return seen, True
        seen.append(rule["location"])
    return seen, False


def test_redirects_include_a_long_chain_and_a_loop(site):
    chains = [follow(site, f"http://{h}{p}") for h, rules in site["redirects"].items() for p in rules]
    assert max(len(chain) - 1 for chain, looped in chains if not looped) > 4  # more hops than a crawler follows
    assert any(looped for _, looped in chains)


def test_every_in_scope_link_resolves_and_bad_links_are_present(out, site, pages):
    hosts = set(site["hosts"])
    targets = Counter()
    relative = 0
    for row in pages:
        page = local_file(out, row["url"])
        for href in links_of(page):
            if not href.startswith(("http:", "https:", "/", "mailto:", "javascript:")):
                relative += 1
            url, _ = urldefrag(urljoin(row["url"], href))
            parts = urlsplit(url)
            if parts.scheme == "http" and parts.netloc in hosts:
                ok = local_file(out, url).is_file() or parts.path in site["redirects"].get(parts.netloc, {})
                assert ok, f"{row['url']} links to missing {url}"
            targets[url if parts.netloc not in hosts else parts.path.rsplit(".", 1)[-1]] += 1
    assert relative > 0, "some links must be page-relative"
    for bad in (
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://localhost:22/",
        "http://127.0.0.1:9/",
    ):
        assert targets[bad] > 0, bad
    assert any(t.startswith("mailto:") for t in targets) and any(t.startswith("javascript:") for t in targets)
    assert targets["pdf"] and targets["jpg"] and targets["txt"]


def test_robots_txt_rules_match_the_ground_truth(out, site, pages):
    rows_by_host = {}
    for row in pages:
        rows_by_host.setdefault(row["host"], []).append(row)
    for host in site["hosts"]:
        text = (out / "site" / host / "robots.txt").read_text()
        assert "Disallow: /" in text and f"Sitemap: http://{host}/sitemap.xml" in text
        robots = Protego.parse(text)
        assert robots.crawl_delay("crisol") == pytest.approx(CRAWL_DELAY)
        for row in rows_by_host.get(host, []):
            assert robots.can_fetch(row["url"], "crisol") == (not row["disallowed"]), row["url"]
        sitemap = (out / "site" / host / "sitemap.xml").read_text()
        for url in re.findall(r"<loc>(.*?)</loc>", sitemap):
            assert local_file(out, url).is_file() and robots.can_fetch(url, "crisol")
    disallowed = [r for r in pages if r["disallowed"]]
    assert disallowed and all(local_file(out, r["url"]).is_file() for r in disallowed)
    linked = {
        urldefrag(urljoin(r["url"], h))[0]
        for r in pages
        if not r["disallowed"]
        for h in links_of(local_file(out, r["url"]))
    }
    assert any(r["url"] in linked for r in disallowed), "crawlable pages must link into disallowed paths"


def test_oversized_page_exists_and_is_linked(out, pages):
    big = [r for r in pages if r["kind"] == "oversized"]
    assert len(big) == 1
    assert local_file(out, big[0]["url"]).stat().st_size > 1_048_576
    assert any(
        big[0]["url"] == urljoin(r["url"], h)
        for r in pages
        if r["kind"] == "index"
        for h in links_of(local_file(out, r["url"]))
    )


# --- ground truth ------------------------------------------------------------------------------


def test_every_fact_is_stated_on_a_crawlable_english_page(facts, pages):
    readable = [r for r in pages if r["lang"] == "en" and not r["disallowed"] and r["kind"] != "oversized"]
    by_entity: dict[str, list[str]] = {}
    for row in readable:
        for eid in row["entity_ids"]:
            by_entity.setdefault(eid, []).append(row["main_text"])
    missing = [
        f["fact_id"] for f in facts if not any(f["object"] in text for text in by_entity.get(f["subject_id"], []))
    ]
    assert facts and not missing


def test_facts_table_is_clean(facts):
    ids = [f["fact_id"] for f in facts]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", f["relation"]) for f in facts)
    assert all(0 < len(f["object"]) <= 40 for f in facts)
    subjects = {f["subject_id"]: f["subject"] for f in facts}
    assert all(f["object_id"] is None or f["object"] == subjects[f["object_id"]] for f in facts)


def test_main_text_is_the_html_content_without_boilerplate(out, pages):
    row = next(r for r in pages if r["kind"] == "article")
    html = local_file(out, row["url"]).read_text()
    assert "cookie" in html.lower() and "\u00a9" in html and "<nav" in html
    assert "cookie" not in row["main_text"].lower() and "\u00a9" not in row["main_text"]
    first_sentence = row["main_text"].splitlines()[1].split(". ")[0]
    assert first_sentence in html


def test_metrics_agree_with_the_artifacts(out, pages, facts):
    metrics = json.loads((out / "web.json").read_text())
    assert metrics["pages"] == len(pages) and metrics["facts"] == len(facts)
    assert metrics["facts_on_crawlable_pages"] == len(facts) and metrics["fact_coverage"] == 1.0
    assert metrics["pages_by_kind"] == dict(Counter(r["kind"] for r in pages))
    assert metrics["main_text_bytes"] == sum(len(r["main_text"].encode()) for r in pages)


def test_good_pages_are_long_enough_prose(pages):
    for row in pages:
        if row["kind"] in ("article", "news", "faq", "foreign") and not row["disallowed"]:
            words = len(row["main_text"].split())
            assert 100 <= words <= 800, (row["url"], words)


# --- copies ------------------------------------------------------------------------------------


def test_mirrors_are_byte_identical(out, pages):
    by_url = {r["url"]: r for r in pages}
    mirrors = [r for r in pages if r["kind"] == "mirror"]
    assert mirrors
    for row in mirrors:
        original = by_url[row["duplicate_of"]]
        assert row["host"] != original["host"] and row["main_text"] == original["main_text"]
        assert local_file(out, row["url"]).read_bytes() == local_file(out, original["url"]).read_bytes()


def word_edit_distance(a: list[str], b: list[str]) -> int:
    """Words replaced, deleted or inserted to turn a into b (a diff's opcodes, close to Levenshtein)."""
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")


def test_near_duplicates_have_their_recorded_edit_fraction(pages):
    by_url = {r["url"]: r for r in pages}
    near = [r for r in pages if r["kind"] == "near_duplicate"]
    assert near
    for row in near:
        original = by_url[row["duplicate_of"]]["main_text"].split()
        measured = word_edit_distance(original, row["main_text"].split()) / len(original)
        assert 0 < row["edit_fraction"] <= 0.2
        # Edits that touch each other can be undone more cheaply than they were made: a little slack below.
        assert 0.6 * row["edit_fraction"] <= measured <= row["edit_fraction"] + 0.005, row["url"]


# --- languages, spam, PII ----------------------------------------------------------------------

STOPWORDS = {
    "de": {"der", "die", "und", "ist", "von", "in"},
    "es": {"de", "la", "el", "en", "y", "es"},
    "fr": {"de", "la", "le", "et", "est", "les"},
}


def test_foreign_pages_are_in_their_language(pages):
    for lang, stop in STOPWORDS.items():
        rows = [r for r in pages if r["kind"] == "foreign" and r["lang"] == lang]
        assert rows, lang
        for row in rows:
            words = row["main_text"].lower().split()
            assert sum(w in stop for w in words) / len(words) > 0.08, row["url"]
        detected = Counter(py3langid.classify(r["main_text"])[0] for r in rows)
        assert detected[lang] >= 0.95 * len(rows), (lang, detected)
        assert all(r["host"].startswith(f"{lang}.") for r in rows)
    english = [r for r in pages if r["kind"] == "article" and not r["disallowed"]][:50]
    assert all(py3langid.classify(r["main_text"])[0] == "en" for r in english)


def test_spam_of_every_style_and_signature(pages):
    spam = [r for r in pages if r["kind"] == "spam"]
    styles = {r["style"] for r in spam}
    assert styles >= set(SPAM_STYLES)  # every style the generator has
    for row in spam:
        text, lines = row["main_text"], row["main_text"].splitlines()[1:]
        if row["style"] == "shouting":
            letters = [c for c in text if c.isalpha()]
            assert sum(c.isupper() for c in letters) / len(letters) > 0.9
        elif row["style"] == "too_short":
            assert len(text.split()) < 10
        elif row["style"] == "lorem_ipsum":
            assert "Lorem ipsum dolor sit amet" in text
        elif row["style"] == "repeated_lines":
            assert Counter(lines).most_common(1)[0][1] >= 10
        elif row["style"] == "ellipsis_teasers":
            assert all(line.endswith("...") for line in lines)
        elif row["style"] == "keyword_stuffing":
            words = text.lower().split()
            assert len(set(words)) / len(words) < 0.1


def test_some_good_pages_carry_pii(pages):
    pii = [r for r in pages if r["style"] == "news_pii"]
    assert pii
    email = re.compile(r"[\w.]+@[\w.]+\.\w+")
    phone = re.compile(r"\+\d{2} \d{3} \d{3} \d{4}")
    ipv4 = re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b")
    for row in pii:
        text = row["main_text"]
        assert email.search(text) or phone.search(text) or ipv4.search(text), row["url"]
        assert len(text.split()) > 150
