"""64-bit mixing on numpy arrays: the building blocks of token, shingle, band and exact hashes.

All arithmetic is on uint64 arrays, where numpy wraps silently: the wrap-around *is* the modulo
2^64 we want (the field notes' "uint64 wrap-around in (a*h + b) mod p" trap is about datasketch's
legacy prime-field scheme, which is not used here).
"""

from __future__ import annotations

import numpy as np

# Odd multipliers (so multiplication is a bijection mod 2^64) for polynomial combination.
POLY_A = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio
POLY_B = np.uint64(0xC2B2AE3D27D4EB4F)  # xxhash's PRIME64_2

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)


def fmix64(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: an avalanching bijection, so structure in the input (a
    polynomial of token hashes, a code point) does not survive into the bits we keep."""
    h = values.astype(np.uint64, copy=True)
    h ^= h >> _S33
    h *= _M1
    h ^= h >> _S33
    h *= _M2
    h ^= h >> _S33
    return h


def offsets_of(counts: np.ndarray) -> np.ndarray:
    """Start of each segment in the flat array, plus the end: len(counts) + 1 values."""
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def powers(base: np.uint64, count: int) -> np.ndarray:
    """base^0 .. base^(count-1) mod 2^64 (cumprod wraps like every uint64 product here)."""
    table = np.full(max(count, 1), base, dtype=np.uint64)
    table[0] = 1
    return np.cumprod(table, dtype=np.uint64)[:count]


def sequence_keys(token_hashes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """A 128-bit key per segment (n x 2 uint64) for its exact token sequence: two polynomial hashes
    with different bases, each mixed with the length. Used for exact duplicates, where a 64-bit key
    would merge two different documents once in ~10^19/n^2 corpora: cheap insurance."""
    n = len(counts)
    keys = np.zeros((n, 2), dtype=np.uint64)
    nonempty = np.flatnonzero(counts > 0)
    if len(nonempty):
        offsets = offsets_of(counts)
        # Weight of token i of a segment is base^(tokens after it), as in Horner's rule.
        after = np.repeat(offsets[1:], counts) - np.arange(len(token_hashes), dtype=np.int64) - 1
        longest = int(counts.max())
        for column, base in enumerate((POLY_A, POLY_B)):
            weighted = token_hashes * powers(base, longest)[after]
            keys[nonempty, column] = np.add.reduceat(weighted, offsets[nonempty])
    lengths = counts.astype(np.uint64)
    keys[:, 0] = fmix64(keys[:, 0] ^ lengths)
    keys[:, 1] = fmix64(keys[:, 1] + lengths * POLY_A)
    return keys
