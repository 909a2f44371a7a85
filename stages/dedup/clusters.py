"""Clusters: connected components of the verified pairs, and which document each cluster keeps.

Components come from a vectorised union-find (hook and compress, Shiloach-Vishkin style): every
edge hooks the larger of its two roots under the smaller, then pointer jumping flattens the
forest; repeated until no edge joins two different roots. Each round is a few numpy passes over
the edges, and the number of rounds grows with the logarithm of the longest chain, so millions
of edges never become Python objects. Every component is labelled by its smallest member index.
"""

from __future__ import annotations

import numpy as np


def _compress(parent: np.ndarray) -> np.ndarray:
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand


def connected_components(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Label of each of n nodes: the smallest node index of its component."""
    parent = np.arange(n, dtype=np.int64)
    while len(u):
        ru, rv = parent[u], parent[v]
        cross = ru != rv
        if not cross.any():
            break
        ru, rv = ru[cross], rv[cross]
        low, high = np.minimum(ru, rv), np.maximum(ru, rv)
        # Several edges may hook the same root: minimum.at keeps the smallest, and since a root
        # only ever moves to a smaller index there are no cycles.
        np.minimum.at(parent, high, low)
        parent = _compress(parent)
        u, v = u[cross], v[cross]
    return parent
