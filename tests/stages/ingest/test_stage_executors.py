"""The same documents whatever runs the shards: in-process, local processes, a Dask cluster."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from crisol.formats.artifacts import read_parquet
from crisol.formats.schemas import DOCUMENTS, REJECTS
from kit.ingest import ENGLISH, english_pages, german_page, spam_page, write_params, write_warc, write_wet
from kit.stages import run_stage


def _inputs(root: Path) -> list[str]:
    pages = english_pages()
    write_warc(root / "in" / "crawl-00000.warc.gz", pages[:2] + [german_page()])
    write_warc(root / "in" / "crawl-00001.warc.gz", pages[2:] + [spam_page()])
    write_warc(root / "in" / "crawl-00002.warc", pages[:1], gzip=False)
    write_wet(root / "in" / "crawl-00003.warc.wet.gz", [("http://example.test/wet", "\n\n".join(ENGLISH[2]))])
    return [str(root / "in")]


def _run(tmp_path: Path, name: str, inputs: list[str], **executor) -> tuple[list, list, list[str]]:
    run_dir = tmp_path / name
    run_dir.mkdir()
    assert run_stage("ingest", write_params(run_dir, inputs, **executor)) == 0
    out = run_dir / "out"
    parts = sorted(p.name for p in (out / "documents").iterdir())
    # Each shard wrote its own part, and each part holds only its own file's documents.
    for part in parts:
        sources = set(pq.read_table(out / "documents" / part, columns=["source_file"])["source_file"].to_pylist())
        assert len(sources) <= 1, part
    return (
        read_parquet(out / "documents", DOCUMENTS).to_pylist(),
        read_parquet(out / "rejects", REJECTS).to_pylist(),
        parts,
    )


def test_inline_processes_and_dask_give_identical_output(tmp_path, dask_cluster):
    inputs = _inputs(tmp_path)
    inline = _run(tmp_path, "inline", inputs, workers=1)
    processes = _run(tmp_path, "processes", inputs, workers=2)
    dask = _run(tmp_path, "dask", inputs, workers=1, dask_address=dask_cluster.scheduler_address)
    documents, rejects, parts = inline
    assert parts == [f"part-{i:05d}.parquet" for i in range(4)]
    assert len(documents) == 5 and len(rejects) == 2
    assert processes == inline
    assert dask == inline
