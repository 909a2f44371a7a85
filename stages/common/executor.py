"""Run sharded work on a concurrent.futures executor chosen by params.

- workers == 1 and no Dask address: in this process (no pickling, easiest to debug);
- workers > 1: local processes (spawn: safe with threads and torch);
- dask_address set: the Dask cluster's own concurrent.futures executor (its workers must see
  the same filesystem paths, e.g. a shared volume, as the shards name files).
Results come back in shard order whatever the completion order, so output is deterministic.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence, TypeVar

from stages.common.params import ExecutorParams
from stages.common.progress import progress

A = TypeVar("A")
R = TypeVar("R")
log = logging.getLogger("crisol.executor")


class InlineExecutor(Executor):
    """A concurrent.futures executor that runs each call at once in the caller."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # delivered through the future, as a pool would
            future.set_exception(exc)
        return future


@contextmanager
def open_executor(params: ExecutorParams) -> Iterator[Executor]:
    if params.dask_address:
        from distributed import Client  # imported lazily: most runs never need Dask

        with Client(params.dask_address, set_as_default=False) as client:
            log.info("executor: dask cluster at %s", params.dask_address)
            yield client.get_executor(pure=False)
    elif params.workers == 1:
        yield InlineExecutor()
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=params.workers, mp_context=ctx) as pool:
            yield pool


def map_shards(fn: Callable[[A], R], shards: Sequence[A], params: ExecutorParams,
               desc: str = "shards") -> list[R]:
    """Apply `fn` to every shard on the configured executor; results in shard order."""
    if not shards:
        return []
    with open_executor(params) as executor:
        futures = {executor.submit(fn, shard): i for i, shard in enumerate(shards)}
        results: list = [None] * len(shards)
        for future in progress(as_completed(futures), desc, total=len(shards), unit="shards", log=log):
            results[futures[future]] = future.result()
    return results
