"""Candidate verification: estimated Jaccard similarity from the signatures.

The share of equal values in two MinHash signatures is an unbiased estimate of their Jaccard
similarity, with standard deviation sqrt(s(1-s)/num_perm) (0.044 at s = 0.5 with 128
permutations). Verifying against the signatures (rather than exact Jaccard on shingles) needs
nothing but what banding already holds, so it scales with the number of candidates, not with the
size of the texts; the benchmark measures what that costs against exact Jaccard.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

CHUNK = 65536  # pairs compared per step: 2 x CHUNK x num_perm x 4 bytes at most in memory


def estimated_jaccard(rows: Callable[[np.ndarray], np.ndarray], u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Estimated Jaccard of each pair; `rows(indices)` returns those documents' signatures."""
    out = np.empty(len(u), dtype=np.float32)
    for lo in range(0, len(u), CHUNK):
        hi = min(len(u), lo + CHUNK)
        out[lo:hi] = (rows(u[lo:hi]) == rows(v[lo:hi])).mean(axis=1)
    return out
