"""The same documents in another order, in other files, from another fetch: byte-identical output.

A recrawl of unchanged pages fetches them in another order into other WARC files, so dedup reads
them in another order and other shards, each with a new WARC-Record-ID and fetch date. Its
documents, clusters and samples must not change at all (the e2e test, tests/e2e/test_micro.py,
checks the bytes through DVC) (stages/dedup/canonical.py): they are what
the tokenizer and pretraining read, and DVC keeps those cached only for identical bytes.
"""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow.parquet as pq

from kit.dedup import dedup
from kit.documents import document

TEMPLATE = " ".join(f"template{i}" for i in range(40))


def _corpus() -> list[dict]:
    """Unique pages, near copies, exact copies (in upper case), and a template block on 12
    pages each copied once: 12 distinct texts, right at frequent_shingle_min_docs. Counted per
    shard, copies in other shards than their originals would count twice."""
    rng = random.Random(7)
    docs = []
    for i in range(80):
        words = [f"w{rng.randrange(2000)}" for _ in range(100)]
        text = " ".join(words) + (" " + TEMPLATE if i < 12 else "")
        docs.append(document(f"d{i:03d}", text))
        if i < 12 or i % 7 == 0:
            docs.append(document(f"x{i:03d}", text.upper()))
        if i % 5 == 0:
            docs.append(document(f"n{i:03d}", " ".join(w if rng.random() > 0.05 else "edit" for w in words)))
    return docs


def _fetched(docs: list[dict], fetch: str) -> list[dict]:
    return [
        {
            **d,
            "source_file": f"crawl-{fetch}.warc.gz",
            "record_id": f"<urn:uuid:{fetch}-{d['id']}>",
            "fetch_date": fetch,
        }
        for d in docs
    ]


def _contents(root: Path) -> dict[str, list]:
    """Each output file's rows, in file order (the files' params metadata names their own paths)."""
    out = root / "out"
    files = [*sorted((out / "documents").iterdir()), out / "clusters.parquet"]
    return {f.name: pq.read_table(f).to_pylist() for f in files} | {"samples": (out / "samples.json").read_text()}


def test_another_order_other_files_another_fetch_give_identical_outputs(tmp_path):
    docs = _corpus()
    shuffled = docs[:]
    random.Random(1).shuffle(shuffled)
    params = {"docs_per_shard": 30, "frequent_shingle_min_docs": 12, "frequent_shingle_fraction": 0.01}
    first = dedup(tmp_path / "first", _fetched(docs, "2025-01-01"), files=1, row_group=30, **params)
    second = dedup(tmp_path / "second", _fetched(shuffled, "2025-02-02"), files=5, row_group=7, **params)
    assert first["metrics"]["dropped_total"] > 12 and first["metrics"]["shards"] != second["metrics"]["shards"]
    for key in ("documents_out", "dropped", "clusters", "frequent_shingles"):
        assert first["metrics"][key] == second["metrics"][key], key
    assert _contents(tmp_path / "first") == _contents(tmp_path / "second")
    ids = [d["id"] for d in first["documents"]]
    assert ids == sorted(ids) and len(first["parts"]) == -(-len(ids) // 30)
    # A fetch's own provenance stays in ingest's documents; dedup's are the pages alone.
    assert {(d["source_file"], d["record_id"], d["fetch_date"]) for d in first["documents"]} == {(None, None, None)}
