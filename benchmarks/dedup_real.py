"""bench_dedup.py's part (d): the stage, datasketch and datatrove on one real-text corpus
(real_text_corpus.py), scored against brute-force exact Jaccard at several thresholds.

Scores, per tool and threshold t (truth: every pair with exact word-5-shingle Jaccard >= t):
- pairs: every pair of documents in one predicted cluster, against the truth pairs;
- documents: "this document has a near-duplicate" (it is in a predicted cluster of two or more),
  against "it has a partner at >= t";
- kept-ok (the stage only): the share of the documents it removed whose exact Jaccard to the
  document kept in their cluster is >= t, the promise `threshold` makes.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from dedup_anchors import (
    DATATROVE_MISSING,
    datasketch_labels,
    datasketch_sketches,
    datatrove_available,
    datatrove_labels,
)
from real_text_corpus import real_corpus


@dataclass
class Score:
    tool: str
    threshold: float
    seconds: float
    docs: int
    pair: tuple[float, float, float]
    doc: tuple[float, float, float]
    kept_ok: float | None = None


def _prf(predicted: set, truth: set) -> tuple[float, float, float]:
    tp = len(predicted & truth)
    p = tp / len(predicted) if predicted else 1.0
    r = tp / len(truth) if truth else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def cluster_pairs(labels: np.ndarray) -> set[tuple[int, int]]:
    groups = defaultdict(list)
    for doc, label in enumerate(labels.tolist()):
        groups[label].append(doc)
    return {(m[i], m[j]) for m in groups.values() if len(m) > 1 for i in range(len(m)) for j in range(i + 1, len(m))}


def score(tool: str, labels: np.ndarray, truth_j: dict, t: float, seconds: float) -> Score:
    truth = {pair for pair, j in truth_j.items() if j >= t}
    predicted = cluster_pairs(labels)
    truth_docs = {d for pair in truth for d in pair}
    predicted_docs = {d for pair in predicted for d in pair}
    return Score(tool, t, seconds, len(labels), _prf(predicted, truth), _prf(predicted_docs, truth_docs))


def stage_labels(clusters: Path, n: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """(cluster label per document, (kept, removed) pairs) from the stage's clusters table."""
    table = pl.read_parquet(clusters, columns=["id", "cluster_id", "kept"])
    index = table["id"].str.slice(4).cast(pl.Int64).to_numpy()
    kept_of = table["cluster_id"].str.slice(4).cast(pl.Int64).to_numpy()
    labels = np.empty(n, dtype=np.int64)
    labels[index] = kept_of
    removed = ~table["kept"].to_numpy()
    return labels, list(zip(kept_of[removed].tolist(), index[removed].tolist()))


def kept_ok(removed: list[tuple[int, int]], truth_j: dict, t: float) -> float:
    if not removed:
        return 1.0
    return sum(truth_j.get((min(a, b), max(a, b)), 0.0) >= t for a, b in removed) / len(removed)


def run_real(args, tmp: Path, write_input, exact_truth, stage_seconds, bench_params) -> list[Score]:
    """Build the corpus, run the three tools at every threshold, score them."""
    from stages.dedup.bands import bands_of

    start = time.perf_counter()
    corpus = real_corpus(args.real_docs, seed=args.seed)
    texts = corpus.texts
    print(
        f"\n(d) real text: {len(texts)} documents from ../shared/data/text ({corpus.originals} cut, "
        f"{len(corpus.targets)} planted near copies at target J in [0.5, 1], the rest exact copies), "
        f"built in {time.perf_counter() - start:.0f} s"
    )
    write_input(texts, tmp / "input")
    start = time.perf_counter()
    truth_j = exact_truth(texts, bench_params(tmp, args))
    print(f"    truth: exact Jaccard of {len(truth_j)} pairs sharing a shingle ({time.perf_counter() - start:.0f} s)")
    shingle, seed = 5, bench_params(tmp, args).seed
    sketches, sketch_s = datasketch_sketches(texts, shingle, args.num_perm, seed)
    has_datatrove = datatrove_available()
    if not has_datatrove:
        print(f"    {DATATROVE_MISSING}; its rows are skipped")
    scores = []
    for t in args.real_thresholds:
        args.threshold = t
        params = bench_params(tmp, args)
        bands, rows = bands_of(params)
        print(f"    threshold {t}: {bands} bands x {rows} rows of {args.num_perm} permutations for every tool")
        seconds = stage_seconds(params, 1, args.repeats)
        labels, removed = stage_labels(params.clusters, len(texts))
        row = score("crisol dedup", labels, truth_j, t, seconds)
        row.kept_ok = kept_ok(removed, truth_j, t)
        scores.append(row)
        labels, lsh_s = datasketch_labels(sketches, args.num_perm, bands, rows)
        scores.append(score("datasketch MinHashLSH", labels, truth_j, t, sketch_s + lsh_s))
        if has_datatrove and not args.skip_datatrove:
            labels, dt_s = datatrove_labels(texts, shingle, bands, rows, seed)
            scores.append(score("datatrove MinHash", labels, truth_j, t, dt_s))
    return scores


def print_table(scores: list[Score]) -> None:
    print("\n    | threshold | tool | docs/s | pair P | pair R | pair F1 | doc P | doc R | doc F1 | removed ok |")
    print("    |---|---|---|---|---|---|---|---|---|---|")
    for s in scores:
        ok = f"{s.kept_ok:.3f}" if s.kept_ok is not None else "-"
        print(
            f"    | {s.threshold} | {s.tool} | {s.docs / s.seconds:,.0f} | "
            + " | ".join(f"{x:.3f}" for x in (*s.pair, *s.doc))
            + f" | {ok} |"
        )
