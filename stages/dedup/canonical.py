"""The canonical order: documents by id, so that dedup's output does not depend on input order.

A recrawl of unchanged pages fetches them in another order (the crawler's concurrency) into other
WARC files, so ingest's documents arrive in another order and other parts. Every choice dedup makes
is taken in this order rather than in input order (which member heads an LSH bucket, which
documents count towards a shingle's document frequency), and its kept documents are written in it,
in parts of a fixed number of documents. The documents' ids are content-derived (url + payload
digest, see stages/ingest/document.py), so the same pages give byte-identical documents, hence the
same token shards, and DVC keeps everything after dedup cached.

A fetch's own provenance (`source_file`, `record_id`, `fetch_date`) differs from crawl to crawl by
nature (the WARC-Record-ID is a fresh UUID, the date is the fetch's); dedup's documents leave it
out (null). It stays in ingest's documents, where the id finds it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

FETCH_COLUMNS = ("source_file", "record_id", "fetch_date")  # per fetch, not per page
SORT_KEYS = [("id", "ascending"), ("text", "ascending")]  # text: only for ids given twice by a user


def canonical_rank(ids: pa.Array) -> np.ndarray:
    """Each document's position in id order (ties, a user's repeated ids, in input order)."""
    order = pc.sort_indices(ids).to_numpy() if len(ids) else np.zeros(0, np.int64)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    return rank


@dataclass(frozen=True)
class Plan:
    """Where each kept document goes: output part `part[i]` (-1: dropped) of `parts` parts."""

    part: np.ndarray
    parts: int


def output_plan(rank: np.ndarray, kept: np.ndarray, per_part: int) -> Plan:
    """Kept documents in id order, cut into parts of `per_part` documents (the last one shorter)."""
    kept_rows = np.flatnonzero(kept)
    in_order = kept_rows[np.argsort(rank[kept_rows], kind="stable")]
    part = np.full(len(kept), -1, dtype=np.int64)
    part[in_order] = np.arange(len(in_order), dtype=np.int64) // per_part
    return Plan(part, int(-(-len(in_order) // per_part)))


def canonical_table(table: pa.Table) -> pa.Table:
    """`table`'s rows in the canonical order, without the fetch's own provenance."""
    table = table.take(pc.sort_indices(table, sort_keys=SORT_KEYS)) if table.num_rows else table
    for name in FETCH_COLUMNS:
        at = table.schema.get_field_index(name)
        table = table.set_column(at, name, pa.nulls(table.num_rows, table.schema.field(name).type))
    return table
