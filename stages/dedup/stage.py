"""The dedup stage: exact duplicates by normalised-text hash, then MinHash LSH near-duplicates.

documents ─(sharded)─> exact keys, shingles
          ─(main: numpy/polars)─> exact groups
          ─(sharded)─> shingle document frequencies over the exact groups' kept documents
          ─(main)─────> frequent (template) shingles
          ─(sharded)─> signatures and band keys without them
          ─(by groups of bands)─> candidate pairs
          ─(main: numpy/polars)─> verified pairs -> clusters
          ─(sharded)─> kept documents, in id order (canonical.py); then the clusters table, samples
                       and metrics
"""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from crisol.core.atomic import atomic_dir, temp_dir, write_json
from crisol.core.cli import StageContext
from crisol.core.executor import ShardPool
from crisol.formats.artifacts import part_name, write_parquet
from crisol.formats.document_shards import Shard, list_shards
from crisol.formats.schemas import CLUSTERS
from stages.dedup.assign import assign, exact_representatives, keep_rank
from stages.dedup.bands import bands_of
from stages.dedup.canonical import canonical_rank, output_plan
from stages.dedup.clusters import star_clusters
from stages.dedup.frequent import df_threshold, frequent_shingles
from stages.dedup.hashing import offsets_of
from stages.dedup.minhash import permutations
from stages.dedup.report import pick_sample_clusters, sample_members, samples_document, summarise
from stages.dedup.shard import (
    BandTask,
    FrequencyTask,
    GatherTask,
    ShingleResult,
    ShingleTask,
    SignResult,
    SignTask,
    WriteTask,
    band_candidates,
    frequency_shard,
    gather_part,
    shingle_shard,
    sign_shard,
    work_file,
    write_shard,
)
from stages.dedup.verify import estimate_cut, estimated_jaccard, exact_jaccard

BAND_GROUPS = 8  # tasks the bands are split into for candidate pairs


def _spans(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The positions start .. start + size - 1 of every span, concatenated."""
    within = np.arange(int(sizes.sum()), dtype=np.int64) - np.repeat(offsets_of(sizes)[:-1], sizes)
    return np.repeat(starts, sizes) + within


class Sketches:
    """The shards' results side by side, indexed by global document index; the signatures and band
    keys stay on disk (memory-mapped) until a row is needed."""

    def __init__(self, results: list[ShingleResult], work_dir: Path, num_perm: int):
        self.results = results
        self.work_dir = work_dir
        self.num_perm = num_perm
        self.offsets = np.cumsum([0] + [len(r.chars) for r in results])
        self.n = int(self.offsets[-1])
        self.ids = pa.concat_arrays([r.ids for r in results]) if results else pa.array([], pa.string())
        self.chars = np.concatenate([r.chars for r in results]) if results else np.zeros(0, np.int64)
        self.exact_keys = np.concatenate([r.exact_keys for r in results]) if results else np.zeros((0, 2), np.uint64)
        self.shingles = np.concatenate([r.shingles for r in results]) if results else np.zeros(0, np.int64)
        self.rank = canonical_rank(self.ids)  # the order every choice is made in (canonical.py)
        self.rep = exact_representatives(self.ids, self.chars, self.exact_keys)

    def _load(self, what: str) -> list[np.ndarray]:
        return [np.load(work_file(self.work_dir, what, r.index), mmap_mode="r") for r in self.results]

    def frequent(self, pool: ShardPool, fraction: float | None, min_docs: int) -> tuple[np.ndarray, int | None]:
        """Frequent shingle hashes (sorted) and the document-frequency threshold used."""
        if fraction is None:
            return np.empty(0, dtype=np.uint32), None
        counted = self.rep == np.arange(self.n)
        tasks = [
            FrequencyTask(r.index, str(self.work_dir), np.flatnonzero(counted[start:end]))
            for r, start, end in zip(self.results, self.offsets[:-1], self.offsets[1:])
        ]
        pool.map(frequency_shard, tasks, "dedup frequencies")
        threshold = df_threshold(self.n, fraction, min_docs)
        return frequent_shingles(self._load("df"), [len(r.chars) for r in self.results], threshold), threshold

    def open_signatures(self) -> None:
        self._signatures = self._load("signatures")
        self._sets = self._load("sets")
        self._set_sizes = [np.load(work_file(self.work_dir, "set-sizes", r.index)) for r in self.results]
        self._set_starts = [offsets_of(sizes)[:-1] for sizes in self._set_sizes]

    def set_rows(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The shingle sets of the given documents, concatenated in that order, and their sizes
        (memory-mapped, so only those documents' sets are read)."""
        shard = np.searchsorted(self.offsets, index, side="right") - 1
        local = index - self.offsets[shard]
        sizes = np.empty(len(index), dtype=np.int64)
        starts = np.empty(len(index), dtype=np.int64)
        for s in np.unique(shard):
            hit = shard == s
            sizes[hit], starts[hit] = self._set_sizes[s][local[hit]], self._set_starts[s][local[hit]]
        out = np.empty(int(sizes.sum()), dtype=np.uint32)
        out_starts = offsets_of(sizes)[:-1]
        for s in np.unique(shard):
            hit = np.flatnonzero(shard == s)
            source, target = _spans(starts[hit], sizes[hit]), _spans(out_starts[hit], sizes[hit])
            out[target] = self._sets[s][source]
        return out, sizes

    def signature_rows(self, index: np.ndarray) -> np.ndarray:
        """Signatures of the given documents (memory-mapped, so only those rows are read)."""
        out = np.empty((len(index), self.num_perm), dtype=np.uint32)
        shard = np.searchsorted(self.offsets, index, side="right") - 1
        for s in np.unique(shard):
            hit = shard == s
            out[hit] = self._signatures[s][index[hit] - self.offsets[s]]
        return out

    def candidates(self, pool: ShardPool, members: np.ndarray, bands: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Candidate pairs (u, v) among `members` and the star edges before de-duplication.

        Bands are bucketed independently, so groups of them run on the pool (a few groups per
        process, to even out the ends); each sends back its unique pairs, merged here."""
        if not self.results:
            return np.empty(0, np.int64), np.empty(0, np.int64), 0
        # Members in the canonical order: a bucket's star is centred on its first member.
        members = members[np.argsort(self.rank[members], kind="stable")]
        np.save(work_file(self.work_dir, "members", 0), members)
        groups = np.array_split(np.arange(bands), min(bands, BAND_GROUPS))
        n = max(self.n, 1)
        found = pool.map(
            band_candidates,
            [
                BandTask(str(self.work_dir), tuple(r.index for r in self.results), tuple(int(b) for b in group), n)
                for group in groups
            ],
            "dedup bands",
        )
        packed = np.unique(np.concatenate([f.pairs for f in found]))
        return packed // n, packed % n, int(sum(f.edges for f in found))


def run(ctx: StageContext) -> None:
    """Remove exact and near-duplicate documents (MinHash LSH); write clusters and a report."""
    params = ctx.params
    start = time.perf_counter()
    shards = list_shards(params.input, params.docs_per_shard)
    ctx.log.info("dedup: %d documents in %d shards", sum(s.rows for s in shards), len(shards))
    Path(params.documents).parent.mkdir(parents=True, exist_ok=True)
    # Shingles and signatures live on disk beside the output (a path Dask workers share).
    work_dir = temp_dir(Path(params.documents).parent, "dedup-work").resolve()
    try:
        with ShardPool(ctx.executor) as pool:
            sketched = sketch(ctx, pool, shards, work_dir, start)
            mark = time.perf_counter()
            decision = decide(pool, sketched.sketches, sketched.bands, params.threshold)
            sketched.timing["clustering"] = time.perf_counter() - mark

            mark = time.perf_counter()
            written = write_outputs(ctx, pool, shards, decision.table, sketched.sketches.rank, work_dir)
            sketched.timing["write"] = time.perf_counter() - mark
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)

    lsh, counters = _figures(params, shards, sketched, decision, written, time.perf_counter() - start)
    ctx.metrics.update(summarise(decision.table, lsh, counters))
    m = ctx.metrics
    ctx.log.info(
        "dedup: %d -> %d documents (%d exact, %d near dropped); %d candidate pairs, %d verified; %.0f docs/s",
        m["documents_in"],
        m["documents_out"],
        m["dropped"]["exact"],
        m["dropped"]["near"],
        lsh["candidate_pairs"],
        lsh["verified_pairs"],
        m["docs_per_s"] or 0,
    )


@dataclass
class Sketched:
    """The sharded passes' results: every document's shingles and signature (on disk), and how."""

    sketches: Sketches
    signed: list[SignResult]
    frequent: np.ndarray  # the frequent (template) shingles left out of the signatures
    df_limit: int | None  # the document frequency that makes a shingle frequent
    bands: int
    rows: int
    timing: dict[str, float]  # seconds per pass


def sketch(ctx: StageContext, pool: ShardPool, shards: list[Shard], work_dir: Path, start: float) -> Sketched:
    """Shingle every shard, find the frequent shingles, then sign every shard without them."""
    params = ctx.params
    timing = {}
    with ThreadPoolExecutor(1) as helper:
        # Bands and permutations come from datasketch, whose import (scipy: ~0.5 s) would be
        # serial work before any shard starts; only the signature pass needs them, so a thread
        # loads it while the shards are shingled (numpy and polars release the GIL).
        lsh_setup = helper.submit(_lsh_setup, params)
        tasks = [ShingleTask(shard, str(work_dir), params) for shard in shards]
        sketches = Sketches(pool.map(shingle_shard, tasks, "dedup shingles"), work_dir, params.num_perm)
        timing["shingles"] = time.perf_counter() - start
        mark = time.perf_counter()
        frequent, df_limit = sketches.frequent(pool, params.frequent_shingle_fraction, params.frequent_shingle_min_docs)
        timing["frequent"] = time.perf_counter() - mark
        mark = time.perf_counter()
        bands, rows, perms = lsh_setup.result()
    ctx.log.info(
        "dedup: %d bands x %d rows of %d permutations, threshold %.2f", bands, rows, params.num_perm, params.threshold
    )
    signed = pool.map(
        sign_shard, [SignTask(s.index, str(work_dir), perms, frequent, bands, rows) for s in shards], "dedup signatures"
    )
    sketches.open_signatures()
    timing["signatures"] = time.perf_counter() - mark
    return Sketched(sketches, signed, frequent, df_limit, bands, rows, timing)


def _figures(
    params, shards: list[Shard], sketched: Sketched, decision: Decision, written: int, seconds: float
) -> tuple[dict, dict]:
    """(the LSH settings and pair counts, the run's counters) for the metrics."""
    signed, sketches = sketched.signed, sketched.sketches
    lsh = {
        "num_perm": params.num_perm,
        "bands": sketched.bands,
        "rows": sketched.rows,
        "threshold": params.threshold,
        "shingle": f"{params.shingle_kind}-{params.shingle_size}",
        **decision.counters,
    }
    used, dropped = sum(r.shingles_used for r in signed), sum(r.shingles_dropped for r in signed)
    dropped_share = round(dropped / (used + dropped), 4) if used + dropped else 0.0
    counters = {
        "shards": len(shards),
        "tokens": int(sum(r.tokens for r in sketches.results)),
        "empty_texts": int((sketches.shingles == 0).sum()),
        "frequent_shingles": {
            "df_threshold": sketched.df_limit,
            "distinct": int(len(sketched.frequent)),
            "share_of_shingles_dropped": dropped_share,
            "documents_only_frequent": int(sum(r.only_frequent for r in signed)),
        },
        "documents_written": written,
        "timing_s": {name: round(value, 3) for name, value in sketched.timing.items()},
        "docs_per_s": round(sketches.n / seconds, 1) if seconds > 0 else None,
    }
    return lsh, counters


def _lsh_setup(params) -> tuple[int, int, np.ndarray]:
    """(bands, rows, permutations) for the signature pass."""
    bands, rows = bands_of(params)
    return bands, rows, permutations(params.num_perm, params.seed)


@dataclass
class Decision:
    table: pl.DataFrame  # one row per document, in input order (see assign.py)
    counters: dict[str, int]


def decide(pool: ShardPool, sketches: Sketches, bands: int, threshold: float) -> Decision:
    """Exact groups, then LSH candidates among their representatives, verified on their shingle
    sets, then a star around each kept document (clusters.py: star_clusters)."""
    rep = sketches.rep
    # Near-dedup runs on the survivors of exact dedup; empty texts have no shingles to compare.
    members = np.flatnonzero((rep == np.arange(sketches.n)) & (sketches.shingles > 0))
    u, v, raw_edges = sketches.candidates(pool, members, bands)
    plausible = estimated_jaccard(sketches.signature_rows, u, v) >= estimate_cut(threshold, sketches.num_perm)
    similar = np.zeros(len(u), dtype=bool)
    similar[plausible] = exact_jaccard(sketches.set_rows, u[plausible], v[plausible]) >= threshold
    labels = star_clusters(keep_rank(sketches.ids, sketches.chars), u[similar], v[similar])
    table = assign(sketches.ids, sketches.chars, sketches.exact_keys, labels[rep])
    table = table.with_columns(jaccard_to_kept=_jaccard_to_kept(table, sketches))
    return Decision(
        table,
        {
            "candidate_edges": raw_edges,
            "candidate_pairs": int(len(u)),
            "exactly_compared_pairs": int(plausible.sum()),
            "verified_pairs": int(similar.sum()),
            "rejected_pairs": int((~similar).sum()),
        },
    )


def write_outputs(
    ctx: StageContext, pool: ShardPool, shards: list[Shard], table: pl.DataFrame, rank: np.ndarray, work_dir: Path
) -> int:
    """Kept documents in the canonical order (canonical.py), the clusters table and the samples file."""
    params = ctx.params
    sample_ids = pick_sample_clusters(table, params.sample_clusters)
    shown = sample_members(table, sample_ids)
    plan = output_plan(rank, table["kept"].to_numpy(), params.docs_per_shard)
    shown_rows = shown["row"].to_numpy()

    def rows_shown(s: Shard) -> tuple[int, ...]:
        return tuple(int(r - s.offset) for r in shown_rows if s.offset <= r < s.offset + s.rows)

    scatter = [
        WriteTask(
            shard=s,
            part=plan.part[s.offset : s.offset + s.rows],
            scratch=str(work_dir / f"kept-{s.index:05d}.parquet"),
            sample_rows=rows_shown(s),
            sample_chars=params.sample_chars,
        )
        for s in shards
    ]
    written = pool.map(write_shard, scatter, "dedup write")
    with atomic_dir(params.documents) as out_dir:
        pool.map(gather_part, _gather_tasks(scatter, plan.parts, Path(out_dir), ctx.params_dict()), "dedup parts")
    clusters = table.sort("id", maintain_order=True).to_arrow()
    write_parquet(params.clusters, CLUSTERS, clusters, params=ctx.params_dict())
    fields = {row: values for result in written for row, values in result.samples.items()}
    write_json(params.samples, samples_document(shown, sample_ids, fields))
    return int(sum(w.written for w in written))


def _gather_tasks(scatter: list[WriteTask], parts: int, out_dir: Path, provenance: dict) -> list[GatherTask]:
    """Each output part's pieces: a row group of every scratch file that holds some of its rows."""
    pieces: list[list[tuple[str, int]]] = [[] for _ in range(parts)]
    for task in scatter:
        for group, part in enumerate(np.unique(task.part[task.part >= 0])):
            pieces[part].append((task.scratch, group))
    return [GatherTask(i, tuple(p), str(out_dir.resolve() / part_name(i)), provenance) for i, p in enumerate(pieces)]


def _jaccard_to_kept(table: pl.DataFrame, sketches: Sketches) -> pl.Series:
    """1 for exact copies of the kept text, the exact Jaccard of the shingle sets for near members
    (those signatures are computed from), null if unique."""
    same = table["same_as_kept"].to_numpy()
    values = np.where(same, 1.0, np.nan).astype(np.float32)
    near = np.flatnonzero(~same)
    if len(near):
        values[near] = exact_jaccard(sketches.set_rows, near, table["kept_row"].to_numpy()[near])
    series = pl.Series("jaccard_to_kept", values, nan_to_null=True)
    return pl.when(table["cluster_size"] > 1).then(series).otherwise(None)
