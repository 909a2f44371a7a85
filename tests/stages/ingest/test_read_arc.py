"""ARC files (the Internet Archive's format before WARC): read by warcio with its ARC-to-WARC
headers, only from files named .arc/.arc.gz, with the same record id on every read."""

from __future__ import annotations

import io
from collections import Counter

import pytest

from kit.ingest import english_pages, write_arc
from stages.ingest.records import read_records


def _read(data: bytes, arc: bool = True):
    counters: Counter = Counter()
    return list(read_records(io.BytesIO(data), counters, 1_000_000, arc=arc)), counters


@pytest.mark.parametrize("gzip", [False, True])
def test_arc_responses_are_html_records(tmp_path, gzip):
    pages = english_pages()
    data = write_arc(tmp_path / "a.arc", pages, gzip=gzip).read_bytes()
    records, counters = _read(data)
    assert [r.url for r in records] == [u for u, _ in pages]
    assert [r.payload for r in records] == [body for _, body in pages]
    assert counters["records_by_type.warcinfo"] == 1 and counters["skipped.not_response"] == 1
    assert all(r.kind == "html" and r.date == "2024-01-01T00:00:00Z" and r.charset == "utf-8" for r in records)
    # warcio invents a random WARC-Record-ID for an ARC record; ours is its offset, every time.
    assert [r.record_id for r in records] == [r.record_id for r in _read(data)[0]]
    assert all(r.record_id.startswith("<arc:") for r in records)
    assert counters["bytes_read"] == len(data) and not [k for k in counters if k.startswith("errors.")]


def test_formats_are_never_guessed(tmp_path):
    data = write_arc(tmp_path / "a.arc", english_pages()).read_bytes()
    records, counters = _read(data, arc=False)  # an ARC named .warc
    assert records == [] and counters["errors.not_a_warc"] == 1
    records, counters = _read(b"\x00 not an arc\n" * 20)  # junk named .arc
    assert records == [] and counters["errors.not_an_arc"] == 1
