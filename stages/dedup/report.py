"""Metrics and the sample file: what was removed and why, and how the LSH was tuned."""

from __future__ import annotations

from typing import Any

import polars as pl

from stages.dedup.bands import probability_curve

MAX_SAMPLE_MEMBERS = 8


def size_histogram(sizes: pl.Series) -> dict[str, int]:
    """Clusters per size; sizes above 8 are bucketed by powers of two ("9-16", "17-32", ...)."""
    histogram: dict[str, int] = {}
    for size, count in sizes.value_counts().sort(sizes.name).iter_rows():
        if size <= 8:
            label = str(size)
        else:
            lo = 8
            while lo * 2 < size:
                lo *= 2
            label = f"{lo + 1}-{lo * 2}"
        histogram[label] = histogram.get(label, 0) + count
    return histogram


def summarise(table: pl.DataFrame, lsh: dict[str, Any], counters: dict[str, Any]) -> dict[str, Any]:
    clusters = table.filter(pl.col("kept"))
    dropped = table.filter(~pl.col("kept"))
    dropped_exact = int(dropped["same_as_kept"].sum()) if len(dropped) else 0
    kinds = dict(table.group_by("kind").len().iter_rows())
    return {
        "documents_in": len(table),
        "documents_out": len(clusters),
        "dropped_total": len(dropped),
        # A dropped document is an exact duplicate when its normalised text equals the kept one's.
        "dropped": {"exact": dropped_exact, "near": len(dropped) - dropped_exact},
        "documents_by_kind": {kind: int(kinds.get(kind, 0)) for kind in ("unique", "exact", "near")},
        "clusters": {
            "total": len(clusters),
            "with_duplicates": int((clusters["cluster_size"] > 1).sum()) if len(clusters) else 0,
            "largest": int(clusters["cluster_size"].max()) if len(clusters) else 0,
            "size_histogram": size_histogram(clusters["cluster_size"]) if len(clusters) else {},
        },
        "lsh": {**lsh, "candidate_probability": probability_curve(lsh["bands"], lsh["rows"])},
        **counters,
    }


def pick_sample_clusters(table: pl.DataFrame, count: int) -> list[str]:
    """Cluster ids to show: the largest clusters with a near member, then the largest exact-only
    ones, alternating, so a reader sees both kinds (ties by cluster id, for determinism)."""
    if count == 0:
        return []
    multi = (
        table.filter(pl.col("cluster_size") > 1)
        .group_by("cluster_id")
        .agg(size=pl.len(), near=(pl.col("kind") == "near").any())
        .sort(["size", "cluster_id"], descending=[True, False])
    )
    near = multi.filter(pl.col("near"))["cluster_id"].to_list()
    exact = multi.filter(~pl.col("near"))["cluster_id"].to_list()
    picked: list[str] = []
    while len(picked) < count and (near or exact):
        for pool in (near, exact):
            if pool and len(picked) < count:
                picked.append(pool.pop(0))
    return picked


def sample_members(table: pl.DataFrame, cluster_ids: list[str]) -> pl.DataFrame:
    """The rows shown for the picked clusters: the kept document first, at most a few per cluster."""
    return (
        table.filter(pl.col("cluster_id").is_in(cluster_ids))
        .sort(["cluster_id", "kept", "id"], descending=[False, True, False])
        .group_by("cluster_id", maintain_order=True)
        .head(MAX_SAMPLE_MEMBERS)
    )


def samples_document(members: pl.DataFrame, cluster_ids: list[str], fields: dict[int, dict]) -> dict:
    clusters = []
    for cluster_id in cluster_ids:
        rows = members.filter(pl.col("cluster_id") == cluster_id)
        clusters.append(
            {
                "cluster_id": cluster_id,
                "size": int(rows["cluster_size"][0]),
                "members": [
                    {
                        "id": r["id"],
                        "kept": r["kept"],
                        "kind": r["kind"],
                        "jaccard_to_kept": None if r["jaccard_to_kept"] is None else round(r["jaccard_to_kept"], 3),
                        **fields.get(r["row"], {}),
                    }
                    for r in rows.iter_rows(named=True)
                ],
            }
        )
    return {"clusters": clusters}
