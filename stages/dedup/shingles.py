"""Shingles as 32-bit hashes, computed for a whole shard at once with numpy.

A token stream (64-bit hashes of words, or of code points) is cut into overlapping n-grams; each
n-gram's hash is a polynomial of its token hashes (Horner's rule, vectorised over every position
of the shard at once), finalised with fmix64 and cut to 32 bits: datasketch's default "affine32"
scheme takes 32-bit input hashes. A document shorter than the shingle size gives one shingle of
all its tokens (a one-word document still has a signature); one with no tokens gives none.

Word hashes come from polars' `hash` (computed in Rust, no Python call per word): stable within
the pinned polars version, which is all we need, since signatures never outlive a run.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from stages.dedup.hashing import POLY_A, fmix64, offsets_of
from stages.dedup.normalize import normalised_text


def word_token_hashes(tokens: pl.Series, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(64-bit hash per token in document order, token count per document)."""
    counts = tokens.list.len().to_numpy().astype(np.int64)
    flat = tokens.explode().drop_nulls()
    return flat.hash(seed=seed).to_numpy().astype(np.uint64, copy=False), counts


def char_token_hashes(tokens: pl.Series, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(64-bit hash per character of the normalised text, character count per document)."""
    texts = normalised_text(tokens)
    counts = texts.str.len_chars().to_numpy().astype(np.int64)
    code_points = np.frombuffer("".join(texts.to_list()).encode("utf-32-le"), dtype=np.uint32)
    return fmix64(code_points.astype(np.uint64) ^ np.uint64(seed) * POLY_A), counts


def shingle_hashes(token_hashes: np.ndarray, counts: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(32-bit hash per shingle in document order, shingle count per document)."""
    total = len(token_hashes)
    offsets = offsets_of(counts)
    starts = offsets[:-1]
    short = np.flatnonzero((counts > 0) & (counts < size))
    # acc[i] = hash of tokens i .. i+m-1 after step m; positions whose window runs past the end of
    # the shard hold garbage that the mask below never selects.
    acc = token_hashes.astype(np.uint64, copy=True)
    short_values = np.zeros(len(short), dtype=np.uint64)
    done = counts[short] == 1
    short_values[done] = acc[starts[short[done]]]
    for m in range(2, size + 1):
        if m > total:
            break
        head = acc[: total - m + 1]
        head *= POLY_A
        head += token_hashes[m - 1 :]
        done = counts[short] == m
        short_values[done] = acc[starts[short[done]]]
    position = np.arange(total, dtype=np.int64) - np.repeat(starts, counts)
    windows_per_doc = np.where(counts >= size, counts - size + 1, 0)
    keep = position < np.repeat(windows_per_doc, counts)
    keep[starts[short]] = True
    acc[starts[short]] = short_values
    shingle_counts = np.where(counts >= size, counts - size + 1, (counts > 0).astype(np.int64))
    return (fmix64(acc[keep]) >> np.uint64(32)).astype(np.uint32), shingle_counts
