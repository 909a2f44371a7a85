"""Frequent shingles: template text, left out of the signatures.

Shingles that occur in many documents are boilerplate or templates (the same FAQ skeleton on
hundreds of pages, a legal notice, a "related articles" block), not content. Left in, they make
templated pages look like near-duplicates of one another: on the synthetic web (tiny profile) FAQ
pages about different cities share up to 61% of their word 5-grams, more than some real copies
with 10% of their words edited. Broder et al. (1997, "Syntactic clustering of the web") drop
such shingles for the same reason. A shingle is frequent when its document frequency exceeds
max(min_docs, fraction x documents): the floor keeps the copies of one page from making its own
text "frequent". A document made only of frequent shingles keeps them all (it is then compared on
what it has, and matches other pure-template documents).

Document frequency is exact and global without a global table of every shingle: each shard
counts its own (a sorted array), and a shingle whose global count exceeds T must exceed T x n_s / N
in at least one shard s (pigeonhole), so only those locally frequent candidates are summed over
all shards' tables.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

_LOW32 = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)


def local_document_frequency(shingles: np.ndarray, counts: np.ndarray, documents: np.ndarray) -> np.ndarray:
    """Sorted uint64 array of (shingle hash << 32 | number of `documents` containing it).

    One sort of (hash << 32 | document) keys does it all: equal neighbours are a shingle repeated
    within a document (counted once), and runs of equal high halves are one shingle's documents."""
    chosen = np.zeros(len(counts), dtype=bool)
    chosen[documents] = True
    doc_of = np.repeat(np.arange(len(counts), dtype=np.uint64), counts)
    mask = chosen[doc_of.astype(np.int64)]
    keys = np.sort((shingles[mask].astype(np.uint64) << _SHIFT) | doc_of[mask])
    if len(keys) == 0:
        return keys
    keys = keys[np.r_[True, keys[1:] != keys[:-1]]]
    hashes = keys >> _SHIFT
    starts = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]])
    df = np.diff(np.r_[starts, len(hashes)]).astype(np.uint64)
    return (hashes[starts] << _SHIFT) | df


def df_threshold(documents: int, fraction: float, min_docs: int) -> int:
    return max(min_docs, math.floor(fraction * documents))


def frequent_shingles(tables: Sequence[np.ndarray], shard_docs: Sequence[int], threshold: int) -> np.ndarray:
    """Sorted uint32 hashes whose document frequency over all shards exceeds `threshold`."""
    total = sum(shard_docs)
    if total == 0:
        return np.empty(0, dtype=np.uint32)
    candidates = [t[(t & _LOW32) > threshold * n / total] >> _SHIFT for t, n in zip(tables, shard_docs) if len(t)]
    if not candidates:
        return np.empty(0, dtype=np.uint32)
    hashes = np.unique(np.concatenate(candidates))
    df = np.zeros(len(hashes), dtype=np.int64)
    for table in tables:
        keys = table >> _SHIFT
        at = np.minimum(np.searchsorted(keys, hashes), max(len(keys) - 1, 0))
        if len(keys):
            hit = keys[at] == hashes
            df[hit] += (table[at[hit]] & _LOW32).astype(np.int64)
    return hashes[df > threshold].astype(np.uint32)


def drop_frequent(shingles: np.ndarray, counts: np.ndarray, frequent: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(kept shingles, kept count per document, documents made only of frequent shingles)."""
    if len(frequent) == 0 or len(shingles) == 0:
        return shingles, counts, 0
    at = np.minimum(np.searchsorted(frequent, shingles), len(frequent) - 1)
    keep = frequent[at] != shingles
    doc_of = np.repeat(np.arange(len(counts)), counts)
    kept_counts = np.bincount(doc_of[keep], minlength=len(counts))
    only_frequent = (kept_counts == 0) & (counts > 0)
    keep |= only_frequent[doc_of]
    return shingles[keep], np.where(only_frequent, counts, kept_counts), int(only_frequent.sum())
