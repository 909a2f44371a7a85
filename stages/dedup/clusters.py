"""Clusters: stars around the kept documents (what the stage uses), and connected components of
verified pairs (what union-find pipelines use; the benchmark's anchors).

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


def star_clusters(rank: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Label of each node: the centre (kept document) of its star. `rank[i]` is node i's place in
    the keep order (0 first), `(u, v)` the verified pairs.

    What a greedy pass in keep order gives: the next document not yet taken becomes a centre and
    takes every untaken document verified against it. So every member is verified against its own
    centre, which ranks above it, and a chain A~B~C never pulls C in through B. Computed in rounds
    rather than one document at a time: a node becomes a centre once every higher-ranked neighbour
    is known to be a member, a member once a higher-ranked neighbour is a centre (the rounds are as
    many as the longest chain of such dependencies). A member joins its highest-ranked centre."""
    n = len(rank)
    high = np.where(rank[u] < rank[v], u, v)  # the neighbour that ranks first
    low = np.where(rank[u] < rank[v], v, u)
    state = np.zeros(n, dtype=np.int8)  # 0 undecided, 1 centre, 2 member
    undecided = np.zeros(n, dtype=bool)
    undecided[low] = True
    state[~undecided] = 1  # no higher-ranked neighbour: a centre at once
    while undecided.any():
        taken = (state[high] == 1) & undecided[low]
        state[low[taken]] = 2
        undecided[low[taken]] = False
        blocked = np.zeros(n, dtype=bool)
        blocked[low[(state[high] == 0) & undecided[low]]] = True
        free = undecided & ~blocked
        state[free] = 1
        undecided &= ~free
    labels = np.arange(n, dtype=np.int64)
    joins = (state[high] == 1) & (state[low] == 2)
    best = np.full(n, n, dtype=np.int64)  # the best centre's rank per member
    np.minimum.at(best, low[joins], rank[high[joins]])
    members = np.flatnonzero(state == 2)
    labels[members] = np.argsort(rank)[best[members]]
    return labels
