"""Candidate pairs from band keys, as two int64 arrays: no Python object per pair.

Per band, documents are sorted by key (stable, so in `members` order within a bucket: the
canonical order, stages/dedup/canonical.py, so that which member heads a bucket does not depend on
the input's order); each bucket of k documents yields k - 1 edges from its first member to the
others, a star rather
than all k(k-1)/2 pairs. Clusters are connected components, so a star connects a bucket as well as
a clique does, and memory stays at most (bands x documents) edges even when a bucket is huge. The
price: two non-first members of a bucket are compared only through the first; when a pair is
similar but the first member is not similar to either, that band does not link them (another band
usually does).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import polars as pl


def bucket_edges(keys: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Star edges (first, other) of every bucket of equal keys; `members` are the global indices."""
    # Most keys are in no bucket with another document: keep only repeated keys (a hash pass in
    # polars, 2x faster than sorting them all) before the sort, which then sees a few percent.
    if len(keys) >= 2:
        repeated = pl.Series(keys).is_duplicated().to_numpy()
        keys, members = keys[repeated], members[repeated]
    if len(keys) < 2:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.empty(len(keys), dtype=bool)
    starts[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=starts[1:])
    first_of = np.flatnonzero(starts)[np.cumsum(starts) - 1]  # position of each one's bucket head
    others = np.flatnonzero(~starts)
    return members[order[first_of[others]]], members[order[others]]


def candidate_pairs(
    band_key_rows: Iterable[np.ndarray], members: np.ndarray, n_documents: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Unique (u, v) pairs, u < v, over all bands; also the number of edges before de-duplication.

    `band_key_rows` yields one key array per band, aligned with `members`. Pairs are packed into
    one int64 (u * n + v) so that de-duplication is a single np.unique per band.
    """
    packed = np.empty(0, dtype=np.int64)
    raw = 0
    for keys in band_key_rows:
        u, v = bucket_edges(keys, members)
        raw += len(u)
        lo, hi = np.minimum(u, v), np.maximum(u, v)
        packed = np.union1d(packed, lo * np.int64(n_documents) + hi)
    return packed // n_documents, packed % n_documents, raw
