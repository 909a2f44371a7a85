"""The two anchors bench_dedup.py's real-text part runs beside the stage, each as its users run it,
on the same texts: clusters (a label per document) and seconds.

- datasketch: Python normalisation and shingling, `MinHash.bulk` with xxhash, `MinHashLSH` with the
  stage's b x r filled through `insertion_session` and queried once per document; every pair a query
  returns is a duplicate (datasketch's documented use), clusters are their connected components.
- datatrove: its four-step MinHash pipeline (signatures, buckets, clusters), steps run in-process on
  `Document`s, with the stage's b x r. datatrove's English word tokenizer needs spaCy (15 more
  packages); it is given a `str.split` tokenizer instead, on its own simplified text (lower case,
  punctuation removed), the same words the truth shingles; and datatrove's own sha1 shingle hash,
  since its default (xxhash, given str) fails with the project's xxhash 4.x.
datatrove is a benchmark extra (`pip install -e '.[bench]'`); without it, its column is skipped.
"""

from __future__ import annotations

import re
import struct
import tempfile
import time
import unicodedata
from pathlib import Path

import numpy as np

from stages.dedup.clusters import connected_components

WORD = re.compile(r"\w+")
DATATROVE_MISSING = "datatrove is not installed: `.venv/bin/pip install -e '.[bench]'` (the benchmark extra)"


def _components(n: int, pairs: list[tuple[int, int]]) -> np.ndarray:
    u = np.array([p[0] for p in pairs], dtype=np.int64)
    v = np.array([p[1] for p in pairs], dtype=np.int64)
    return connected_components(n, u, v)


def datasketch_sketches(texts: list[str], shingle: int, num_perm: int, seed: int) -> tuple[list, float]:
    """(MinHash per text, seconds): the part of datasketch's run that does not depend on b x r."""
    import xxhash
    from datasketch import MinHash

    start = time.perf_counter()
    shingle_sets = []
    for text in texts:
        words = WORD.findall(unicodedata.normalize("NFKC", text).lower())
        shingle_sets.append(
            {" ".join(words[i : i + shingle]).encode() for i in range(max(1, len(words) - shingle + 1))}
        )
    sketches = MinHash.bulk(shingle_sets, num_perm=num_perm, seed=seed, hashfunc=xxhash.xxh32_intdigest)
    return sketches, time.perf_counter() - start


def datasketch_labels(sketches: list, num_perm: int, bands: int, rows: int) -> tuple[np.ndarray, float]:
    """(cluster label per document, seconds of indexing, querying and clustering)."""
    from datasketch import MinHashLSH

    start = time.perf_counter()
    lsh = MinHashLSH(num_perm=num_perm, params=(bands, rows))
    with lsh.insertion_session() as session:
        for key, sketch in enumerate(sketches):
            session.insert(key, sketch, check_duplication=False)
    pairs = [(key, other) for key, sketch in enumerate(sketches) for other in lsh.query(sketch) if other > key]
    labels = _components(len(sketches), pairs)
    return labels, time.perf_counter() - start


def datatrove_available() -> bool:
    try:
        import datatrove  # noqa: F401
    except ImportError:
        return False
    return True


def datatrove_labels(texts: list[str], shingle: int, bands: int, rows: int, seed: int) -> tuple[np.ndarray, float]:
    """(cluster label per document, seconds) from datatrove's MinHash pipeline, one task per step."""
    from datatrove.data import Document
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupSignature,
    )
    from datatrove.utils.hashing import HashConfig
    from datatrove.utils.word_tokenizers import WordTokenizer
    from loguru import logger

    logger.disable("datatrove")  # a line per step and file; the table says what matters

    class SplitTokenizer(WordTokenizer):
        def word_tokenize(self, text: str) -> list[str]:
            return text.split()

        def sent_tokenize(self, text: str) -> list[str]:
            return [text]

        def span_tokenize(self, text: str) -> list[tuple[int, int]]:
            return [(0, len(text))]

    # sha1: datatrove's default xxhash shingle hash passes str, which the project's xxhash 4.x refuses.
    hashing = HashConfig(hash_fc="sha1")
    config = MinhashConfig(n_grams=shingle, num_buckets=bands, hashes_per_bucket=rows, seed=seed, hash_config=hashing)
    with tempfile.TemporaryDirectory(prefix="bench-datatrove-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        docs = (Document(text=t, id=str(i)) for i, t in enumerate(texts))
        MinhashDedupSignature(str(root / "sigs"), config=config, language=SplitTokenizer()).run(
            docs, rank=0, world_size=1
        )
        for bucket in range(bands):
            MinhashDedupBuckets(str(root / "sigs"), str(root / "buckets"), config=config).run(
                rank=bucket, world_size=bands
            )
        MinhashDedupCluster(str(root / "buckets"), str(root / "clusters"), config=config, save_cluster_id=True).run()
        seconds = time.perf_counter() - start
        labels = np.arange(len(texts), dtype=np.int64)
        path = root / "clusters" / "000000.clusters"
        if path.exists():
            values = np.array(struct.unpack(f"<{path.stat().st_size // 4}I", path.read_bytes()), dtype=np.int64)
            doc, cluster = values[0::2], values[1::2]
            labels[doc] = len(texts) + cluster  # clusters of one are the documents' own labels
    return labels, seconds
