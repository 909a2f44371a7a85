"""Reading documents files (JSONL, JSONL.gz, Parquet with a `text` column: C4, FineWeb, Dolma
shards): every usable row is a record with a stable id, every other row and every unusable file
is counted by reason, and nothing raises."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from kit.ingest import english_texts, write_jsonl, write_text_parquet
from stages.ingest.document import document_id
from stages.ingest.records import payload_sha1
from stages.ingest.sources import Source
from stages.ingest.texts import read_documents

MAX = 4096


def _read(path: Path, max_record_bytes: int = MAX):
    counters: Counter = Counter()
    source = Source(name=str(path), location=str(path), rel=path.name)
    with open(path, "rb") as fh:
        records = list(read_documents(fh, source, counters, max_record_bytes))
    return records, counters


def _group(counters: Counter, group: str) -> dict[str, int]:
    return {k.split(".", 1)[1]: v for k, v in counters.items() if k.startswith(group + ".")}


@pytest.mark.parametrize("name", ["docs.jsonl", "docs.jsonl.gz", "docs.parquet"])
def test_each_format_gives_records_with_ids_urls_and_provenance(tmp_path, name):
    texts = english_texts()
    rows = {"text": texts, "id": ["doc-a", None, None], "url": [None, "https://example.org/b", None]}
    path = tmp_path / name
    if name.endswith(".parquet"):
        write_text_parquet(path, rows)
    else:
        write_jsonl(path, [{k: v[i] for k, v in rows.items() if v[i] is not None} for i in range(3)])
    records, counters = _read(path)
    assert counters["text_rows"] == 3 and _group(counters, "skipped") == {} and _group(counters, "errors") == {}
    assert counters["bytes_read"] == path.stat().st_size
    assert [r.kind for r in records] == ["text"] * 3
    assert [r.payload.decode() for r in records] == texts
    digests = [payload_sha1(t.encode()) for t in texts]
    # The given id; else a given URL's id is a crawled page's (url + content); else content alone.
    assert [r.doc_id for r in records] == [
        "doc-a",
        document_id("https://example.org/b", digests[1]),
        document_id("", digests[2]),
    ]
    assert [r.url for r in records] == [f"file:{name}#1", "https://example.org/b", f"file:{name}#3"]
    assert [r.record_id for r in records] == [f"file:{name}#{i}" for i in (1, 2, 3)]
    assert [r.payload_digest for r in records] == digests


def test_malformed_jsonl_rows_are_skipped_by_reason(tmp_path):
    good = english_texts()[0]
    rows = [
        {"text": good, "id": 7, "date": "2024-05-01T00:00:00Z"},
        b"{not json",  # bad_json
        b'"a string, not an object"',  # not_an_object
        b'{"text": "caf\xe9 latin-1 bytes"}',  # not_utf8
        b'{"text": "\\ud800 lone surrogate"}',  # not_utf8 (cannot be UTF-8 encoded)
        {"title": "no text key"},  # no_text
        {"text": None},  # no_text
        {"text": ["a", "list"]},  # text_not_string
        {"text": "   \n  "},  # empty_text
        {"text": "x" * (MAX + 1)},  # too_large
        {"text": good, "id": {"nested": 1}},  # bad_id
        b"",  # a blank line: no row at all
        {"text": good, "id": True},  # bad_id (a bool is no id)
        b'{"text": "' + b"y" * (MAX * 9) + b'"}',  # too_large: longer than any row may be
        {"text": good, "url": "https://example.org/last"},
    ]
    records, counters = _read(write_jsonl(tmp_path / "bad.jsonl", rows))
    assert _group(counters, "skipped") == {
        "bad_json": 1,
        "not_an_object": 1,
        "not_utf8": 2,
        "no_text": 2,
        "text_not_string": 1,
        "empty_text": 1,
        "too_large": 2,
        "bad_id": 2,
    }
    assert _group(counters, "errors") == {}
    assert counters["text_rows"] == len(rows) - 1
    last_id = document_id("https://example.org/last", records[1].payload_digest)
    assert [(r.doc_id, r.date) for r in records] == [("7", "2024-05-01T00:00:00Z"), (last_id, None)]
    assert records[1].record_id == "file:bad.jsonl#15"  # line numbers count blank lines, as an editor does


def test_parquet_rows_and_columns(tmp_path):
    texts = english_texts()
    path = write_text_parquet(
        tmp_path / "p.parquet",
        {"text": [texts[0], None, "", texts[1]], "id": [1, 2, 3, 4], "extra": [[1], [2], [3], [4]]},
    )
    records, counters = _read(path)
    assert _group(counters, "skipped") == {"no_text": 1, "empty_text": 1}
    assert [r.doc_id for r in records] == ["1", "4"] and counters["text_rows"] == 4


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "make, errors",
    [
        (lambda p: write_jsonl(p / "empty.jsonl", []), {"empty_file": 1}),
        (lambda p: write_jsonl(p / "blank.jsonl.gz", [b"", b"  "]), {"empty_file": 1}),
        (lambda p: write_jsonl(p / "junk.jsonl", [b"{", {"text": ""}, {"id": 1}]), {"no_usable_rows": 1}),
        (lambda p: write_text_parquet(p / "no-text.parquet", {"body": ["a document"]}), {"no_text_column": 1}),
        (lambda p: write_jsonl(p / "not.parquet", [{"text": "JSON, named Parquet"}]), {"not_parquet": 1}),
        (lambda p: _write(p / "plain.jsonl.gz", b'{"text": "not gzipped"}\n'), {"not_gzip": 1}),
    ],
)
def test_unusable_files_are_counted_by_reason(tmp_path, make, errors):
    records, counters = _read(make(tmp_path))
    assert records == [] and _group(counters, "errors") == errors


def test_damaged_gzip_keeps_the_rows_before_the_damage(tmp_path):
    texts = english_texts() * 40
    data = write_jsonl(tmp_path / "d.jsonl.gz", [{"text": t} for t in texts]).read_bytes()
    (tmp_path / "cut.jsonl.gz").write_bytes(data[: len(data) - 40])
    records, counters = _read(tmp_path / "cut.jsonl.gz")
    assert _group(counters, "errors") == {"truncated_gzip": 1} and 0 < len(records) < len(texts)
    assert [r.payload.decode() for r in records] == texts[: len(records)]
    damaged = bytearray(data)
    damaged[len(data) // 2 : len(data) // 2 + 16] = b"\xff" * 16
    (tmp_path / "bad.jsonl.gz").write_bytes(bytes(damaged))
    records, counters = _read(tmp_path / "bad.jsonl.gz")
    assert _group(counters, "errors") == {"corrupt_gzip": 1} and len(records) < len(texts)


def test_gzip_reads_as_a_stream(tmp_path):
    # A JSONL.gz of many members (`cat a.gz b.gz`), as `zcat` reads it.
    one = write_jsonl(tmp_path / "one.jsonl.gz", [{"text": t} for t in english_texts()]).read_bytes()
    records, counters = _read(_write(tmp_path / "two.jsonl.gz", one + one))
    assert [r.payload.decode() for r in records] == english_texts() * 2 and _group(counters, "errors") == {}


def test_json_bombs_are_skipped_by_reason_before_json_parses_them(tmp_path):
    """A line nested 1,000 deep (json's parser would recurse past Python's limit) and a 10 MB line
    (with the default cap on rows, 2 MB of text): each skipped and counted, the rows around them kept."""
    good = english_texts()[0]
    rows = [{"text": good}, b"[" * 1000 + b"]" * 1000, b'{"text": "' + b"z" * (10 << 20) + b'"}', {"text": good}]
    records, counters = _read(write_jsonl(tmp_path / "bombs.jsonl", rows), max_record_bytes=2_000_000)
    assert _group(counters, "skipped") == {"too_deep": 1, "too_large": 1}
    assert _group(counters, "errors") == {} and len(records) == 2 and counters["text_rows"] == 4
