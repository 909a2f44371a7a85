"""Banding, candidate pairs, union-find and frequent shingles against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from datasketch import MinHashLSH

from crisol.core.errors import ParamsError
from crisol.core.params import validate_section
from stages.dedup.bands import band_keys, candidate_probability, choose_bands, probability_curve
from stages.dedup.candidates import bucket_edges, candidate_pairs
from stages.dedup.clusters import connected_components
from stages.dedup.frequent import df_threshold, drop_frequent, frequent_shingles, local_document_frequency
from stages.dedup.params import DedupParams


def test_bands_come_from_datasketch_unless_given():
    b, r = choose_bands(0.5, 128, None, None, 0.5, 0.5)
    lsh = MinHashLSH(threshold=0.5, num_perm=128, weights=(0.5, 0.5))
    assert (b, r) == (lsh.b, lsh.r)
    assert choose_bands(0.5, 128, 16, 8, 0.5, 0.5) == (16, 8)
    recall_heavy = choose_bands(0.5, 128, None, None, 0.1, 0.9)
    assert candidate_probability(0.5, *recall_heavy) > candidate_probability(0.5, b, r)
    curve = probability_curve(14, 8)
    assert list(curve) == [f"{s / 10:.1f}" for s in range(1, 11)]
    assert curve["1.0"] == 1.0 and curve["0.8"] == pytest.approx(0.9237, abs=1e-3)  # FineWeb's 14 x 8


@pytest.mark.parametrize(
    "section, message",
    [
        ({"bands": 8}, "give both bands and rows"),
        ({"bands": 20, "rows": 8, "num_perm": 128}, "exceeds num_perm"),
        ({"threshold": 0}, "threshold"),
        ({"shingle_kind": "sentence"}, "shingle_kind"),
    ],
)
def test_bad_lsh_params_are_one_line_errors(section, message):
    with pytest.raises(ParamsError, match=message):
        validate_section({"dedup": section}, "dedup", DedupParams)


def test_band_keys_agree_exactly_when_a_band_agrees():
    rng = np.random.default_rng(1)
    sig = rng.integers(0, 2**32, (3, 12), dtype=np.uint64).astype(np.uint32)
    sig[1, 4:8] = sig[0, 4:8]  # band 1 (rows 4..7) shared by documents 0 and 1
    keys = band_keys(sig, 3, 4)
    assert keys.shape == (3, 3)
    assert keys[1, 0] == keys[1, 1]
    assert keys[0, 0] != keys[0, 1] and keys[2, 0] != keys[2, 1] and keys[1, 2] != keys[1, 0]


def test_candidates_connect_every_bucket_without_listing_all_its_pairs():
    rng = np.random.default_rng(2)
    members = np.arange(100, 400, 3)  # global indices of the documents banded
    bands = [rng.integers(0, 25, len(members)).astype(np.uint64) for _ in range(3)]
    u, v, raw = candidate_pairs(iter(bands), members, 1000)
    assert (u < v).all() and len(set(zip(u.tolist(), v.tolist()))) == len(u)
    assert raw == sum(len(members) - len(np.unique(b)) for b in bands)  # k - 1 edges per bucket of k
    # The components of the edges are exactly those of "same key in some band".
    expected = {}
    for a, b in itertools.combinations(range(len(members)), 2):
        if any(band[a] == band[b] for band in bands):
            expected.setdefault(a, set()).add(b)
    labels = connected_components(1000, u, v)
    for a, partners in expected.items():
        assert all(labels[members[a]] == labels[members[b]] for b in partners)
    assert len(np.unique(labels[members])) == _naive_components(len(members), expected)
    first, other = bucket_edges(np.array([5, 5, 5], dtype=np.uint64), np.array([7, 8, 9]))
    assert first.tolist() == [7, 7] and other.tolist() == [8, 9]  # a star on the smallest index


def _naive_components(n: int, edges: dict[int, set[int]]) -> int:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, partners in edges.items():
        for b in partners:
            parent[find(a)] = find(b)
    return len({find(x) for x in range(n)})


def test_union_find_labels_each_component_by_its_smallest_member_even_along_long_chains():
    n = 5000
    rng = np.random.default_rng(5)
    chain = rng.permutation(np.arange(2000, 5000))  # one long path, shuffled
    u = np.r_[chain[:-1], [10, 11, 12]]
    v = np.r_[chain[1:], [11, 12, 10]]  # plus a triangle
    labels = connected_components(n, u, v)
    assert (labels[2000:] == 2000).all()
    assert (labels[[10, 11, 12]] == 10).all()
    assert (labels[:10] == np.arange(10)).all()
    assert len(np.unique(labels)) == 2000 - 3 + 1 + 1


def test_document_frequency_is_exact_across_shards_and_frequent_shingles_are_dropped():
    rng = np.random.default_rng(9)
    shards = []
    for _ in range(3):
        counts = rng.integers(0, 30, 40)
        shingles = rng.integers(0, 60, counts.sum()).astype(np.uint32)  # small alphabet: many repeats
        shards.append((shingles, counts))
    naive: dict[int, int] = {}
    for shingles, counts in shards:
        offsets = np.r_[0, np.cumsum(counts)]
        for d in range(len(counts)):
            for h in set(shingles[offsets[d] : offsets[d + 1]].tolist()):
                naive[h] = naive.get(h, 0) + 1
    tables = [local_document_frequency(s, c, np.arange(len(c))) for s, c in shards]
    threshold = df_threshold(120, 0.1, 5)
    assert threshold == 12
    frequent = frequent_shingles(tables, [40, 40, 40], threshold)
    assert frequent.tolist() == sorted(h for h, df in naive.items() if df > threshold)
    shingles, counts = np.array([1, 2, 3, 1, 1, 9], dtype=np.uint32), np.array([3, 2, 1, 0])
    kept, kept_counts, only = drop_frequent(shingles, counts, np.array([1, 9], dtype=np.uint32))
    # Documents 1 (1, 1) and 2 (9) are made only of frequent shingles: they keep them.
    assert kept.tolist() == [2, 3, 1, 1, 9] and kept_counts.tolist() == [2, 2, 1, 0] and only == 2
