"""LSH banding: b bands of r rows, chosen for a threshold or given; band keys; P(s).

Two documents become candidates when all r signature values of at least one band agree, which
happens with probability P(s) = 1 - (1 - s^r)^b for Jaccard similarity s: an S-curve whose steep
part sits near (1/b)^(1/r). When b and r are not given they come from datasketch's own optimiser
(`datasketch.lsh._optimal_param`, the one `MinHashLSH(threshold=...)` uses): it minimises
fp_weight * (area under P below the threshold) + fn_weight * (area above P over it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from stages.dedup.hashing import POLY_A, fmix64

if TYPE_CHECKING:  # only the annotation: workers import this module, and need no params model
    from stages.dedup.params import DedupParams


def choose_bands(
    threshold: float,
    num_perm: int,
    bands: int | None,
    rows: int | None,
    false_positive_weight: float,
    false_negative_weight: float,
) -> tuple[int, int]:
    if bands is not None and rows is not None:
        return bands, rows
    from datasketch.lsh import _optimal_param  # lazily: workers import this module, not datasketch

    b, r = _optimal_param(threshold, num_perm, false_positive_weight, false_negative_weight)
    return int(b), int(r)


def bands_of(params: DedupParams) -> tuple[int, int]:
    """The (bands, rows) a dedup params section asks for: its own, or those chosen for its threshold."""
    return choose_bands(
        params.threshold,
        params.num_perm,
        params.bands,
        params.rows,
        params.false_positive_weight,
        params.false_negative_weight,
    )


def candidate_probability(s: float, bands: int, rows: int) -> float:
    return 1.0 - (1.0 - s**rows) ** bands


def probability_curve(bands: int, rows: int) -> dict[str, float]:
    """P(s) at s = 0.1 .. 1.0, for the report."""
    return {f"{s:.1f}": round(candidate_probability(s, bands, rows), 4) for s in np.arange(1, 11) / 10}


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(bands x documents) uint64: one key per band, a mixed polynomial of its r values. Distinct
    bands that collide in 64 bits only add a candidate, which verification then rejects."""
    keys = np.empty((bands, len(sig)), dtype=np.uint64)
    for band in range(bands):
        acc = np.zeros(len(sig), dtype=np.uint64)
        for column in range(band * rows, (band + 1) * rows):
            acc *= POLY_A
            acc += sig[:, column]
        keys[band] = fmix64(acc)
    return keys
