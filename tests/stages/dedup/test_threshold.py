"""`threshold` means what it says: a document is removed only when its exact shingle Jaccard to the
document its cluster keeps reaches it (issue 24)."""

from __future__ import annotations

import random

from kit.dedup import dedup
from kit.documents import document


def words(rng: random.Random, n: int) -> list[str]:
    return [f"w{rng.randrange(10**6)}x" for _ in range(n)]


def shingle_jaccard(a: list[str], b: list[str], k: int = 5) -> float:
    sa = {tuple(a[i : i + k]) for i in range(len(a) - k + 1)}
    sb = {tuple(b[i : i + k]) for i in range(len(b) - k + 1)}
    return len(sa & sb) / len(sa | sb)


def test_a_chain_does_not_remove_a_document_far_from_the_kept_one(tmp_path):
    # Sliding windows: A~B and B~C at 0.82, but A~C only 0.66. A is the longest text (trailing
    # punctuation normalises away), so A is kept; B goes with it, C is not close enough to A.
    rng = random.Random(3)
    text = words(rng, 360)
    a, b, c = text[0:300], text[30:330], text[60:360]
    assert shingle_jaccard(a, b) > 0.8 and shingle_jaccard(b, c) > 0.8 and shingle_jaccard(a, c) < 0.7
    docs = [document("a", " ".join(a) + " !!!!!!!!"), document("b", " ".join(b)), document("c", " ".join(c))]
    out = dedup(tmp_path, docs, threshold=0.75, num_perm=256)
    clusters = {row["id"]: row for row in out["clusters"]}
    assert clusters["a"]["kept"] and clusters["b"]["cluster_id"] == "a" and not clusters["b"]["kept"]
    assert clusters["c"]["kept"], "C was removed, though its Jaccard to the kept A is 0.66 < 0.75"
    assert 0.8 < clusters["b"]["jaccard_to_kept"] < 0.85


def test_candidates_below_the_threshold_on_their_shingles_are_not_merged(tmp_path):
    # 16 permutations in 16 bands of one row: every pair sharing a minimum is a candidate, and the
    # estimate (standard deviation 0.11) puts some pairs of exact Jaccard 0.70-0.77 above 0.8.
    rng = random.Random(5)
    docs, exact = [], {}
    for i in range(30):
        text = words(rng, 200)
        shift = 25 + i % 10
        first, second = text[: 200 - shift], text[shift:]
        exact[(f"p{i}a", f"p{i}b")] = shingle_jaccard(first, second)
        docs += [document(f"p{i}a", " ".join(first)), document(f"p{i}b", " ".join(second))]
    text = words(rng, 200)
    docs += [document("near-a", " ".join(text)), document("near-b", " ".join(text[:195]))]  # J 0.97
    out = dedup(tmp_path, docs, threshold=0.8, num_perm=16, bands=16, rows=1)
    cluster = {row["id"]: row["cluster_id"] for row in out["clusters"]}
    assert all(j < 0.8 for j in exact.values())
    merged = [pair for pair in exact if cluster[pair[0]] == cluster[pair[1]]]
    assert merged == [], f"pairs below 0.8 merged: {[(p, round(exact[p], 3)) for p in merged]}"
    assert cluster["near-a"] == cluster["near-b"]
