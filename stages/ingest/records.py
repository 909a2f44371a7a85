"""Read WARC/WET files record by record, keeping what can become a document and counting the rest.

`read_records(stream, counters, max_record_bytes)` yields `RawRecord`s: HTTP 200 HTML responses
(kind "html") and WET `conversion` records (kind "wet"). Every other record is counted under
`skipped.<reason>`, and every kind of damage under `errors.<reason>`; the records read before the
damage are still yielded. Nothing here raises on bad input: a bad file is a counter, not a crash.

WARC and WET (which is WARC); ARC only from files named so (`arc=True`): warcio's ARC fallback
reads any line of five words as a record header and would turn a garbage WARC into hundreds of
bogus records, so a file is read as one format, never guessed (`errors.not_a_warc`, `not_an_arc`).
warcio is pinned (1.8.1): four more of its behaviours are worked around here, on purpose.
- A truncated gzip member ends iteration silently (or with an odd AttributeError), so the reader
  is replaced by one that remembers whether the last gzip member reached its end.
- warcio takes the end of a gzip member for the end of a record; a valid file whose members do
  not follow records (bgzip's 64 KiB blocks, `cat` of gzipped pieces) looked cut or corrupt. The
  reader reads on into the next member instead, as `zcat` does.
- A file gzipped as one stream (`gzip file.warc`, not one member per record) makes warcio stop
  after the first record ("non-chunked gzip"); the records simply go on in the same stream, so
  we read on: the file is still streamed, block by block, never held whole in memory.
- `content_stream()` treats broken chunked encoding as "not chunked" and passes the raw bytes on;
  we dechunk strictly instead, so the damage is counted and the garbled page is not ingested.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader, ChunkedDataException, ChunkedDataReader, DecompressingBufferedReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.limitreader import LimitReader
from warcio.recordloader import ArcWarcRecord

HTML_TYPES = ("text/html", "application/xhtml+xml")
DRAIN_BLOCK = 1 << 16
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class RawRecord:
    """A record worth turning into a document: its payload and provenance, nothing else."""

    kind: str  # "html" (an HTTP response body), "wet" (extracted plain text), "text" (texts.py)
    url: str
    record_id: str
    date: str | None
    payload_digest: str
    payload: bytes
    charset: str | None  # from the HTTP Content-Type, when it names one
    doc_id: str | None = None  # a documents file's row id (texts.py); None: derived, see document.py


class _CountingReader:
    """Counts the raw bytes read from the file (metrics, and telling an empty file apart)."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.bytes_read = 0
        self.head = b""  # the first bytes, to tell a damaged gzip from a file that is no WARC
        self.error: Exception | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            data = self.raw.read(size)
        except Exception as exc:  # the file itself failed (network, disk): the root cause to report
            self.error = exc
            raise
        if self.bytes_read < 2:
            self.head = (self.head + data)[:2]
        self.bytes_read += len(data)
        return data

    def close(self) -> None:  # the caller owns the file; warcio must not close it
        pass


class _GzipTrackingReader(DecompressingBufferedReader):
    """warcio's reader, also noting a gzip member cut short or corrupted part-way."""

    truncated = False
    corrupt = False
    _fed = False

    def _decompress(self, data: bytes) -> bytes:
        if data:
            self._fed = True
        if self.decompressor is not None and data and self.num_block_read > 0:
            # warcio would print the zlib error to stderr and carry on with nothing; we count it.
            try:
                return self.decompressor.decompress(data)
            except zlib.error:
                self.corrupt = True
                return b""
        return super()._decompress(data)

    def close_decompressor(self) -> None:
        # A member that never reached its end-of-stream marker was cut short.
        if self.decompressor is not None and self._fed and not self.decompressor.eof:
            self.truncated = True
        super().close_decompressor()


class _Iterator(ArchiveIterator):
    """One known format (WARC, or ARC converted to WARC headers), read to the end of the stream."""

    def __init__(self, fileobj, known_format: str = "warc", **kwargs):
        super().__init__(fileobj, arc2warc=known_format == "arc", **kwargs)
        # Never guessed per record: warcio would read any line of five words as an ARC header.
        self.known_format = known_format
        # Kept apart from `self.reader`, which warcio drops on close, to read its flags after.
        # read_all_members: a record may go on in the next gzip member (see the module docstring).
        self.tracker = self.reader = _GzipTrackingReader(
            self.fh, block_size=self.reader.block_size, read_all_members=True
        )

    def _raise_invalid_gzip_err(self):
        # warcio's "non-chunked gzip" stop: the gzip member goes on past the record, i.e. the
        # whole file is one gzip stream. Its next record is already parsed from that stream: go on.
        pass


class _ArcIterator(_Iterator):
    """ARC records, with warcio's WARC headers; apart so that reading WARC pays nothing for it."""

    def __init__(self, fileobj, **kwargs):
        super().__init__(fileobj, known_format="arc", **kwargs)

    def _next_record(self, next_line):
        record = super()._next_record(next_line)
        # warcio invents a random WARC-Record-ID per read; an ARC record's address is its offset
        # in the file (as in CDX indexes), the same on every read.
        record.rec_headers.replace_header("WARC-Record-ID", f"<arc:{self.offset}>")
        return record


def payload_sha1(payload: bytes) -> str:
    """The WARC-style digest (`sha1:` + base32) for records that carry none, e.g. WET text."""
    return "sha1:" + base64.b32encode(hashlib.sha1(payload).digest()).decode()


def _media_type(content_type: str | None) -> tuple[str, str | None]:
    if not content_type:
        return "", None
    media, *params = (part.strip() for part in content_type.split(";"))
    charset = None
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'").lower()
    return media.lower(), charset


def _body_stream(record: ArcWarcRecord):
    """The HTTP body, decoded: strict dechunking (raises ChunkedDataException), then gzip/deflate."""
    encoding = (record.http_headers.get_header("content-encoding") or "").lower() or None
    if encoding not in BufferedReader.get_supported_decompressors():
        encoding = None
    if (record.http_headers.get_header("transfer-encoding") or "").lower() == "chunked":
        return ChunkedDataReader(record.raw_stream, raise_exceptions=True, decomp_type=encoding)
    return record.content_stream()


def _read_limited(stream, limit: int) -> bytes | None:
    """Up to `limit` bytes, or None when the stream holds more than that."""
    data = stream.read(limit + 1)
    return None if len(data) > limit else data


def _drain(record: ArcWarcRecord) -> bool:
    """Read the rest of the record; True when it held all the bytes its Content-Length promised."""
    while record.raw_stream.read(DRAIN_BLOCK):
        pass
    stream = record.raw_stream
    if isinstance(stream, LimitReader):
        return stream.limit <= 0
    # No Content-Length at all: the WARC header block itself was cut off.
    return record.rec_headers.get_header("Content-Length") is not None


def _classify(record: ArcWarcRecord) -> tuple[str | None, str | None]:
    """Return (kind, None) for a record to ingest, or (None, skip reason)."""
    if record.rec_type == "conversion":
        return "wet", None
    if record.rec_type == "revisit":
        return None, "revisit"
    if record.rec_type != "response":
        return None, "not_response"
    http = record.http_headers
    if http is None or not (http.protocol or "").upper().startswith("HTTP/"):
        return None, "non_http"
    status = http.get_statuscode()
    if status != "200":
        return None, f"http_status_{status or 'missing'}"
    media, _ = _media_type(
        http.get_header("content-type") or record.rec_headers.get_header("WARC-Identified-Payload-Type")
    )
    if media not in HTML_TYPES:
        return None, "non_html"
    return "html", None


def _record_of(record: ArcWarcRecord, kind: str, payload: bytes) -> RawRecord:
    headers = record.rec_headers
    charset = None
    if kind == "html":
        _, charset = _media_type(record.http_headers.get_header("content-type"))
    return RawRecord(
        kind=kind,
        url=headers.get_header("WARC-Target-URI") or "",
        record_id=headers.get_header("WARC-Record-ID") or "",
        date=headers.get_header("WARC-Date"),
        # WET text has no payload digest of its own; compute one so dedup can use it.
        payload_digest=(kind == "html" and headers.get_header("WARC-Payload-Digest")) or payload_sha1(payload),
        payload=payload,
        charset=charset,
    )


def _load_failure_reason(records: int, head: bytes, arc: bool) -> str:
    if records == 0:
        # warcio reads a gzip whose first block will not inflate as plain bytes, then fails.
        return "corrupt_gzip" if head == GZIP_MAGIC else ("not_an_arc" if arc else "not_a_warc")
    return "invalid_record"


def read_records(stream: BinaryIO, counters: Counter, max_record_bytes: int, arc: bool = False) -> Iterator[RawRecord]:
    """Yield the ingestible records of one WARC/WET file, or ARC file when `arc` (gzip per record,
    gzip as one stream, or plain).

    Counters: `records`, `records_by_type.<type>`, `bytes_read`, `skipped.<reason>`,
    `errors.<reason>`. The caller may stop early; counts then cover what was read.
    """
    source = _CountingReader(stream)
    iterator = (_ArcIterator if arc else _Iterator)(source, verify_http=False)
    records = incomplete = 0
    failure = None  # the exception that stopped iteration, if any
    try:
        for record in iterator:
            records += 1
            counters["records"] += 1
            counters[f"records_by_type.{record.rec_type or 'unknown'}"] += 1
            kind, skip = _classify(record)
            payload = None
            if kind is not None:
                try:
                    body = record.content_stream() if kind == "wet" else _body_stream(record)
                    payload = _read_limited(body, max_record_bytes)
                    if payload is None:
                        skip = "too_large"
                except ChunkedDataException:
                    counters["errors.bad_chunked_encoding"] += 1
                    kind = None
                except (zlib.error, OSError, EOFError) as exc:
                    counters[f"errors.bad_content_encoding:{type(exc).__name__}"] += 1
                    kind = None
            if not _drain(record):
                incomplete += 1  # its reason depends on whether the gzip was cut too, see below
            elif skip is not None:
                counters[f"skipped.{skip}"] += 1
            elif kind is not None:
                yield _record_of(record, kind, payload)
    except Exception as exc:  # warcio fails in odd ways on damaged input; keep what was read
        failure = exc
    finally:
        iterator.close()
        counters["bytes_read"] += source.bytes_read
    if iterator.err_count:
        # Bytes found where a record should have ended: its Content-Length was wrong.
        counters["errors.bad_record_length"] += iterator.err_count
    gzip = iterator.tracker
    if source.error is not None:
        # A connection reset or timeout mid-file: whatever warcio made of it is a symptom.
        counters[f"errors.read_error:{type(source.error).__name__}"] += 1
        return
    if source.bytes_read == 0:
        counters["errors.empty_file"] += 1
        return
    if gzip.truncated or gzip.corrupt:
        # The record cut short and any parse failure are symptoms of the gzip damage: count once.
        counters["errors.truncated_gzip" if gzip.truncated else "errors.corrupt_gzip"] += 1
        incomplete, failure = max(0, incomplete - 1), None
    if incomplete:
        counters["errors.truncated_record"] += incomplete
    if isinstance(failure, ArchiveLoadFailed):
        counters[f"errors.{_load_failure_reason(records, source.head, arc)}"] += 1
    elif failure is not None:
        # warcio's other failures (an AttributeError for a response without WARC-Target-URI, ...)
        # come from a record header it had begun to parse: that record is broken, whatever the class.
        counters["errors.invalid_record"] += 1
