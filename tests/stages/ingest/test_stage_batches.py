"""Records go through the steps a batch at a time: rows keep record order, one record's failure
costs that record only, and the batch size does not change the output."""

from __future__ import annotations

from collections import Counter

import stages.ingest.document as document
import stages.ingest.shard as shard
from crisol.formats.artifacts import read_parquet
from crisol.formats.schemas import DOCUMENTS, REJECTS
from kit.ingest import ENGLISH, english_pages, german_page, html_page, write_params, write_warc
from kit.stages import run_stage
from stages.ingest.document import process_batch
from stages.ingest.params import IngestParams
from stages.ingest.records import RawRecord

PARAMS = IngestParams()


def _raw(url: str, body: bytes, kind: str = "html") -> RawRecord:
    return RawRecord(
        kind=kind,
        url=url,
        record_id=f"<urn:uuid:{url}>",
        date="2024-01-01T00:00:00Z",
        payload_digest="sha1:TEST",
        payload=body,
        charset=None,
    )


def _mixed_batch() -> list[RawRecord]:
    (url_0, page_0), (url_1, page_1), (url_2, page_2) = english_pages()
    return [
        _raw(url_0, page_0),
        _raw(*german_page()),
        _raw("http://example.test/empty", b"<html></html>"),
        _raw(url_1, page_1),
        _raw("http://example.test/wet", "\n\n".join(ENGLISH[2]).encode(), "wet"),
        _raw(url_2, page_2),
    ]


def test_rows_come_back_in_record_order():
    counters: Counter = Counter()
    rows = process_batch(_mixed_batch(), "src.warc.gz", PARAMS, counters)
    outcome = [(doc or rej)["url"].rsplit("/", 2)[-2:] + [doc is not None] for doc, rej in rows]
    assert outcome == [
        ["en", "0", True],
        ["de", "0", False],
        ["example.test", "empty", False],
        ["en", "1", True],
        ["example.test", "wet", True],
        ["en", "2", True],
    ]
    assert [rej["reason"] for _, rej in rows if rej] == ["lang:de", "no_text"]
    assert counters["kept"] == 4 and counters["html_pages"] == 5 and counters["wet_records"] == 1
    assert counters["extracted"] == 4 and counters["languages.en"] == 4 and counters["languages.de"] == 1
    for doc, _ in rows:
        if doc:  # unmasked text: the word count is carried over from the quality step
            assert doc["pii_masked"] == 0 and doc["n_words"] == len(doc["text"].split())


def test_a_record_that_fails_costs_only_itself(monkeypatch):
    real = document.identify

    def identify(text):
        if "Amelia Corrin" in text:
            raise RuntimeError("odd page")
        return real(text)

    monkeypatch.setattr(document, "identify", identify)
    counters: Counter = Counter()
    rows = process_batch(_mixed_batch(), "src.warc.gz", PARAMS, counters)
    assert [(doc or rej)["url"] for doc, rej in rows] == [
        "http://example.test/en/0",
        "http://example.test/de/0",
        "http://example.test/empty",
        "http://example.test/wet",
        "http://example.test/en/2",
    ]
    assert counters["errors.process_error:RuntimeError"] == 1 and counters["kept"] == 3


def test_batch_size_does_not_change_the_output(tmp_path, monkeypatch):
    pages = (
        english_pages()
        + [german_page()]
        + [(f"http://example.test/more/{i}", html_page(f"More {i}", list(ENGLISH[i % 3]))) for i in range(4)]
    )
    warc = write_warc(tmp_path / "in" / "a.warc.gz", pages)
    outputs = []
    for batch_records in (1, 3, 64):  # one record a batch, batches cut mid-file, all in one
        monkeypatch.setattr(shard, "BATCH_RECORDS", batch_records)
        run_dir = tmp_path / f"batch-{batch_records}"
        run_dir.mkdir()
        assert run_stage("ingest", write_params(run_dir, [str(warc)])) == 0
        outputs.append(
            (
                read_parquet(run_dir / "out" / "documents", DOCUMENTS).to_pylist(),
                read_parquet(run_dir / "out" / "rejects", REJECTS).to_pylist(),
            )
        )
    documents, rejects = outputs[0]
    assert [d["url"] for d in documents] == [u for u, _ in pages if "/de/" not in u]
    assert [r["url"] for r in rejects] == ["http://example.test/de/0"]
    assert outputs[1] == outputs[0] and outputs[2] == outputs[0]
