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
from contextlib import ExitStack, contextmanager
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


class ShardPool:
    """One executor kept open across several sharded passes of a stage.

    A stage with several passes (dedup: sketch every shard, decide globally, then write every
    shard) would otherwise pay its worker processes' start-up (~0.5 s here) once per pass.

        with ShardPool(ctx.executor) as pool:
            first = pool.map(step_one, shards, "step one")
            second = pool.map(step_two, shards, "step two")
    """

    def __init__(self, params: ExecutorParams):
        self.params = params
        self._stack = ExitStack()
        self._executor: Executor | None = None

    def __enter__(self) -> "ShardPool":
        return self

    def __exit__(self, *exc) -> bool:
        return self._stack.__exit__(*exc)

    def map(self, fn: Callable[[A], R], shards: Sequence[A], desc: str = "shards") -> list[R]:
        """Apply `fn` to every shard; results in shard order. The executor starts on first use."""
        if not shards:
            return []
        if self._executor is None:
            self._executor = self._stack.enter_context(open_executor(self.params))
        futures = {self._executor.submit(fn, shard): i for i, shard in enumerate(shards)}
        results: list = [None] * len(shards)
        for future in progress(as_completed(futures), desc, total=len(shards), unit="shards", log=log):
            results[futures[future]] = future.result()
        return results


def map_shards(fn: Callable[[A], R], shards: Sequence[A], params: ExecutorParams,
               desc: str = "shards") -> list[R]:
    """Apply `fn` to every shard on the configured executor (one pass); results in shard order."""
    with ShardPool(params) as pool:
        return pool.map(fn, shards, desc)
