"""Exact and MinHash near-duplicate removal: documents in, deduplicated documents and clusters out."""

import os

# One polars thread per process, set before polars is first imported in a worker: the stage
# parallelises with processes over shards, and each worker's own polars pool would oversubscribe
# the cores (measured on 2 cores: 2 workers x 2 polars threads took twice as long per shard, while
# 1 thread cost a single in-process worker nothing). `setdefault`: an explicit setting wins.
os.environ.setdefault("POLARS_MAX_THREADS", "1")
