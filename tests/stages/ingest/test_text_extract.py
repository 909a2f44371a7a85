"""HTML extraction: main text kept, boilerplate dropped, title found, bad input handled."""

from __future__ import annotations

import pytest

from stages.ingest.extract import ExtractedPage, decode_html, extract_html

ARTICLE = [
    "The harbour of Velmora was rebuilt in stone after the great storm of 1881, when the old "
    "wooden piers were carried away in a single night.",
    "Engineers from the capital spent four summers on the new breakwater, which still shelters "
    "the fishing fleet and the ferries that cross to the islands.",
    "Today the harbour museum keeps the original drawings, together with letters from the "
    "families who lost their boats and later worked on the reconstruction.",
]
NAV = ["Home", "News", "Sport", "Weather", "Shop", "Subscribe", "Log in", "Contact us"]
COOKIE = "We use cookies to improve your experience. By clicking Accept you agree to our cookie policy."
FOOTER = "Copyright 2024 Velmora Daily. All rights reserved. Privacy policy. Terms of use."


def page(body: str, title: str = "Velmora harbour | Velmora Daily", head_extra: str = "") -> str:
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>{head_extra}'
        f"<script>var tracking = {{id: 42}};</script><style>.nav{{color:red}}</style></head>"
        f"<body>{body}</body></html>"
    )


def nav() -> str:
    return "<nav>" + " ".join(f'<a href="/{n.lower()}">{n}</a>' for n in NAV) + "</nav>"


def article() -> str:
    return "<h1>The harbour of Velmora</h1>" + "".join(f"<p>{p}</p>" for p in ARTICLE)


MODERN = page(
    f'<header>{nav()}</header><div id="cookie-banner"><p>{COOKIE}</p><button>Accept</button></div>'
    f"<main><article>{article()}</article></main>"
    f'<aside><h3>Related</h3><ul><li><a href="/a">Storm season ahead</a></li>'
    f'<li><a href="/b">Ferry prices rise</a></li></ul></aside><footer><p>{FOOTER}</p></footer>'
)


def test_main_text_recovered_and_boilerplate_removed():
    result = extract_html(MODERN, url="https://velmora.example/harbour")
    assert isinstance(result, ExtractedPage)
    for paragraph in ARTICLE:
        assert paragraph in result.text
    for junk in ["Subscribe", "cookies", "Copyright", "Ferry prices rise", "tracking", "color:red"]:
        assert junk not in result.text


def test_title_found():
    assert extract_html(MODERN).title == "The harbour of Velmora"  # the single <h1>
    # without one, the <title> minus its " | Site name" part
    no_h1 = page("<main><article>" + "".join(f"<p>{p}</p>" for p in ARTICLE) + "</article></main>")
    assert extract_html(no_h1).title == "Velmora harbour"


def test_layout_table_page_extracts_like_a_modern_page():
    layout = page(
        f'<table><tr><td colspan="2">{nav()}</td></tr><tr><td>'
        f'<ul><li><a href="/a">Storm season ahead</a></li><li><a href="/b">Ferry prices rise</a></li></ul>'
        f'</td><td>{article()}</td></tr><tr><td colspan="2"><p>{FOOTER}</p></td></tr></table>'
    )
    text = extract_html(layout).text
    for paragraph in ARTICLE:
        assert paragraph in text  # each paragraph whole, not fused into one table cell
    assert "Subscribe" not in text and "|" not in text


def test_data_tables_are_kept():
    table = (
        "<table><tr><th>Year</th><th>Event</th></tr><tr><td>1881</td><td>Great storm</td></tr>"
        "<tr><td>1885</td><td>Breakwater finished</td></tr></table>"
    )
    result = extract_html(page(f"<main><article>{article()}{table}</article></main>"))
    assert "Breakwater finished" in result.text and "1885" in result.text


@pytest.mark.parametrize(
    "html",
    [
        "",
        "   ",
        "<<<>>>",
        b"\x00\x01\x02\xff",
        "<html><body></body></html>",
        page(f'<header>{nav()}</header><footer><a href="/x">Imprint</a></footer>'),  # links only
    ],
)
def test_no_main_content_gives_none(html):
    assert extract_html(html) is None


def test_bytes_decoded_with_the_meta_charset():
    text = "Le café de la gare a rouvert ses portes après des années de fermeture et de travaux. " * 3
    html = (
        f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
        f"</head><body><article><p>{text}</p></article></body></html>"
    ).encode("latin-1")
    assert "café" in extract_html(html).text


def test_bytes_decoded_with_the_http_charset_over_guessing():
    text = "Die Straße zur Brücke wurde im Frühjahr vollständig erneuert und wieder geöffnet. " * 3
    html = f"<html><body><article><p>{text}</p></article></body></html>".encode("cp1252")
    assert "Straße" in extract_html(html, charset="windows-1252").text
    # undeclared and not UTF-8: windows-1252 is the fallback, never a crash
    assert "Straße" in extract_html(html).text


def test_decode_html_is_robust():
    assert decode_html("naïve".encode("utf-8")) == "naïve"
    assert decode_html(b"\xef\xbb\xbfhello") == "hello"  # UTF-8 BOM
    assert decode_html("ok".encode("utf-16")) == "ok"  # UTF-16 BOM
    assert decode_html(b"caf\xe9", charset="no-such-charset") == "café"  # unknown label
    assert decode_html(b"<meta charset='utf-8'>bad \xff byte") == "<meta charset='utf-8'>bad \ufffd byte"
