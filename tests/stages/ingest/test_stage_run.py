"""The ingest stage end to end through its command line: documents, rejects with reasons,
metrics, Common Crawl listings over real HTTP, clear input errors and atomic outputs."""

from __future__ import annotations

import functools
import gzip
import hashlib
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import stages.ingest.stage as ingest_stage
from crisol.core.output_guards import MARKER_SUFFIX
from kit.ingest import (
    ENGLISH,
    SHARED_WARC_DIR,
    english_pages,
    german_page,
    html_page,
    read_metrics,
    read_outputs,
    spam_page,
    write_params,
    write_warc,
    write_wet,
)
from kit.stages import run_stage
from stages.ingest.records import payload_sha1

EMAIL_SENTENCE = "Letters for the council can be sent to clerk.office@belmora-council.org at any time."


def _mixed_warc(path: Path) -> Path:
    pages = english_pages()
    url, _ = pages[0]
    first = list(ENGLISH[0])
    first[1] += " " + EMAIL_SENTENCE
    pages[0] = (url, html_page("Page 0", first))
    return write_warc(path, pages + [german_page(), spam_page()])


def test_warc_and_wet_to_documents_and_rejects(tmp_path):
    warc = _mixed_warc(tmp_path / "in" / "crawl-00000.warc.gz")
    wet_texts = [("http://example.test/wet/0", "\n\n".join(ENGLISH[1]))]
    write_wet(tmp_path / "in" / "crawl-00001.warc.wet.gz", wet_texts)
    inputs = [str(tmp_path / "in")]
    assert run_stage("ingest", write_params(tmp_path, inputs)) == 0

    documents, rejects = read_outputs(tmp_path)
    assert [d["url"] for d in documents] == [u for u, _ in english_pages()] + ["http://example.test/wet/0"]
    assert {r["url"]: r["reason"].split(":")[0] for r in rejects} == {
        "http://example.test/de/0": "lang",
        "http://example.test/spam": "quality",
    }
    assert [r["reason"] for r in rejects if r["lang"] == "de"] == ["lang:de"]
    assert all(len(r["text"]) <= 500 and r["source_file"] == str(warc) for r in rejects)

    first = documents[0]
    assert first["id"] == hashlib.sha1((first["url"] + " " + first["payload_digest"]).encode()).hexdigest()[:16]
    assert first["lang"] == "en" and first["lang_score"] >= 0.5 and first["content_kind"] == "html"
    assert first["title"] == "Page 0" and "harbour town of Belmora" in first["text"]
    assert first["pii_masked"] == 1 and "<EMAIL>" in first["text"] and "clerk.office@" not in first["text"]
    assert first["payload_digest"].startswith("sha1:") and first["fetch_date"].startswith("20")
    assert first["n_words"] == len(first["text"].split()) and dict(first["quality"])["n_words"] > 50
    assert "Home" not in first["text"].split()  # navigation boilerplate is not main text
    wet = documents[-1]
    assert wet["content_kind"] == "wet" and wet["title"] is None
    assert wet["payload_digest"] == payload_sha1(wet_texts[0][1].encode())

    metrics = read_metrics(tmp_path)
    assert metrics["files"] == 2 and metrics["records"] == 5 + 2 + 1  # 2 warcinfo + 5 pages + 1 wet
    assert metrics["html_pages"] == 5 and metrics["wet_records"] == 1 and metrics["extracted"] == 5
    assert metrics["kept"] == 4 and metrics["dropped_total"] == 2 and metrics["errors_total"] == 0
    assert metrics["dropped"]["lang:de"] == 1
    assert metrics["languages"] == {"de": 1, "en": 5}
    assert metrics["pii_masked"] == {"email": 1}
    assert metrics["skipped"] == {"not_response": 2}
    assert metrics["records_by_type"] == {"warcinfo": 2, "response": 5, "conversion": 1}
    assert metrics["bytes_read"] == sum(p.stat().st_size for p in (tmp_path / "in").iterdir())
    assert metrics["pages_per_s"] > 0 and [s["index"] for s in metrics["shards"]] == [0, 1]
    assert sorted(p.name for p in (tmp_path / "out" / "documents").iterdir()) == [
        "part-00000.parquet",
        "part-00001.parquet",
    ]


def test_a_recrawl_of_unchanged_pages_keeps_every_document_id(tmp_path):
    # Each write gives every record a fresh random WARC-Record-ID, as every real crawl does; the ids,
    # which decide the validation split downstream, must follow the page, not the fetch.
    pages = english_pages()
    changed = [(pages[0][0], html_page("Page 0", ENGLISH[1])), *pages[1:]]
    ids = {}
    for name, crawl in (("first", pages), ("again", pages), ("changed", changed)):
        write_warc(tmp_path / name / "in" / "crawl-00000.warc.gz", crawl)
        assert run_stage("ingest", write_params(tmp_path / name, [str(tmp_path / name / "in")])) == 0
        ids[name] = {d["url"]: (d["id"], d["record_id"]) for d in read_outputs(tmp_path / name)[0]}
    assert {u: i for u, (i, _) in ids["first"].items()} == {u: i for u, (i, _) in ids["again"].items()}
    assert all(ids["first"][u][1] != ids["again"][u][1] for u in ids["first"])  # new WARC record ids
    first_url = pages[0][0]
    assert ids["changed"][first_url][0] != ids["first"][first_url][0]  # new content, new id
    assert all(ids["changed"][u][0] == ids["first"][u][0] for u, _ in pages[1:])


def test_language_list_and_score_come_from_params(tmp_path):
    write_warc(tmp_path / "in" / "a.warc.gz", english_pages() + [german_page()])
    params = write_params(tmp_path, [str(tmp_path / "in")], languages=["en"], min_lang_score=0.5)
    assert run_stage("ingest", params, "ingest.languages=[en, de]") == 0
    documents, _ = read_outputs(tmp_path)
    assert sorted({d["lang"] for d in documents}) == ["de", "en"]
    assert run_stage("ingest", params, "ingest.min_lang_score=1.0") == 0  # no classifier is that sure
    documents, rejects = read_outputs(tmp_path)
    assert documents == [] and {r["reason"] for r in rejects} == {"lang_low_score", "lang:de"}


def test_shared_warc_samples_through_the_stage(tmp_path):
    if not SHARED_WARC_DIR.is_dir():
        pytest.skip(f"shared WARC samples not found at {SHARED_WARC_DIR}")
    assert run_stage("ingest", write_params(tmp_path, [str(SHARED_WARC_DIR)])) == 0
    metrics = read_metrics(tmp_path)
    assert metrics["files"] == 5 and metrics["records"] == 24 and metrics["html_pages"] == 3
    assert metrics["skipped"] == {"non_html": 3, "not_response": 16, "revisit": 2}
    assert metrics["errors"] == {}
    documents, rejects = read_outputs(tmp_path)
    assert len(documents) + len(rejects) == 3  # every HTML page is either kept or rejected


def test_malformed_files_are_counted_not_fatal(tmp_path):
    good = write_warc(tmp_path / "in" / "good.warc.gz", english_pages()).read_bytes()
    (tmp_path / "in" / "empty.warc.gz").write_bytes(b"")
    (tmp_path / "in" / "garbage.warc").write_bytes(b"\x00\x01 not a WARC at all\n" * 10)
    (tmp_path / "in" / "cut.warc.gz").write_bytes(good[:-100])
    assert run_stage("ingest", write_params(tmp_path, [str(tmp_path / "in")])) == 0
    metrics = read_metrics(tmp_path)
    assert metrics["errors"] == {"empty_file": 1, "not_a_warc": 1, "truncated_gzip": 1}
    # The good file, and the cut file's records before the cut, still become documents.
    assert metrics["kept"] == 3 + 2


def test_missing_input_exits_1_naming_it(tmp_path, capsys):
    missing = tmp_path / "no" / "such.warc.gz"
    assert run_stage("ingest", write_params(tmp_path, [str(missing)])) == 1
    assert f"error: input not found: {missing}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert run_stage("ingest", write_params(tmp_path, [str(tmp_path / "*.warc.gz")])) == 1
    assert "input glob matches no files" in capsys.readouterr().err
    # Files that exist but hold no readable record at all are as unusable as missing ones.
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "empty.warc.gz").write_bytes(b"")
    (tmp_path / "bad" / "junk.warc").write_bytes(b"junk\n" * 10)
    assert run_stage("ingest", write_params(tmp_path, [str(tmp_path / "bad")])) == 1
    assert (
        "error: no WARC records could be read from 2 input file(s); errors: {'empty_file': 1, 'not_a_warc': 1}"
        in capsys.readouterr().err
    )
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_glob_input_reads_only_what_matches(tmp_path):
    write_warc(tmp_path / "in" / "crawl-a.warc.gz", english_pages()[:1])
    write_warc(tmp_path / "in" / "crawl-b.warc.gz", english_pages()[1:2])
    write_warc(tmp_path / "in" / "other.warc.gz", english_pages()[2:])
    assert run_stage("ingest", write_params(tmp_path, [str(tmp_path / "in" / "crawl-*.warc.gz")])) == 0
    documents, _ = read_outputs(tmp_path)
    assert [d["url"] for d in documents] == [u for u, _ in english_pages()[:2]]
    assert [Path(d["source_file"]).name for d in documents] == ["crawl-a.warc.gz", "crawl-b.warc.gz"]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_root(tmp_path):
    """A real HTTP server on loopback serving `tmp_path/www`; yields (root dir, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_common_crawl_listing_over_http(tmp_path, http_root):
    root, base = http_root
    segment = "crawl-data/CC-MAIN-2099-01/segments/1/warc"
    pages = english_pages()
    write_warc(root / segment / "a.warc.gz", pages[:2])
    write_warc(root / segment / "b.warc.gz", pages[2:])
    listing = tmp_path / "warc.paths.gz"
    listing.write_bytes(gzip.compress(f"{segment}/a.warc.gz\n{segment}/gone.warc.gz\n{segment}/b.warc.gz\n".encode()))
    shutil.copy(listing, root / "warc.paths.gz")
    for listed in (str(listing), base + "warc.paths.gz"):  # a local listing and a remote one
        assert run_stage("ingest", write_params(tmp_path, [listed], cc_base_url=base)) == 0
        documents, _ = read_outputs(tmp_path)
        assert [d["url"] for d in documents] == [u for u, _ in pages]
        assert documents[0]["source_file"] == f"{base}{segment}/a.warc.gz"
        metrics = read_metrics(tmp_path)
        assert metrics["files"] == 3 and metrics["errors"] == {"open_error:FileNotFoundError": 1}
        assert metrics["bytes_read"] == sum((root / segment / n).stat().st_size for n in ("a.warc.gz", "b.warc.gz"))


def _fail_on_second_shard(task):
    if task.index == 1:
        raise RuntimeError("worker lost")
    return _real_process_shard(task)


_real_process_shard = ingest_stage.process_shard


def test_a_failed_shard_publishes_nothing(tmp_path, monkeypatch):
    write_warc(tmp_path / "in" / "a.warc.gz", english_pages()[:1])
    write_warc(tmp_path / "in" / "b.warc.gz", english_pages()[1:])
    params = write_params(tmp_path, [str(tmp_path / "in")])
    monkeypatch.setattr(ingest_stage, "process_shard", _fail_on_second_shard)
    with pytest.raises(RuntimeError, match="worker lost"):
        run_stage("ingest", params)
    out = tmp_path / "out"
    assert not (out / "documents").exists() and not (out / "rejects").exists()
    assert list(out.iterdir()) == []  # no temporary directories left behind either

    # A previous good output survives a failed re-run untouched.
    monkeypatch.setattr(ingest_stage, "process_shard", _real_process_shard)
    assert run_stage("ingest", params) == 0
    before, _ = read_outputs(tmp_path)
    monkeypatch.setattr(ingest_stage, "process_shard", _fail_on_second_shard)
    with pytest.raises(RuntimeError):
        run_stage("ingest", params)
    after, _ = read_outputs(tmp_path)
    assert after == before and len(after) == 3
    # (beside the outputs: the output guards' ownership markers, crisol/core/output_guards.py)
    assert sorted(p.name for p in out.iterdir() if not p.name.endswith(MARKER_SUFFIX)) == [
        "documents",
        "metrics.json",
        "rejects",
    ]
