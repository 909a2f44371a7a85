"""From exact keys and near-duplicate components to one row per document: its cluster, whether it
is kept, and how it is a duplicate.

The keep rule, for exact groups and for clusters alike: the longest text (in characters) wins,
then the smallest id. Longest, because near-duplicate copies of web pages are more often
truncated or excerpted than extended; the id breaks ties so the choice never depends on file
order. The rule is a total order, so applying it to exact groups first and to clusters of their
representatives after picks the same document as applying it to the whole cluster at once.

`kind` of a document: "unique" (alone in its cluster), "exact" (its normalised text is identical
to another member's), "near" (in a cluster only through MinHash similarity).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

KEEP_BY = ["chars", "id"]
KEEP_DESCENDING = [True, False]  # longest text first, then smallest id


def _frame(ids: pa.Array, chars: np.ndarray, exact_keys: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "row": np.arange(len(chars), dtype=np.int64),
            "id": pl.from_arrow(ids) if len(ids) else pl.Series([], dtype=pl.String),
            "chars": chars,
            "k0": exact_keys[:, 0],
            "k1": exact_keys[:, 1],
        }
    )


def exact_representatives(ids: pa.Array, chars: np.ndarray, exact_keys: np.ndarray) -> np.ndarray:
    """For each document, the index of the document its exact group keeps (itself if unique)."""
    frame = _frame(ids, chars, exact_keys).sort(KEEP_BY, descending=KEEP_DESCENDING)
    reps = frame.select("row", rep=pl.col("row").first().over("k0", "k1")).sort("row")
    return reps["rep"].to_numpy()


def assign(ids: pa.Array, chars: np.ndarray, exact_keys: np.ndarray, root: np.ndarray) -> pl.DataFrame:
    """One row per document (in input order). `root` labels each document's cluster."""
    frame = (
        _frame(ids, chars, exact_keys)
        .with_columns(root=root)
        .sort(KEEP_BY, descending=KEEP_DESCENDING)
        .with_columns(
            kept_row=pl.col("row").first().over("root"),
            cluster_id=pl.col("id").first().over("root"),
            cluster_size=pl.len().over("root").cast(pl.Int64),
            exact_size=pl.len().over("k0", "k1"),
            same_as_kept=(pl.col("k0") == pl.col("k0").first().over("root"))
            & (pl.col("k1") == pl.col("k1").first().over("root")),
        )
        .sort("row")
    )
    return frame.with_columns(
        kept=pl.col("row") == pl.col("kept_row"),
        kind=pl.when(pl.col("cluster_size") == 1)
        .then(pl.lit("unique"))
        .when(pl.col("exact_size") >= 2)
        .then(pl.lit("exact"))
        .otherwise(pl.lit("near")),
    ).drop("exact_size", "k0", "k1", "root")


def keep_rank(ids: pa.Array, chars: np.ndarray) -> np.ndarray:
    """Each document's place in the keep order (0: the one any cluster would keep first)."""
    frame = pl.DataFrame(
        {"row": np.arange(len(chars), dtype=np.int64), "id": pl.from_arrow(ids) if len(ids) else [], "chars": chars}
    )
    order = frame.sort(KEEP_BY, descending=KEEP_DESCENDING)["row"].to_numpy()
    rank = np.empty(len(chars), dtype=np.int64)
    rank[order] = np.arange(len(chars), dtype=np.int64)
    return rank
