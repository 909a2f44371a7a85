"""Generation with a small model runs on one thread, so that a busy neighbour cannot stall it.

A decode step (one token per row over the KV cache) is a few hundred tiny ops, and torch splits
each over its OpenMP threads, which meet at a barrier after every op. When another process holds
one of the cores, the thread sharing it is descheduled mid-step and every barrier waits for it.
Measured on the 2-core development machine with a tiny-shaped model (d_model 128; benchmarks/
bench_contention.py --work decode, three runs, docs/results.md), tokens/s beside one busy process:

    rows   2 threads: shared/alone   1 thread: shared/(2 threads alone)   1 thread alone/(2 alone)
       1        0.15-0.17                       0.83-0.95                        0.59-1.13
      16        0.14-0.15                       0.67-0.75                        0.58-0.85
      64        0.31-0.35                       (about 0.6, one earlier run)     0.6

whatever OpenMP's wait setting (GOMP_SPINCOUNT=10000 or libgomp's default). So a narrow model
generating up to 16 rows runs on one thread: a neighbour then costs at most what its core is
worth, for at most what a second thread would have gained alone. Bigger batches (an evaluation's
32 rows, a PPO rollout's 64) and wider models (a second thread gains 1.3-1.9 x alone at d_model
384 and 768) keep the count set, and beside a busy process slow down as training does.

The choice depends only on the model's width, the batch's rows and the thread count set, never
on the machine's load: 1 and 2 threads sum some dot products in a different order, and a choice that followed the
load would give different tokens from one run to the next. torch's thread count is one setting
for the whole process, so `generate` switches it only around its own call (the stages generate
from one thread), and a server, whose batch changes with its clients, decides once at start, by its
models' widths alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch

from crisol.model.transformer import Transformer

# Widest d_model generated on one thread: the tiny and micro profiles' models (128, 64).
ONE_THREAD_MAX_WIDTH = 256
# Most rows `generate` decodes on one thread (a server's batch varies: it goes by width alone).
ONE_THREAD_MAX_ROWS = 16


def generation_threads(models: Iterable[Transformer], configured: int | None = None, rows: int | None = None) -> int:
    """Threads to generate with: 1 when every model is narrow (and `rows`, if given, are few), else
    the count set."""
    configured = configured or torch.get_num_threads()
    narrow = all(model.config.d_model <= ONE_THREAD_MAX_WIDTH for model in models)
    return 1 if narrow and (rows is None or rows <= ONE_THREAD_MAX_ROWS) else configured


@contextmanager
def threads_for_generation(model: Transformer, rows: int) -> Iterator[None]:
    """torch's thread count set for generating `rows` with `model` inside the block, restored after."""
    configured = torch.get_num_threads()
    threads = generation_threads([model], configured, rows)
    if threads == configured:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(configured)
