"""The ingest stage on a user's own data (source own): own.root/crawl (WARC/WET/ARC) and
own.root/text (documents files) instead of `ingest.inputs`; metrics split by kind; a folder
lacking both is a one-line error, exit 1; documents files work from `ingest.inputs` too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kit.ingest import (
    GERMAN,
    REAL_DIR,
    english_pages,
    english_texts,
    read_metrics,
    read_outputs,
    write_arc,
    write_jsonl,
    write_params,
    write_text_parquet,
    write_warc,
)
from kit.paths import REPO_ROOT
from kit.stages import run_stage


def _own_folder(root: Path) -> Path:
    """crawl/: a WARC, an ARC and two files ingest does not read; text/: JSONL.gz and Parquet
    documents, and a Parquet file without a `text` column."""
    pages = english_pages()
    write_warc(root / "crawl" / "a.warc.gz", pages[:2])
    write_arc(root / "crawl" / "old" / "b.arc.gz", pages[2:], gzip=True)
    (root / "crawl" / "README.txt").write_text("where this crawl came from")
    (root / "crawl" / ".DS_Store").write_bytes(b"\0")
    texts = english_texts()
    write_jsonl(
        root / "text" / "c.jsonl.gz",
        [{"text": texts[0], "id": "c-0"}, {"text": "\n\n".join(GERMAN)}, {"text": ""}, b"{broken"],
    )
    write_text_parquet(root / "text" / "d.parquet", {"text": texts[1:], "url": ["https://example.org/d1", None]})
    write_text_parquet(root / "text" / "e.parquet", {"body": ["no text column here"]})
    return root


def test_own_crawl_and_text_become_one_documents_artifact(tmp_path):
    own = _own_folder(tmp_path / "own")
    # ingest.inputs holds the synthetic crawl: with source own it must not be read at all.
    write_warc(tmp_path / "synthetic" / "crawl.warc.gz", [("http://synthetic.test/x", english_pages()[0][1])])
    params = write_params(tmp_path, [str(tmp_path / "synthetic")])
    assert run_stage("ingest", params, "source=own", f"own.root={own}") == 0

    documents, rejects = read_outputs(tmp_path)
    pages, texts = english_pages(), english_texts()
    assert [d["url"] for d in documents] == [u for u, _ in pages] + [
        "file:c.jsonl.gz#1",
        "https://example.org/d1",
        "file:d.parquet#2",
    ]
    assert [d["content_kind"] for d in documents] == ["html"] * 3 + ["text"] * 3
    text_docs = documents[3:]
    assert [d["text"] for d in text_docs] == texts
    assert text_docs[0]["id"] == "c-0" and len({d["id"] for d in documents}) == 6
    assert [Path(d["source_file"]).relative_to(own).as_posix() for d in text_docs] == [
        "text/c.jsonl.gz",
        "text/d.parquet",
        "text/d.parquet",
    ]
    assert [d["record_id"] for d in text_docs] == ["file:c.jsonl.gz#1", "file:d.parquet#1", "file:d.parquet#2"]
    assert [(r["url"], r["reason"]) for r in rejects] == [("file:c.jsonl.gz#2", "lang:de")]

    metrics = read_metrics(tmp_path)
    assert metrics["source"] == "own" and metrics["inputs"] == {"crawl_files": 2, "text_files": 3}
    assert metrics["skipped_files"] == {"hidden": 1, "unknown_suffix": 1}
    assert metrics["parts"] == {"crawl": {"ran": True, "n": 2}, "text": {"ran": True, "n": 3}}
    crawl, text = metrics["by_kind"]["crawl"], metrics["by_kind"]["text"]
    assert (crawl["files"], crawl["records"], crawl["documents"], crawl["kept"]) == (2, 3 + 2, 3, 3)
    assert crawl["skipped"] == {"not_response": 2} and crawl["errors"] == {} and crawl["dropped"] == {}
    assert (text["files"], text["rows"], text["documents"], text["kept"]) == (3, 6, 4, 3)
    assert text["skipped"] == {"bad_json": 1, "empty_text": 1} and text["errors"] == {"no_text_column": 1}
    assert text["dropped"] == {"lang:de": 1} and text["dropped_total"] == 1
    assert metrics["kept"] == 6 and metrics["text_rows"] == 6 and metrics["text_documents"] == 4


def test_own_folder_without_crawl_or_text_is_one_line_exit_1(tmp_path):
    """Through the real command line: one line on stderr, exit 1, nothing written."""
    (tmp_path / "own" / "instructions").mkdir(parents=True)
    (tmp_path / "own" / "instructions" / "a.json").write_text("[]")
    params = write_params(tmp_path, ["data/crawl/warc"])
    for root in (tmp_path / "own", tmp_path / "missing"):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "stages.ingest",
                "--params",
                str(params),
                "--set",
                "source=own",
                "--set",
                f"own.root={root}",
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": ""},
        )
        assert done.returncode == 1, done.stderr
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:") or "Traceback" in line]
        assert len(errors) == 1, done.stderr
        if root.exists():
            assert errors[0].startswith(f"error: ingest: source is own but {root} has no input for this stage")
            assert f"{root}/crawl/ with WARC/WET/ARC files" in errors[0] and f"{root}/text/ with documents" in errors[0]
        else:
            assert errors[0] == f"error: ingest: own-data folder {root} not found (own.root; source: own)"
        assert not (tmp_path / "out").exists()


def test_own_folders_holding_no_file_ingest_reads_is_an_error(tmp_path, capsys):
    (tmp_path / "own" / "crawl").mkdir(parents=True)
    (tmp_path / "own" / "crawl" / "notes.md").write_text("to do: crawl")
    assert run_stage("ingest", write_params(tmp_path, ["unused"]), "source=own") == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"error: ingest: no input file ingest reads under {tmp_path / 'own'} (1 other file(s)")


def test_unusable_documents_files_alone_are_one_line_errors(tmp_path, capsys):
    write_text_parquet(tmp_path / "own" / "text" / "x.parquet", {"body": ["a"]})
    assert run_stage("ingest", write_params(tmp_path, ["unused"]), "source=own") == 1
    assert (
        "error: no documents could be read from 1 input file(s); errors: {'no_text_column': 1}"
        in capsys.readouterr().err
    )
    (tmp_path / "own" / "text" / "x.parquet").unlink()
    write_jsonl(tmp_path / "own" / "text" / "y.jsonl", [b"{", {"text": " "}])
    assert run_stage("ingest", write_params(tmp_path, ["unused"]), "source=own") == 1
    assert (
        "error: no documents could be read from 1 input file(s); errors: {'no_usable_rows': 1}; "
        "rows skipped: {'bad_json': 1, 'empty_text': 1}" in capsys.readouterr().err
    )


def test_synthetic_source_reads_ingest_inputs_only_and_takes_documents_files_too(tmp_path):
    _own_folder(tmp_path / "own")  # present, but the source is synthetic: never read
    write_warc(tmp_path / "in" / "a.warc.gz", english_pages()[:1])
    write_jsonl(tmp_path / "in" / "b.jsonl", [{"text": english_texts()[1]}])
    (tmp_path / "in" / "c.txt").write_text("not an input")
    assert run_stage("ingest", write_params(tmp_path, [str(tmp_path / "in")])) == 0
    documents, _ = read_outputs(tmp_path)
    assert [d["url"] for d in documents] == [english_pages()[0][0], "file:b.jsonl#1"]
    metrics = read_metrics(tmp_path)
    assert metrics["source"] == "synthetic" and metrics["inputs"] == {"crawl_files": 1, "text_files": 1}
    assert metrics["skipped_files"] == {"unknown_suffix": 1}
    assert metrics["by_kind"]["text"]["kept"] == metrics["by_kind"]["crawl"]["kept"] == 1


def test_synthetic_crawl_only_run_says_no_text_part(tmp_path):
    write_warc(tmp_path / "in" / "a.warc.gz", english_pages())
    assert run_stage("ingest", write_params(tmp_path, [str(tmp_path / "in")])) == 0
    metrics = read_metrics(tmp_path)
    assert metrics["parts"]["text"] == {"ran": False, "n": 0, "why": "no text input files in ingest.inputs"}
    assert metrics["by_kind"]["text"] == {
        "files": 0,
        "rows": 0,
        "documents": 0,
        "kept": 0,
        "skipped": {},
        "skipped_total": 0,
        "dropped": {},
        "dropped_total": 0,
        "errors": {},
        "errors_total": 0,
    }
    assert metrics["by_kind"]["crawl"]["kept"] == metrics["kept"] == 3


@pytest.mark.skipif(not REAL_DIR.is_dir(), reason=f"shared real data not found at {REAL_DIR}")
def test_real_crawl_and_c4_text_as_own_data(tmp_path):
    own = tmp_path / "own"
    for kind in ("crawl", "text"):
        shutil.copytree(REAL_DIR / kind, own / kind)
    assert run_stage("ingest", write_params(tmp_path, ["unused"]), "source=own", f"own.root={own}") == 0
    metrics = read_metrics(tmp_path)
    assert metrics["inputs"] == {"crawl_files": 6, "text_files": 1} and metrics["skipped_files"] == {}
    crawl, text = metrics["by_kind"]["crawl"], metrics["by_kind"]["text"]
    assert (crawl["records"], crawl["documents"]) == (36 + 26 + 50 + 4 + 2 + 36, 0 + 25 + 16 + 1 + 1 + 2)
    assert crawl["errors"] == {"truncated_record": 1}  # in the C4Corpus file itself; no gzip error
    assert (text["rows"], text["documents"], text["errors"], text["skipped"]) == (200, 200, {}, {})
    for kind in (crawl, text):  # every document is kept or dropped with a reason
        assert kind["kept"] + kind["dropped_total"] == kind["documents"] and kind["kept"] > 0
    documents, rejects = read_outputs(tmp_path)
    assert len(documents) == metrics["kept"] and len(rejects) == metrics["dropped_total"]


def test_own_source_reads_remote_inputs_but_never_local_ones(tmp_path):
    """With source own, `ingest.inputs` still brings remote data (here fsspec's in-memory store
    standing in for s3://), while its local paths (the synthetic crawl's by default) are ignored."""
    import fsspec

    pages = english_pages()
    remote = write_warc(tmp_path / "remote.warc.gz", pages[:2]).read_bytes()
    local = write_warc(tmp_path / "synthetic" / "crawl.warc.gz", pages[2:])
    fs = fsspec.filesystem("memory")
    fs.pipe("/bucket/own/a.warc.gz", remote)
    try:
        params = write_params(tmp_path, [str(local.parent), "memory://bucket/own/*.warc.gz"])
        write_jsonl(tmp_path / "own" / "text" / "docs.jsonl", [{"text": t} for t in english_texts()[:2]])
        assert run_stage("ingest", params, "source=own") == 0
    finally:
        fs.rm("/bucket", recursive=True)
    documents, _ = read_outputs(tmp_path)
    urls = {d["url"] for d in documents}
    assert {u for u, _ in pages[:2]} <= urls and not ({u for u, _ in pages[2:]} & urls)
    assert read_metrics(tmp_path)["inputs"] == {"crawl_files": 1, "text_files": 1}
