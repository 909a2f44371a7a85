"""Damaged and unusual input: every bad record or file is counted with its reason, never a crash,
and the good records before the damage are still read."""

from __future__ import annotations

import gzip
import io
from collections import Counter
from pathlib import Path

import pytest
from warcio.warcwriter import WARCWriter

from kit.ingest import english_pages, response, write_warc
from stages.ingest.records import payload_sha1, read_records

# A response record for an http URI whose payload is not an HTTP response at all.
_NOT_HTTP = b"just some bytes\r\n\r\nmore"
NOT_HTTP_RESPONSE = (
    b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: http://example.test/raw\r\n"
    b"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000001>\r\n"
    b"WARC-Date: 2026-01-01T00:00:00Z\r\nContent-Type: application/http; msgtype=response\r\n"
    b"Content-Length: %d\r\n\r\n%s\r\n\r\n" % (len(_NOT_HTTP), _NOT_HTTP)
)


def _read(data: bytes, max_record_bytes: int = 1_000_000):
    counters: Counter = Counter()
    records = list(read_records(io.BytesIO(data), counters, max_record_bytes))
    return records, counters


def _errors(counters: Counter) -> dict[str, int]:
    return {k: v for k, v in counters.items() if k.startswith("errors.")}


def _warc_bytes(tmp_path: Path, pages, gzip: bool = True) -> bytes:
    return write_warc(tmp_path / f"w{len(pages)}{gzip}.warc", pages, gzip=gzip).read_bytes()


def _writer_bytes(write, gzip: bool = True) -> bytes:
    buf = io.BytesIO()
    write(WARCWriter(buf, gzip=gzip))
    return buf.getvalue()


def test_truncated_gzip_keeps_the_records_before_the_cut(tmp_path):
    pages = english_pages()
    two = _warc_bytes(tmp_path, pages[:2])
    three = _warc_bytes(tmp_path, pages)
    for cut in (len(two) + 20, len(two) + (len(three) - len(two)) // 2, len(three) - 4):
        records, counters = _read(three[:cut])
        assert _errors(counters) == {"errors.truncated_gzip": 1}, cut
        assert [r.url for r in records] == [u for u, _ in pages[:2]] + ([pages[2][0]] if cut == len(three) - 4 else [])


def test_truncated_plain_warc_drops_only_the_short_record(tmp_path):
    pages = english_pages()
    data = _warc_bytes(tmp_path, pages, gzip=False)
    records, counters = _read(data[:-200])
    assert _errors(counters) == {"errors.truncated_record": 1}
    assert [r.url for r in records] == [u for u, _ in pages[:2]]


@pytest.mark.parametrize(
    "body",
    [
        b"5\r\nhello\r\nZZ not a chunk size\r\n0\r\n\r\n",  # bad chunk header
        b"100\r\nhello",  # chunk cut short
        b"5\r\nhelloXX6\r\n world\r\n0\r\n\r\n",  # missing CRLF after a chunk
    ],
)
def test_broken_chunked_encoding_is_counted_and_the_page_dropped(body):
    (first_url, first), (last_url, last) = english_pages()[:2]

    def write(w):
        response(w, first_url, first)
        response(w, "http://example.test/chunked", body, extra=[("Transfer-Encoding", "chunked")])
        response(w, last_url, last)

    records, counters = _read(_writer_bytes(write))
    assert _errors(counters) == {"errors.bad_chunked_encoding": 1}
    assert [r.url for r in records] == [first_url, last_url]


def test_valid_chunked_body_is_dechunked():
    body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    data = _writer_bytes(lambda w: response(w, "http://example.test/c", body, extra=[("Transfer-Encoding", "chunked")]))
    (record,), counters = _read(data)
    assert record.payload == b"hello world"
    assert _errors(counters) == {}


def test_records_that_are_not_html_pages_are_skipped_by_reason():
    url, page = english_pages()[0]

    def write(w):
        w.write_record(
            w.create_warc_record(
                "http://example.test/r", "resource", payload=io.BytesIO(page), warc_content_type="text/html"
            )
        )
        w.write_record(
            w.create_warc_record(
                "http://example.test/m",
                "metadata",
                payload=io.BytesIO(b"fetchTimeMs: 12\r\n"),
                warc_content_type="application/warc-fields",
            )
        )
        # A response for a non-HTTP scheme carries no HTTP headers at all.
        w.write_record(
            w.create_warc_record(
                "dns:example.test",
                "response",
                payload=io.BytesIO(b"20260101 example.test. 60 IN A 10.0.0.1"),
                warc_content_type="text/dns",
            )
        )
        w.out.write(NOT_HTTP_RESPONSE)  # warcio refuses to write this one itself
        response(w, "http://example.test/missing", b"<html>gone</html>", status="404 Not Found")
        response(w, "http://example.test/logo.png", b"\x89PNG....", content_type="image/png")
        response(w, "http://example.test/big", b"<html>" + b"x" * 5000 + b"</html>")
        response(w, url, page)

    records, counters = _read(_writer_bytes(write, gzip=False), max_record_bytes=4096)
    skipped = {k: v for k, v in counters.items() if k.startswith("skipped.")}
    assert skipped == {
        "skipped.not_response": 2,
        "skipped.non_http": 2,
        "skipped.http_status_404": 1,
        "skipped.non_html": 1,
        "skipped.too_large": 1,
    }
    assert _errors(counters) == {}
    assert [r.url for r in records] == [url]
    assert counters["records"] == 8


def test_garbage_bytes_are_not_a_warc():
    records, counters = _read(b"\x00\x01 this is not a WARC file\n" * 40)
    assert records == [] and _errors(counters) == {"errors.not_a_warc": 1}


def test_empty_file_is_counted():
    records, counters = _read(b"")
    assert records == [] and _errors(counters) == {"errors.empty_file": 1}


def test_garbage_after_good_records_keeps_them(tmp_path):
    pages = english_pages()
    for compressed in (True, False):
        data = _warc_bytes(tmp_path, pages, gzip=compressed) + b"garbage where a record should be\r\n\r\n"
        records, counters = _read(data)
        assert _errors(counters) == {"errors.invalid_record": 1}
        assert len(records) == len(pages)


def test_corrupt_gzip_is_counted(tmp_path):
    data = bytearray(_warc_bytes(tmp_path, english_pages()))
    data[60:80] = b"\xff" * 20  # inside the first member's deflate stream
    records, counters = _read(bytes(data))
    assert records == [] and _errors(counters) == {"errors.corrupt_gzip": 1}


def test_whole_file_gzip_is_read_whole(tmp_path):
    # `gzip file.warc` (one gzip stream, not one member per record), as `zcat` reads it.
    pages = english_pages()
    plain = _warc_bytes(tmp_path, pages, gzip=False)
    records, counters = _read(gzip.compress(plain))
    assert _errors(counters) == {}
    assert [r.url for r in records] == [u for u, _ in pages] and counters["records"] == 1 + len(pages)
    # Two such streams one after the other (`cat a.gz b.gz`) are one file too.
    records, counters = _read(gzip.compress(plain) + gzip.compress(plain))
    assert _errors(counters) == {} and len(records) == 2 * len(pages)


def test_whole_file_gzip_cut_or_corrupted_is_counted(tmp_path):
    pages = english_pages()
    plain = _warc_bytes(tmp_path, pages, gzip=False)
    whole = gzip.compress(plain)
    records, counters = _read(whole[:-20])  # cut inside the last record: the two before it stay
    assert _errors(counters) == {"errors.truncated_gzip": 1}
    assert [r.url for r in records] == [u for u, _ in pages[:2]]
    damaged = bytearray(whole)
    damaged[len(whole) // 2 : len(whole) // 2 + 20] = b"\xff" * 20
    records, counters = _read(bytes(damaged))
    assert set(_errors(counters)) == {"errors.corrupt_gzip"} and len(records) < len(pages)


def test_wet_conversion_records_are_plain_text_with_a_computed_digest():
    text = "A plain text page.\nSecond line."

    def write(w):
        w.write_record(
            w.create_warc_record(
                "http://example.test/t", "conversion", payload=io.BytesIO(text.encode()), warc_content_type="text/plain"
            )
        )

    (record,), counters = _read(_writer_bytes(write))
    assert record.kind == "wet" and record.payload == text.encode()
    assert record.payload_digest == payload_sha1(text.encode())
    assert record.payload_digest.startswith("sha1:") and len(record.payload_digest) == 5 + 32
    assert counters["records_by_type.conversion"] == 1


def test_charset_comes_from_the_http_content_type():
    body = "<html><body><p>Caf\u00e9</p></body></html>".encode("latin-1")
    data = _writer_bytes(
        lambda w: response(w, "http://example.test/l", body, content_type='text/html; charset="ISO-8859-1"')
    )
    (record,), _ = _read(data)
    assert record.charset == "iso-8859-1" and record.payload == body


class _FailingStream(io.BytesIO):
    """A file whose reads fail after `limit` bytes, like a connection reset mid-download."""

    def __init__(self, data: bytes, limit: int):
        super().__init__(data)
        self.limit = limit

    def read(self, size: int = -1) -> bytes:
        if self.tell() >= self.limit:
            raise ConnectionResetError("connection reset by peer")
        size = self.limit - self.tell() if size is None or size < 0 else min(size, self.limit - self.tell())
        return super().read(size)


def test_a_stream_that_fails_mid_file_is_a_read_error_keeping_earlier_records(tmp_path):
    pages = english_pages()
    two = _warc_bytes(tmp_path, pages[:2])
    three = _warc_bytes(tmp_path, pages)
    counters: Counter = Counter()
    records = list(read_records(_FailingStream(three, len(two) + 30), counters, 1_000_000))
    assert _errors(counters) == {"errors.read_error:ConnectionResetError": 1}
    assert [r.url for r in records] == [u for u, _ in pages[:2]]


def _members(data: bytes, size: int) -> bytes:
    """`data` gzipped in pieces of `size` bytes, one gzip member each, cut wherever they fall."""
    return b"".join(gzip.compress(data[i : i + size]) for i in range(0, len(data), size))


# Before, these intact files were `truncated_gzip` (300) or `truncated_record` + `invalid_record`.
@pytest.mark.parametrize("size", [300, 500, 777])
def test_gzip_members_that_do_not_follow_records_are_an_intact_file(tmp_path, size):
    # Members cut wherever the bytes fall (`cat` of gzipped pieces; bgzip's blocks, ending with an
    # empty member): zcat reads the file whole, so no record is cut and no gzip is corrupt.
    pages = english_pages()
    plain = _warc_bytes(tmp_path, pages, gzip=False)
    records, counters = _read(_members(plain, size) + gzip.compress(b""))
    assert _errors(counters) == {}
    assert [r.url for r in records] == [u for u, _ in pages] and counters["records"] == 1 + len(pages)


def _without_target_uri(record: bytes) -> bytes:
    return record.replace(b"WARC-Target-URI: ", b"WARC-Target-UXI: ", 1)


def test_a_record_header_warcio_fails_on_is_an_invalid_record(tmp_path):
    # A response without WARC-Target-URI makes warcio raise AttributeError: the record is broken,
    # not the reading; and the file is still a WARC when it is the first record.
    url, page = english_pages()[0]
    good = _writer_bytes(lambda w: response(w, url, page), gzip=False)
    broken = _without_target_uri(good)
    records, counters = _read(good + broken)
    assert [r.url for r in records] == [url] and _errors(counters) == {"errors.invalid_record": 1}
    records, counters = _read(broken + good)
    assert records == [] and _errors(counters) == {"errors.invalid_record": 1}
