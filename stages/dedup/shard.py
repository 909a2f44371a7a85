"""What the executor ships to workers: small picklable tasks and results, arrays on disk.

Passes over the shards and one over groups of bands, on one pool (crisol/core/executor.py:
ShardPool):
1. `shingle_shard`: read the texts, tokenise, compute each document's exact key and its shingle
   hashes (saved); `frequency_shard`, once the exact groups are known: the shard's shingle
   document frequencies (saved, for frequent.py);
2. `sign_shard`: drop the frequent shingles, compute MinHash signatures, band keys and the sorted
   shingle sets that verification compares exactly (saved);
3. `band_candidates`: once the main process has chosen which documents enter near-dedup (its
   `members` file), the candidate pairs of a group of bands over every shard's band keys;
4. `write_shard`: the shard's kept documents, grouped by output part, to a scratch file; then
   `gather_part`: each output part from the scratch files, in the canonical order (canonical.py).
Arrays go to .npy files in the stage's work directory (on a filesystem the workers share), so the
main process memory-maps what it needs instead of receiving it through the executor.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from crisol.formats.artifacts import write_parquet
from crisol.formats.document_shards import Shard, read_shard
from crisol.formats.schemas import DOCUMENTS
from stages.dedup.bands import band_keys
from stages.dedup.candidates import candidate_pairs
from stages.dedup.canonical import canonical_table
from stages.dedup.frequent import drop_frequent, local_document_frequency
from stages.dedup.hashing import sequence_keys
from stages.dedup.minhash import signatures
from stages.dedup.normalize import tokenise
from stages.dedup.params import DedupParams
from stages.dedup.shingles import char_token_hashes, shingle_hashes, word_token_hashes


def work_file(work_dir: str | Path, what: str, index: int) -> str:
    """Where shard `index` keeps its array `what` (shingles, df, signatures, bands...)."""
    return str(Path(work_dir) / f"{what}-{index:05d}.npy")


@dataclass(frozen=True)
class ShingleTask:
    shard: Shard
    work_dir: str
    params: DedupParams


@dataclass
class ShingleResult:
    index: int
    ids: pa.Array
    chars: np.ndarray  # text length in characters (the keep rule prefers the longest)
    exact_keys: np.ndarray  # (n x 2) uint64 key of the normalised text
    shingles: np.ndarray  # shingle count per document (0: empty text, nothing to sketch)
    tokens: int
    seconds: float


def shingle_shard(task: ShingleTask) -> ShingleResult:
    start = time.perf_counter()
    params = task.params
    table = read_shard(task.shard, ["id", "text"])
    tokens = tokenise(table.column("text").to_pylist(), params.unicode_form, params.lowercase, params.strip_punctuation)
    word_hashes, word_counts = word_token_hashes(tokens, params.seed)
    exact_keys = sequence_keys(word_hashes, word_counts)
    if params.shingle_kind == "word":
        stream, counts = word_hashes, word_counts
    else:
        stream, counts = char_token_hashes(tokens, params.seed)
    shingles, shingle_counts = shingle_hashes(stream, counts, params.shingle_size)
    np.save(work_file(task.work_dir, "shingles", task.shard.index), shingles)
    np.save(work_file(task.work_dir, "shingle-counts", task.shard.index), shingle_counts)
    return ShingleResult(
        index=task.shard.index,
        ids=table.column("id").combine_chunks(),
        chars=pc.utf8_length(table.column("text")).to_numpy().astype(np.int64),
        exact_keys=exact_keys,
        shingles=shingle_counts,
        tokens=int(word_counts.sum()),
        seconds=time.perf_counter() - start,
    )


@dataclass(frozen=True)
class FrequencyTask:
    index: int
    work_dir: str
    documents: np.ndarray  # shard-local rows counted: the documents their exact groups keep


def frequency_shard(task: FrequencyTask) -> int:
    """The shard's shingle document frequencies over `documents` (saved, for frequent.py).

    Counted once per exact group, over the whole input: an exact copy must not inflate a count,
    and which shard a copy is in (the input's order) must not change it."""
    shingles = np.load(work_file(task.work_dir, "shingles", task.index))
    counts = np.load(work_file(task.work_dir, "shingle-counts", task.index))
    np.save(work_file(task.work_dir, "df", task.index), local_document_frequency(shingles, counts, task.documents))
    return task.index


@dataclass(frozen=True)
class SignTask:
    index: int
    work_dir: str
    permutations: np.ndarray  # datasketch's (a, b), computed once in the main process
    frequent: np.ndarray  # sorted uint32 hashes of frequent shingles
    bands: int
    rows: int


@dataclass
class SignResult:
    index: int
    shingles_used: int
    shingles_dropped: int
    only_frequent: int  # documents made only of frequent shingles (kept whole)
    seconds: float


def sign_shard(task: SignTask) -> SignResult:
    start = time.perf_counter()
    shingles = np.load(work_file(task.work_dir, "shingles", task.index))
    counts = np.load(work_file(task.work_dir, "shingle-counts", task.index))
    kept, kept_counts, only_frequent = drop_frequent(shingles, counts, task.frequent)
    sig = signatures(kept, kept_counts, task.permutations)
    np.save(work_file(task.work_dir, "signatures", task.index), sig)
    sets, sizes = shingle_sets(kept, kept_counts)
    np.save(work_file(task.work_dir, "sets", task.index), sets)
    np.save(work_file(task.work_dir, "set-sizes", task.index), sizes)
    np.save(work_file(task.work_dir, "bands", task.index), band_keys(sig, task.bands, task.rows))
    return SignResult(task.index, len(kept), len(shingles) - len(kept), only_frequent, time.perf_counter() - start)


def shingle_sets(shingles: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each document's shingles sorted and de-duplicated (for exact verification), and their sizes."""
    doc_of = np.repeat(np.arange(len(counts), dtype=np.uint64), counts)
    keys = np.unique((doc_of << np.uint64(32)) | shingles.astype(np.uint64))
    sizes = np.bincount((keys >> np.uint64(32)).astype(np.int64), minlength=len(counts))
    return (keys & np.uint64(0xFFFFFFFF)).astype(np.uint32), sizes.astype(np.int64)


@dataclass(frozen=True)
class BandTask:
    work_dir: str
    shards: tuple[int, ...]  # every shard's index: a band's keys span all documents
    bands: tuple[int, ...]  # the bands this task buckets
    n_documents: int


@dataclass
class BandResult:
    pairs: np.ndarray  # unique candidate pairs (u < v) packed as u * n_documents + v, sorted
    edges: int  # star edges before de-duplication
    seconds: float


def band_candidates(task: BandTask) -> BandResult:
    """Candidate pairs of some bands: a compact int64 array back, not a Python object per pair."""
    start = time.perf_counter()
    members = np.load(work_file(task.work_dir, "members", 0))
    stores = [np.load(work_file(task.work_dir, "bands", s), mmap_mode="r") for s in task.shards]
    rows = (np.concatenate([store[band] for store in stores])[members] for band in task.bands)
    u, v, edges = candidate_pairs(rows, members, task.n_documents)
    return BandResult(u * np.int64(task.n_documents) + v, edges, time.perf_counter() - start)


@dataclass(frozen=True)
class WriteTask:
    shard: Shard
    part: np.ndarray  # per row of the shard: the output part it goes to (canonical.py), -1 if dropped
    scratch: str  # where its kept rows wait, one row group per output part, in part order
    sample_rows: tuple[int, ...] = ()  # rows (shard-local) whose url and text the report shows
    sample_chars: int = 300


@dataclass
class WriteResult:
    index: int
    written: int
    samples: dict[int, dict[str, Any]] = field(default_factory=dict)  # global index -> fields
    seconds: float = 0.0


def write_shard(task: WriteTask) -> WriteResult:
    """The shard's kept rows, grouped by output part, to its scratch file (for `gather_part`)."""
    start = time.perf_counter()
    table = read_shard(task.shard)
    keep = task.part >= 0
    kept = table.filter(pa.array(keep))
    parts = task.part[keep]
    order = np.argsort(parts, kind="stable")
    kept, parts = kept.take(pa.array(order)), parts[order]
    with pq.ParquetWriter(task.scratch, kept.schema) as writer:
        for p in np.unique(parts):
            rows = np.flatnonzero(parts == p)
            writer.write_table(kept.slice(int(rows[0]), len(rows)), row_group_size=len(rows))
    samples = {}
    if task.sample_rows:
        picked = table.take(list(task.sample_rows)).select(["url", "title", "text"]).to_pylist()
        for row, values in zip(task.sample_rows, picked):
            text = values["text"] or ""
            samples[task.shard.offset + row] = {
                "url": values["url"],
                "title": values["title"],
                "text": text[: task.sample_chars],
                "chars": len(text),
            }
    return WriteResult(task.shard.index, len(kept), samples, time.perf_counter() - start)


@dataclass(frozen=True)
class GatherTask:
    index: int
    pieces: tuple[tuple[str, int], ...]  # (scratch file, row group) holding this part's rows
    part: str  # absolute path inside the output's temporary directory
    provenance: dict[str, Any]


def gather_part(task: GatherTask) -> int:
    """One output part: its rows from every shard's scratch file, in the canonical order."""
    tables = [pq.ParquetFile(path).read_row_group(group) for path, group in task.pieces]
    return write_parquet(task.part, DOCUMENTS, canonical_table(pa.concat_tables(tables)), params=task.provenance)
