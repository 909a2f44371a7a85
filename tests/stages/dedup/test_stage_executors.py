"""The same clusters and documents whatever runs the shards: in-process, local processes, Dask."""

from __future__ import annotations

import random

import pytest

from kit.dedup import dedup
from kit.documents import document


def _corpus() -> list[dict]:
    rng = random.Random(4)
    docs = []
    for i in range(90):
        base = [f"w{rng.randrange(3000)}" for _ in range(120)]
        docs.append(document(f"d{i:03d}", " ".join(base)))
        if i % 4 == 0:
            near = [w if rng.random() > 0.03 else "edited" for w in base]
            docs.append(document(f"n{i:03d}", " ".join(near)))
        if i % 9 == 0:
            docs.append(document(f"x{i:03d}", " ".join(base).upper()))
    return docs


def test_inline_processes_and_dask_give_identical_clusters_and_documents(tmp_path, dask_cluster):
    docs = _corpus()
    runs = {
        name: dedup(tmp_path / name, docs, files=2, row_group=20, docs_per_shard=40, **executor)
        for name, executor in {
            "inline": {"workers": 1},
            "processes": {"workers": 2},
            "dask": {"workers": 1, "dask_address": dask_cluster.scheduler_address},
        }.items()
    }
    inline = runs["inline"]
    assert inline["metrics"]["shards"] >= 4
    # The kept documents in id order, in parts of docs_per_shard (stages/dedup/canonical.py).
    assert len(inline["parts"]) == -(-inline["metrics"]["documents_out"] // 40) >= 2
    assert inline["metrics"]["dropped_total"] == 10 + 23  # the upper-case copies and the edited ones
    for name in ("processes", "dask"):
        for key in ("documents", "parts", "clusters", "samples"):
            assert runs[name][key] == inline[key], (name, key)


def _pid_of(shard: int) -> tuple[int, int]:
    import os
    import time

    time.sleep(0.05)  # long enough for the spawned process to take some shards
    if shard == 13:
        raise ValueError("shard 13 is bad")
    return shard, os.getpid()


def test_local_processes_share_the_shards_with_the_caller():
    """workers=2 (what the dedup stage's passes run on): the caller runs shards itself beside one
    spawned process, results come back in shard order, and one shard starts no process at all."""
    import os

    from crisol.core.executor import ShardPool
    from crisol.core.params import ExecutorParams

    with ShardPool(ExecutorParams(workers=2)) as pool:
        assert pool.map(_pid_of, [5]) == [(5, os.getpid())]
        assert pool._executor._processes == {}  # nothing was spawned
        results = pool.map(_pid_of, list(range(12)), "test")
        assert [shard for shard, _ in results] == list(range(12))
        pids = {pid for _, pid in results}
        assert os.getpid() in pids and len(pids) == 2
        with pytest.raises(ValueError, match="shard 13 is bad"):
            pool.map(_pid_of, list(range(10, 20)))
