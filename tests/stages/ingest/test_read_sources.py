"""Expanding the `inputs` param into one source per file: directories, globs, URLs, Common Crawl
listings; an input that names nothing is a StageInputError that names it."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import fsspec
import pytest

from crisol.core.errors import StageInputError
from kit.ingest import english_pages, write_warc
from stages.ingest.records import read_records
from stages.ingest.sources import expand_inputs, open_source, resolve_listed

BASE = "https://data.commoncrawl.org/"


def _names(sources) -> list[str]:
    return [s.name for s in sources]


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_directory_gives_its_warc_and_wet_files_sorted_recursively(tmp_path):
    for name in ("b.warc.gz", "a.warc", "sub/c.wet", "sub/d.warc.wet.gz", "e.wet.gz"):
        _touch(tmp_path / "in" / name)
    for name in ("notes.txt", "f.warc.gz.tmp", "index.cdx"):
        _touch(tmp_path / "in" / name)
    sources = expand_inputs([str(tmp_path / "in")], BASE, 5)
    rel = [str(Path(s.name).relative_to(tmp_path / "in")) for s in sources]
    assert rel == ["a.warc", "b.warc.gz", "e.wet.gz", "sub/c.wet", "sub/d.warc.wet.gz"]
    assert all(Path(s.location).is_absolute() for s in sources)


def test_directory_gives_arc_and_documents_files_and_counts_the_rest(tmp_path):
    for name in ("a.arc", "b.arc.gz", "c.jsonl", "d.jsonl.gz", "e.parquet", "f.warc.gz"):
        _touch(tmp_path / "in" / name)
    for name in ("notes.txt", "g.json", ".hidden.warc.gz", ".git/objects/x.warc"):
        _touch(tmp_path / "in" / name)
    skipped: Counter = Counter()
    sources = expand_inputs([str(tmp_path / "in")], BASE, 5, skipped=skipped)
    assert [(s.rel, s.kind, s.is_arc) for s in sources] == [
        ("a.arc", "crawl", True),
        ("b.arc.gz", "crawl", True),
        ("c.jsonl", "text", False),
        ("d.jsonl.gz", "text", False),
        ("e.parquet", "text", False),
        ("f.warc.gz", "crawl", False),
    ]
    assert skipped == {"unknown_suffix": 2, "hidden": 2}
    # A file named explicitly is read whatever its name (as WARC unless it is a documents file).
    (explicit,) = expand_inputs([str(tmp_path / "in" / "notes.txt")], BASE, 5)
    assert (explicit.rel, explicit.kind) == ("notes.txt", "crawl")


def test_glob_and_dedup_and_cap(tmp_path):
    for name in ("x-1.warc.gz", "x-2.warc.gz", "y-1.warc.gz"):
        _touch(tmp_path / name)
    pattern = str(tmp_path / "x-*.warc.gz")
    assert [Path(n).name for n in _names(expand_inputs([pattern], BASE, 5))] == ["x-1.warc.gz", "x-2.warc.gz"]
    # The same file named twice (glob and path) is one shard; max_files caps the list.
    both = expand_inputs([pattern, str(tmp_path / "x-1.warc.gz"), str(tmp_path / "y-1.warc.gz")], BASE, 5)
    assert [Path(n).name for n in _names(both)] == ["x-1.warc.gz", "x-2.warc.gz", "y-1.warc.gz"]
    assert len(expand_inputs([pattern], BASE, 5, max_files=1)) == 1


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda p: p / "nope.warc.gz", "input not found: {p}/nope.warc.gz"),
        (lambda p: p / "z-*.warc.gz", "input glob matches no files: {p}/z-*.warc.gz"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "input directory has no WARC/WET/ARC or documents files"),
        (lambda p: p / "warc.paths.gz", "input listing not found: {p}/warc.paths.gz"),
    ],
)
def test_inputs_that_name_nothing_are_clear_errors(tmp_path, make, expected):
    with pytest.raises(StageInputError, match="^" + expected.format(p=tmp_path).replace("*", r"\*")):
        expand_inputs([str(make(tmp_path))], BASE, 5)


def test_common_crawl_listing_lines_resolve_against_the_base_url(tmp_path):
    lines = [
        "crawl-data/CC-MAIN-2024-10/segments/1/warc/a.warc.gz",
        "",
        "# a comment",
        "/crawl-data/CC-MAIN-2024-10/segments/1/warc/b.warc.gz",
        "https://mirror.test/c.warc.gz",
    ]
    listing = tmp_path / "warc.paths.gz"
    listing.write_bytes(gzip.compress("\n".join(lines).encode()))
    plain = tmp_path / "wet.paths"
    plain.write_text("crawl-data/x/wet/d.warc.wet.gz\n")
    sources = expand_inputs([str(listing), str(plain)], "http://127.0.0.1:9/cc", 5)
    assert _names(sources) == [
        "http://127.0.0.1:9/cc/crawl-data/CC-MAIN-2024-10/segments/1/warc/a.warc.gz",
        "http://127.0.0.1:9/cc/crawl-data/CC-MAIN-2024-10/segments/1/warc/b.warc.gz",
        "https://mirror.test/c.warc.gz",
        "http://127.0.0.1:9/cc/crawl-data/x/wet/d.warc.wet.gz",
    ]
    assert resolve_listed("a/b.warc.gz", BASE) == "https://data.commoncrawl.org/a/b.warc.gz"


def test_empty_listing_is_an_error(tmp_path):
    listing = tmp_path / "warc.paths"
    listing.write_text("\n\n")
    with pytest.raises(StageInputError, match="input listing is empty"):
        expand_inputs([str(listing)], BASE, 5)


def test_remote_glob_and_streaming_open_through_fsspec(tmp_path):
    # fsspec's in-memory filesystem stands in for s3:// (same code path: url_to_fs, glob, open).
    pages = english_pages()
    data = write_warc(tmp_path / "a.warc.gz", pages).read_bytes()
    fs = fsspec.filesystem("memory")
    fs.pipe("/bucket/crawl/a.warc.gz", data)
    fs.pipe("/bucket/crawl/b.txt", b"not an input")
    try:
        sources = expand_inputs(["memory://bucket/crawl/*.warc.gz"], BASE, 5)
        (name,) = _names(sources)  # fsspec spells the memory root "memory:///"; s3 has no root
        assert name.startswith("memory://") and name.endswith("bucket/crawl/a.warc.gz")
        counters: Counter = Counter()
        with open_source(sources[0].location, 5) as stream:
            records = list(read_records(stream, counters, 1_000_000))
        assert [r.url for r in records] == [u for u, _ in pages]
        with pytest.raises(StageInputError, match="matches no files"):
            expand_inputs(["memory://bucket/other/*.warc.gz"], BASE, 5)
    finally:
        fs.rm("/bucket", recursive=True)
