"""Read documents files (what C4, FineWeb and Dolma shards are) row by row, as records to ingest.

A documents file is JSONL, JSONL.gz or Parquet with a `text` column; `id`, `url` and a date
(`date` or `timestamp`) are optional. `read_documents` yields one `RawRecord` of kind "text" per
usable row: extraction is skipped for it, and language ID, quality rules and PII apply as to a
crawled page. Like `read_records`, nothing here raises on bad input:

- a row that cannot be used is counted under `skipped.<reason>`: `bad_json`, `not_an_object`,
  `not_utf8`, `no_text` (no `text` key, or null), `text_not_string`, `empty_text`, `too_large`
  (text over `max_record_bytes`), `too_deep` (a JSONL line nested deeper than
  row_files.MAX_DEPTH, skipped unparsed), `bad_id` (an `id` that is neither a string nor an integer);
- a file that cannot be used is counted under `errors.<reason>`: `empty_file`, `no_usable_rows`,
  `no_text_column` and `not_parquet` (Parquet), `truncated_gzip`, `corrupt_gzip`, `not_gzip`
  (JSONL.gz), `read_error:<type>`; the rows read before damage are still yielded.

Counters: `text_rows` (rows read, usable or not), `bytes_read`. Files are streamed: a JSONL line
is read with a cap, a Parquet file a batch of rows at a time, and only the columns used.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections import Counter
from typing import Any, BinaryIO, Iterator

import pyarrow.parquet as pq

from crisol.formats.row_files import RowError, jsonl_rows
from stages.ingest.document import document_id
from stages.ingest.records import RawRecord, payload_sha1
from stages.ingest.sources import Source

TEXT_COLUMN = "text"
COLUMNS = (TEXT_COLUMN, "id", "url", "date", "timestamp")  # the only ones read from Parquet
LINE_CAP_FACTOR = 8  # a JSONL line may hold escapes and metadata: this many times the text cap
PARQUET_BATCH_ROWS = 256


def _row_record(row: Any, locator: str, max_record_bytes: int) -> RawRecord | str:
    """The row as a record, or the reason it cannot be one."""
    if not isinstance(row, dict):
        return "not_an_object"
    text = row.get(TEXT_COLUMN)
    if text is None:
        return "no_text"
    if isinstance(text, bytes):  # a binary Parquet column
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return "not_utf8"
    if not isinstance(text, str):
        return "text_not_string"
    try:
        payload = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a JSON "\ud800" escape
        return "not_utf8"
    if len(payload) > max_record_bytes:
        return "too_large"
    if not text.strip():
        return "empty_text"
    given_id = row.get("id")
    if isinstance(given_id, bool) or not isinstance(given_id, (str, int, type(None))):
        return "bad_id"
    url = row.get("url")
    url = url if isinstance(url, str) and url.strip() else None
    date = next((row[k] for k in ("date", "timestamp") if isinstance(row.get(k), str)), None)
    digest = payload_sha1(payload)
    # Without a given id: a URL's document gets the id a crawled page would (url + content);
    # one without a URL is named by its content alone, so moving or re-ordering files keeps it.
    doc_id = str(given_id) if given_id not in (None, "") else document_id(url or "", digest)
    return RawRecord(
        kind="text",
        url=url or locator,
        record_id=locator,
        date=date,
        payload_digest=digest,
        payload=payload,
        charset="utf-8",
        doc_id=doc_id,
    )


def _jsonl_rows(stream: BinaryIO, gzipped: bool, line_cap: int) -> Iterator[tuple[int, Any, str | None]]:
    """(line number, parsed row, None) or (line number, None, skip reason), by the bounded reader
    every stage shares (crisol/formats/row_files.py): a JSON bomb is skipped before json parses it."""
    lines = gzip.GzipFile(fileobj=stream, mode="rb") if gzipped else stream
    for number, row in jsonl_rows(lines, line_cap, not_utf8="not_utf8"):
        if isinstance(row, RowError):
            yield number, None, row.reason
        else:
            yield number, row, None


def _parquet_rows(stream: BinaryIO, counters: Counter) -> Iterator[tuple[int, Any, None]]:
    try:
        parquet = pq.ParquetFile(stream)
    except Exception:  # pyarrow raises several types for a file that is not Parquet
        counters["errors.not_parquet"] += 1
        return
    names = parquet.schema_arrow.names
    if TEXT_COLUMN not in names:
        counters["errors.no_text_column"] += 1
        return
    number = 0
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=[c for c in COLUMNS if c in names]):
        for row in batch.to_pylist():
            number += 1
            yield number, row, None


def _gzip_error(exc: Exception) -> str | None:
    """The file-level reason for a gzip failure of a JSONL.gz, or None for another failure."""
    if isinstance(exc, EOFError):
        return "truncated_gzip"
    if isinstance(exc, gzip.BadGzipFile):
        return "not_gzip" if str(exc).startswith("Not a gzipped file") else "corrupt_gzip"
    if isinstance(exc, zlib.error):
        return "corrupt_gzip"
    return None


def _bytes_read(stream: BinaryIO, parquet: bool) -> int:
    """How far the file was read; Parquet is read by columns, not front to back: its whole size."""
    try:
        return stream.seek(0, io.SEEK_END) if parquet else stream.tell()
    except Exception:  # a stream that cannot tell: unknown
        return 0


def read_documents(stream: BinaryIO, source: Source, counters: Counter, max_record_bytes: int) -> Iterator[RawRecord]:
    """Yield the usable rows of one documents file as records (see the module's docstring)."""
    name = source.name.lower()
    parquet = name.endswith(".parquet")
    rows = (
        _parquet_rows(stream, counters)
        if parquet
        else _jsonl_rows(stream, name.endswith(".gz"), max_record_bytes * LINE_CAP_FACTOR)
    )
    place = source.rel or source.name
    seen = usable = 0
    try:
        for number, row, skip in rows:
            seen += 1
            counters["text_rows"] += 1
            record = skip or _row_record(row, f"file:{place}#{number}", max_record_bytes)
            if isinstance(record, str):
                counters[f"skipped.{record}"] += 1
            else:
                usable += 1
                yield record
    except Exception as exc:  # the file failed part-way: count it, keep what was read
        counters[f"errors.{_gzip_error(exc) or f'read_error:{type(exc).__name__}'}"] += 1
        return
    finally:
        counters["bytes_read"] += _bytes_read(stream, parquet)
    if not seen and not any(key.startswith("errors.") for key in counters):  # not already counted
        counters["errors.empty_file"] += 1
    elif seen and not usable:
        counters["errors.no_usable_rows"] += 1
