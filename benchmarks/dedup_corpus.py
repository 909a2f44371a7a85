"""A corpus with near-duplicates planted at known Jaccard similarities (for bench_dedup.py).

Originals are random word sequences (a Zipf-distributed vocabulary of pseudo-words, 200-600 words
each), so unrelated documents share almost no 5-gram shingle. A planted copy replaces 1-4
contiguous blocks of words with fresh words: with m = n - k + 1 shingles per document and d of
them destroyed, the copy (same length) shares x = m - d shingles with its original, so
J = x / (2m - x); solving for d gives an edit that lands on the target J up to rounding. Targets are
drawn uniformly in [j_min, 1], so pairs lie on both sides of any threshold in between. Some
originals also get an exact copy that differs only in case, punctuation and whitespace (the same
normalised text), making groups of three.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class PlantedCorpus:
    texts: list[str]
    targets: dict[tuple[int, int], float]  # (original, copy) -> target Jaccard


def _vocabulary(rng: np.random.Generator, size: int) -> np.ndarray:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(3, 10, size)
    words = {"".join(rng.choice(letters, n)) for n in lengths}
    return np.array(sorted(words))


def _disguise(words: list[str], rng: np.random.Generator) -> str:
    """The same normalised text: capitalised words, commas and doubled spaces, a full stop."""
    out = []
    for w in words:
        w = w.capitalize() if rng.random() < 0.1 else w
        out.append(w + ("," if rng.random() < 0.05 else ""))
    return "  ".join(out) + "."


def _edit_to(words: np.ndarray, target: float, shingle: int, fresh, rng: np.random.Generator) -> np.ndarray:
    n = len(words)
    m = n - shingle + 1
    shared = round(2 * m * target / (1 + target))
    destroyed = m - shared
    copy = words.copy()
    if destroyed <= 0:
        return copy
    blocks = int(rng.integers(1, 5))
    while blocks > 1 and destroyed - blocks * (shingle - 1) < blocks:
        blocks -= 1
    replaced = max(blocks, destroyed - blocks * (shingle - 1))
    lengths = rng.multinomial(replaced - blocks, [1 / blocks] * blocks) + 1
    # Non-overlapping blocks, separated by at least `shingle` untouched words.
    slack = n - int(lengths.sum()) - (blocks - 1) * shingle
    if slack < 0:  # cannot place them apart: one block instead
        lengths, slack, blocks = np.array([min(replaced, n)]), n - min(replaced, n), 1
    gaps = np.sort(rng.integers(0, slack + 1, blocks))
    position = 0
    previous_gap = 0
    for length, gap in zip(lengths, gaps):
        position += int(gap - previous_gap)
        copy[position : position + length] = fresh(int(length))
        position += int(length) + shingle
        previous_gap = gap
    return copy


def planted_corpus(
    documents: int,
    seed: int = 0,
    shingle: int = 5,
    near_fraction: float = 0.25,
    exact_fraction: float = 0.1,
    j_min: float = 0.2,
) -> PlantedCorpus:
    rng = np.random.default_rng(seed)
    vocab = _vocabulary(rng, 60000)
    weights = 1.0 / np.arange(1, len(vocab) + 1) ** 1.05
    # What `rng.choice(vocab, count, p=weights)` does, with the cumulative distribution computed
    # once instead of on every call (the same draws, 10x faster: 100,000 documents in seconds).
    cdf = np.cumsum(weights / weights.sum())
    cdf /= cdf[-1]

    def fresh(count: int) -> np.ndarray:
        return vocab[cdf.searchsorted(rng.random(count), side="right")]

    texts: list[str] = []
    targets: dict[tuple[int, int], float] = {}
    while len(texts) < documents:
        words = fresh(int(rng.integers(200, 601)))
        original = len(texts)
        texts.append(" ".join(words))
        if rng.random() < exact_fraction and len(texts) < documents:
            texts.append(_disguise(list(words), rng))
        if rng.random() < near_fraction and len(texts) < documents:
            target = float(rng.uniform(j_min, 1.0))
            targets[(original, len(texts))] = target
            texts.append(" ".join(_edit_to(words, target, shingle, fresh, rng)))
    return PlantedCorpus(texts, targets)
