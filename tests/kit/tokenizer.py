"""Shared by the tokenizer tests: a small English corpus, the stage run in-process on documents
written directly, and its outputs."""

from __future__ import annotations

import json
from pathlib import Path

from kit.documents import document, write_documents
from kit.stages import run_stage, stage_defaults, write_stage_params

SENTENCES = [
    "The river Velmar flows through the old city of Ostrand, past the market and the cathedral.",
    "Maren Okafor was born in 1871 and worked as a cartographer for the Royal Survey Company.",
    "In 1902 the company moved its headquarters to Kelby, where it employed 4,300 people.",
    "Visitors often ask whether the bridge is open at night; it closes at ten o'clock.",
    "Population figures for the province rose by 12% between the two censuses.",
    'She wrote: "Maps are arguments about the world, drawn with a steady hand."',
]


def corpus_text(n: int = 40) -> list[str]:
    """`n` documents of a few sentences each, varied enough for merges to form."""
    return [" ".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(1 + i % 4)) + f" Record {i}." for i in range(n)]


def write_params(root: Path, input_dir: Path, workers: int = 1, dask_address: str | None = None, **tokenizer) -> Path:
    out = root / "out"
    section = {
        **stage_defaults("tokenizer"),
        "input": str(input_dir),
        "out": str(out / "tokenizer"),
        "tokens": str(out / "tokens"),
        "metrics": str(out / "metrics.json"),
        "vocab_size": 400,
        **tokenizer,
    }
    return write_stage_params(
        root / "params.yaml",
        "tokenizer",
        section,
        profile="tiny",
        executor={"workers": workers, "dask_address": dask_address},
    )


def tokenize(
    root: Path,
    texts: list[str],
    ids: list[str] | None = None,
    row_group: int = 2000,
    workers: int = 1,
    dask_address: str | None = None,
    **params,
) -> dict:
    """Write documents with `texts`, run the stage (exit code must be 0), return its paths and metrics."""
    ids = ids or [f"doc-{i}" for i in range(len(texts))]
    docs = [document(doc_id, text) for doc_id, text in zip(ids, texts)]
    input_dir = write_documents(root / "in", docs, row_group=row_group)
    params_file = write_params(root, input_dir, workers=workers, dask_address=dask_address, **params)
    assert run_stage("tokenizer", params_file) == 0
    out = root / "out"
    return {
        "tokenizer": out / "tokenizer",
        "tokens": out / "tokens",
        "metrics": json.loads((out / "metrics.json").read_text()),
    }
