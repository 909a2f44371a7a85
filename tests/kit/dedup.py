"""Shared by the dedup tests: the stage run in-process on documents written directly, and
duplicate-pair scoring against the synthetic web's ground truth."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pyarrow.parquet as pq

from kit.documents import document, write_documents
from kit.stages import run_stage, stage_defaults, write_stage_params

# Pages of the synthetic web that a polite crawl plus ingest turn into documents: robots.txt keeps
# the crawler off disallowed pages, the crawler's 1 MB cap skips the oversized page, ingest keeps
# English only and its quality filters drop the lorem-ipsum spam (tests/stages/web/test_prose.py).
NOT_CRAWLED_OR_KEPT = ("spam", "oversized")


def write_params(root: Path, input_dir: Path, workers: int = 1, dask_address: str | None = None, **dedup) -> Path:
    out = root / "out"
    section = {
        **stage_defaults("dedup"),
        "input": str(input_dir),
        "documents": str(out / "documents"),
        "clusters": str(out / "clusters.parquet"),
        "samples": str(out / "samples.json"),
        "metrics": str(out / "metrics.json"),
        **dedup,
    }
    return write_stage_params(
        root / "params.yaml",
        "dedup",
        section,
        profile="tiny",
        executor={"workers": workers, "dask_address": dask_address},
    )


def outputs(root: Path) -> dict:
    out = root / "out"
    return {
        "documents": pq.read_table(out / "documents").to_pylist(),
        "parts": sorted(p.name for p in (out / "documents").iterdir()),
        "clusters": pq.read_table(out / "clusters.parquet").to_pylist(),
        "samples": json.loads((out / "samples.json").read_text()),
        "metrics": json.loads((out / "metrics.json").read_text()),
    }


def dedup(root: Path, documents: list[dict], files: int = 1, row_group: int = 2000, **params) -> dict:
    """Write `documents`, run the stage on them (exit code must be 0), return its outputs.
    `params`: `workers`, `dask_address`, or any dedup parameter."""
    root.mkdir(parents=True, exist_ok=True)
    params = write_params(root, write_documents(root / "in", documents, files, row_group), **params)
    assert run_stage("dedup", params) == 0
    return outputs(root)


def web_documents(pages_path: Path) -> tuple[list[dict], dict[str, str]]:
    """Documents from the synthetic web's pages (main text as the text), and each document's
    ground-truth group: the url of the page it copies, or its own."""
    documents, group = [], {}
    for page in pq.read_table(pages_path).to_pylist():
        if page["disallowed"] or page["kind"] in NOT_CRAWLED_OR_KEPT or page["lang"] != "en":
            continue
        doc_id = f"page-{len(documents):05d}"
        documents.append(document(doc_id, page["main_text"], page["url"]))
        group[doc_id] = page["duplicate_of"] or page["url"]
    return documents, group


def pairs_within(groups: dict[str, str]) -> set[tuple[str, str]]:
    """All unordered pairs of ids that share a group."""
    members: dict[str, list[str]] = {}
    for doc_id, group in groups.items():
        members.setdefault(group, []).append(doc_id)
    return {pair for ids in members.values() for pair in itertools.combinations(sorted(ids), 2)}


def precision_recall(clusters: list[dict], truth: dict[str, str]) -> tuple[float, float, int, int]:
    predicted = pairs_within({row["id"]: row["cluster_id"] for row in clusters})
    expected = pairs_within(truth)
    correct = len(predicted & expected)
    return (
        correct / len(predicted) if predicted else 1.0,
        correct / len(expected) if expected else 1.0,
        len(predicted),
        len(expected),
    )
