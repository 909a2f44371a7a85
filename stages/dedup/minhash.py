"""MinHash signatures of a whole shard at once, bit for bit datasketch 2.0's "affine32" sketches.

datasketch defines the sketch: its `MinHash(num_perm, seed)` draws the permutations (odd `a`, any
`b`, uint32), and a 32-bit input hash `h` is pre-mixed with MurmurHash3's fmix32 and mapped to
`a * fmix32(h) + b mod 2^32`; the signature is the minimum per permutation. `MinHash.bulk` does
this one document at a time (a Python call per shingle for the hash, one small numpy product per
document). Here the same arithmetic runs over blocks of a few thousand shingles of many documents
at once, with a segmented minimum (`np.minimum.reduceat`) per document; a test checks the values
equal `MinHash.bulk`'s, and `lean_minhash` turns a row back into a datasketch `LeanMinHash`.
A document with no shingles keeps datasketch's empty value (all 2^32-1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from stages.dedup.hashing import offsets_of

if TYPE_CHECKING:
    from datasketch import LeanMinHash

SCHEME = "affine32"
EMPTY = np.uint32(0xFFFFFFFF)
# Shingles per block: the (num_perm x block) uint32 products stay in the CPU cache (measured: 4096
# is 2x faster than 65536, and the per-document loop of MinHash.bulk is slower than both).
BLOCK = 4096

_F1 = np.uint32(0x85EBCA6B)
_F2 = np.uint32(0xC2B2AE35)


def fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser, as datasketch applies it to every input hash."""
    h = values.astype(np.uint32, copy=True)
    h ^= h >> np.uint32(16)
    h *= _F1
    h ^= h >> np.uint32(13)
    h *= _F2
    h ^= h >> np.uint32(16)
    return h


def permutations(num_perm: int, seed: int) -> np.ndarray:
    """datasketch's own (a, b) for this num_perm and seed: shape (2, num_perm), uint32.

    Called in the main process and shipped with the tasks: importing datasketch pulls in scipy
    (0.5 s), which every spawned worker would otherwise pay before its first shard."""
    from datasketch import MinHash

    return MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations.astype(np.uint32)


def signatures(shingles: np.ndarray, counts: np.ndarray, perms: np.ndarray) -> np.ndarray:
    """(documents x num_perm) uint32 signatures of shingle hashes grouped by `counts`;
    `perms` is `permutations(num_perm, seed)`."""
    a, b = perms[0][:, None], perms[1][:, None]
    sig = np.full((len(counts), perms.shape[1]), EMPTY, dtype=np.uint32)
    mixed = fmix32(shingles)
    offsets = offsets_of(counts)
    total = len(mixed)
    for lo in range(0, total, BLOCK):
        hi = min(total, lo + BLOCK)
        # Documents with at least one shingle in [lo, hi); a long document spans several blocks
        # and takes the minimum over them.
        first = np.searchsorted(offsets, lo, side="right") - 1
        last = np.searchsorted(offsets, hi, side="left")
        docs = first + np.flatnonzero(counts[first:last] > 0)
        seg_starts = np.maximum(offsets[docs], lo) - lo
        values = a * mixed[lo:hi]
        values += b
        block_min = np.minimum.reduceat(values, seg_starts, axis=1).T
        sig[docs] = np.minimum(sig[docs], block_min)
    return sig


def lean_minhash(signature: np.ndarray, seed: int) -> LeanMinHash:
    """A datasketch LeanMinHash of one signature row (for use with datasketch's own indexes)."""
    from datasketch import LeanMinHash

    return LeanMinHash(seed=seed, hashvalues=signature, scheme=SCHEME)
