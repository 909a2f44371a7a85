"""Reading real WARC files (warcio's own test files, in ../shared/data/warc): nothing crashes, and
every record is accounted for by type and by reason."""

from __future__ import annotations

from collections import Counter

import pytest

from kit.ingest import SHARED_WARC_DIR
from stages.ingest.records import read_records

pytestmark = pytest.mark.skipif(
    not SHARED_WARC_DIR.is_dir(), reason=f"shared WARC samples not found at {SHARED_WARC_DIR}"
)

# What each file holds (listed with `warcio index`): records by type, what is skipped and why,
# and the URLs of the HTML pages that go on to extraction.
EXPECTED = {
    "example.warc": (
        {"warcinfo": 2, "response": 1, "request": 2, "revisit": 1},
        {"not_response": 4, "revisit": 1},
        ["http://example.com/"],
    ),
    "example.warc.gz": (
        {"warcinfo": 2, "response": 1, "request": 2, "revisit": 1},
        {"not_response": 4, "revisit": 1},
        ["http://example.com/"],
    ),
    "example-iana.org-chunked.warc": (
        {"warcinfo": 1, "response": 1, "request": 1},
        {"not_response": 2},
        ["http://www.iana.org/"],
    ),
    "example-resource.warc.gz": ({"warcinfo": 2, "resource": 1}, {"not_response": 3}, []),
    "post-test.warc.gz": ({"response": 3, "request": 3}, {"non_html": 3, "not_response": 3}, []),
}


def _read(name: str):
    counters: Counter = Counter()
    with open(SHARED_WARC_DIR / name, "rb") as fh:
        records = list(read_records(fh, counters, max_record_bytes=1_000_000))
    return records, counters


def _group(counters: Counter, group: str) -> dict[str, int]:
    return {k.split(".", 1)[1]: v for k, v in counters.items() if k.startswith(group + ".")}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_record_is_read_and_accounted_for(name):
    by_type, skipped, urls = EXPECTED[name]
    records, counters = _read(name)
    assert _group(counters, "records_by_type") == by_type
    assert _group(counters, "skipped") == skipped
    assert _group(counters, "errors") == {}
    assert [r.url for r in records] == urls
    assert counters["records"] == sum(by_type.values()) == sum(skipped.values()) + len(urls)
    assert counters["bytes_read"] == (SHARED_WARC_DIR / name).stat().st_size


def test_chunked_transfer_encoding_is_decoded():
    (record,), _ = _read("example-iana.org-chunked.warc")
    assert record.payload.startswith(b"<!doctype html>")
    assert record.payload.rstrip().endswith(b"</html>")
    assert b"\r\n0\r\n" not in record.payload  # no chunk-size lines left in the body
    assert record.charset == "utf-8"
    assert record.payload_digest == "sha1:b1f949b4920c773fd9c863479ae9a788b948c7ad"


@pytest.mark.parametrize("name", ["example.warc", "example.warc.gz"])
def test_gzip_content_encoding_is_decoded(name):
    (record,), _ = _read(name)
    assert record.payload.startswith(b"<!doctype html>")
    assert b"Example Domain" in record.payload
    assert record.record_id == "<urn:uuid:a9c51e3e-0221-11e7-bf66-0242ac120005>"
    assert record.date == "2017-03-06T04:02:06Z"
    assert record.kind == "html"
