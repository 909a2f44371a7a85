"""Non-HTML files (PDF, JPEG, plain text) and the oversized page, all generated, none downloaded."""

from __future__ import annotations

from stages.web.blocks import Table, para
from stages.web.page import Page
from stages.web.world import World


def tiny_pdf(text: str) -> bytes:
    """A valid one-page PDF that shows `text` (ASCII), with a correct cross-reference table."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 12 Tf 72 720 Td ({safe}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def tiny_jpeg() -> bytes:
    """A valid baseline JPEG: one grey 1x1 pixel, built from its markers.

    One quantisation table, one DC and one AC Huffman table each with a single 1-bit code "0"
    (DC category 0, AC end-of-block), so the scan is the bits "00" padded with ones.
    """
    soi, eoi = b"\xff\xd8", b"\xff\xd9"
    dqt = b"\xff\xdb\x00\x43\x00" + b"\x01" * 64
    sof0 = b"\xff\xc0\x00\x0b\x08\x00\x01\x00\x01\x01\x01\x11\x00"
    counts = b"\x01" + b"\x00" * 15
    dht_dc = b"\xff\xc4\x00\x14\x00" + counts + b"\x00"
    dht_ac = b"\xff\xc4\x00\x14\x10" + counts + b"\x00"
    sos = b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"
    return soi + dqt + sof0 + dht_dc + dht_ac + sos + b"\x3f" + eoi


def oversized_page(host: str, world: World, min_bytes: int) -> Page:
    """A register of every fact, repeated until the page's text alone exceeds `min_bytes`."""
    rows = []
    size = 0
    n = 0
    while size < min_bytes:
        fact = world.facts[n % len(world.facts)]
        row = (str(n + 1), fact.subject, fact.relation.replace("_", " "), fact.object)
        rows.append(row)
        size += sum(len(c) for c in row) + 40  # cells plus their <tr><td> markup
        n += 1
    blocks = [
        para(
            "This register lists every recorded fact of the wiki in one table. It is very large "
            "and is meant for download rather than for reading in a browser."
        ),
        Table(("No.", "Subject", "Property", "Value"), tuple(rows)),
    ]
    return Page(
        host=host,
        path="/archive/complete-register.html",
        kind="oversized",
        style="register_table",
        lang="en",
        title="Complete register of facts",
        blocks=blocks,
        entity_ids=[],
    )
