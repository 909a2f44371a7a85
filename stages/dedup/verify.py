"""Candidate verification: exact Jaccard on the documents' shingle sets, after a cheap cut by the
Jaccard their signatures estimate.

The share of equal values in two MinHash signatures is an unbiased estimate of their Jaccard
similarity, with standard deviation sqrt(s(1-s)/num_perm) (0.035 at s = 0.8 with 128
permutations). Verifying on the estimate alone let pairs of exact Jaccard 0.70-0.78 through at a
threshold of 0.8 (issue 24: on real text a third of the pairs put together were below it). So the
estimate only rejects: a pair estimated more than CUT_SIGMAS standard deviations below the
threshold is dropped (a pair truly at the threshold lands there with probability < 1e-6), and every
other candidate is compared exactly, on the sorted, de-duplicated shingle hashes its signatures were
computed from (frequent shingles left out, see frequent.py).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

CHUNK = 65536  # pairs compared per step: 2 x CHUNK x num_perm x 4 bytes at most in memory
SET_CHUNK = 4096  # pairs compared exactly per step
CUT_SIGMAS = 5.0

SetRows = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # indices -> (flat sorted sets, sizes)


def estimated_jaccard(rows: Callable[[np.ndarray], np.ndarray], u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Estimated Jaccard of each pair; `rows(indices)` returns those documents' signatures."""
    out = np.empty(len(u), dtype=np.float32)
    for lo in range(0, len(u), CHUNK):
        hi = min(len(u), lo + CHUNK)
        out[lo:hi] = (rows(u[lo:hi]) == rows(v[lo:hi])).mean(axis=1)
    return out


def estimate_cut(threshold: float, num_perm: int) -> float:
    """The estimate below which a pair is rejected without an exact comparison."""
    return threshold - CUT_SIGMAS * math.sqrt(threshold * (1 - threshold) / num_perm)


def exact_jaccard(sets: SetRows, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Exact Jaccard of each pair of shingle sets; `sets(indices)` returns their concatenated
    sorted unique hashes and their sizes. Each pair's hashes are tagged with the pair's number in
    the high 32 bits, so both sides are one sorted uint64 array and one searchsorted intersects all."""
    out = np.empty(len(u), dtype=np.float32)
    for lo in range(0, len(u), SET_CHUNK):
        hi = min(len(u), lo + SET_CHUNK)
        a, a_sizes = sets(u[lo:hi])
        b, b_sizes = sets(v[lo:hi])
        pair = np.arange(hi - lo, dtype=np.uint64)
        a_keys = (np.repeat(pair, a_sizes) << np.uint64(32)) | a.astype(np.uint64)
        b_keys = (np.repeat(pair, b_sizes) << np.uint64(32)) | b.astype(np.uint64)
        if len(b_keys) == 0:
            out[lo:hi] = 0.0
            continue
        at = np.minimum(np.searchsorted(b_keys, a_keys), len(b_keys) - 1)
        hit = b_keys[at] == a_keys
        inter = np.bincount(np.repeat(np.arange(hi - lo), a_sizes)[hit], minlength=hi - lo)
        union = a_sizes + b_sizes - inter
        out[lo:hi] = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    return out
