"""Reading a user's real crawl and text files (../shared/data/real): Common Crawl WARC and WET
excerpts (gzip per record, and gzip as one stream), a C4Corpus WARC, a wget crawl, and C4 JSONL.
Every file is read to its end, every record accounted for, and no intact file is called damaged."""

from __future__ import annotations

from collections import Counter

import pytest

from kit.ingest import REAL_DIR
from stages.ingest.records import read_records
from stages.ingest.sources import Source
from stages.ingest.texts import read_documents

pytestmark = pytest.mark.skipif(not REAL_DIR.is_dir(), reason=f"shared real data not found at {REAL_DIR}")

# Per file: records by type, records that go on to extraction or language ID (HTML responses and
# WET conversions), and errors. The whole-file gzip ones (one gzip stream, not one member per
# record) are the 2016 files; before, they gave 1 record each and were called `truncated_gzip`.
EXPECTED = {
    # C4Corpus rewrote each response as bare HTML without its HTTP headers (`non_http`), and its
    # last record holds 276 of the 764 bytes its Content-Length promises (in the file itself).
    "cc-main-2016-07-c4corpus.warc.gz": ({"response": 36}, 0, {"truncated_record": 1}),
    "cc-main-2016-50-excerpt.wet.gz": ({"warcinfo": 1, "conversion": 25}, 25, {}),
    "cc-main-2020-34-excerpt.warc.gz": ({"warcinfo": 1, "request": 17, "response": 16, "metadata": 16}, 16, {}),
    "cc-main-2024-22-one-page.warc.gz": ({"warcinfo": 1, "request": 1, "response": 1, "metadata": 1}, 1, {}),
    "cc-main-2024-22-one-page.warc.wet.gz": ({"warcinfo": 1, "conversion": 1}, 1, {}),
    # 16 responses on 3 hosts, of which 9 are redirects and 5 not HTML.
    "wget-2013-three-hosts.warc.gz": ({"warcinfo": 1, "request": 16, "response": 16, "resource": 3}, 2, {}),
}


def _group(counters: Counter, group: str) -> dict[str, int]:
    return {k.split(".", 1)[1]: v for k, v in counters.items() if k.startswith(group + ".")}


def test_every_real_crawl_file_is_expected():
    assert sorted(p.name for p in (REAL_DIR / "crawl").iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_crawl_file_is_read_whole(name):
    by_type, documents, errors = EXPECTED[name]
    path = REAL_DIR / "crawl" / name
    counters: Counter = Counter()
    with open(path, "rb") as fh:
        records = list(read_records(fh, counters, max_record_bytes=2_000_000))
    assert _group(counters, "records_by_type") == by_type
    assert counters["records"] == sum(by_type.values())
    assert len(records) == documents
    assert _group(counters, "errors") == errors
    assert counters["bytes_read"] == path.stat().st_size  # read to the end of the file
    assert counters["records"] == len(records) + sum(_group(counters, "skipped").values()) + sum(errors.values())


def test_whole_file_gzip_wet_gives_its_25_pages():
    counters: Counter = Counter()
    with open(REAL_DIR / "crawl" / "cc-main-2016-50-excerpt.wet.gz", "rb") as fh:
        records = list(read_records(fh, counters, max_record_bytes=2_000_000))
    assert len(records) == 25 and len({r.url for r in records}) == 25
    assert all(r.kind == "wet" and r.url.startswith("http") and r.payload for r in records)


def test_c4_jsonl_gives_its_200_documents():
    path = REAL_DIR / "text" / "c4-sample.jsonl"
    counters: Counter = Counter()
    with open(path, "rb") as fh:
        records = list(read_documents(fh, Source(str(path), str(path), path.name), counters, 2_000_000))
    assert len(records) == counters["text_rows"] == 200
    assert _group(counters, "skipped") == {} and _group(counters, "errors") == {}
    assert records[0].url == "file:c4-sample.jsonl#1" and records[-1].record_id == "file:c4-sample.jsonl#200"
    assert len({r.doc_id for r in records}) == 200  # no two C4 documents are the same text
