"""Run sharded work on a concurrent.futures executor chosen by params.

- workers == 1 and no Dask address: in this process (no pickling, easiest to debug);
- workers > 1: this process and workers - 1 local processes (spawn: safe with threads and torch)
  take shards from one queue (see ShardPool);
- dask_address set: the Dask cluster's own concurrent.futures executor (its workers must see
  the same filesystem paths, e.g. a shared volume, as the shards name files).
Results come back in shard order whatever the completion order, so output is deterministic.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, as_completed, wait
from contextlib import ExitStack, contextmanager
from typing import Callable, Iterator, Sequence, TypeVar

from crisol.core.params import ExecutorParams
from crisol.core.progress import progress

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
        with local_processes(params.workers) as pool:
            yield pool


@contextmanager
def local_processes(count: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of `count` spawned processes (started lazily, on the first submissions)."""
    with ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


class ShardPool:
    """One executor kept open across several sharded passes of a stage.

    A stage with several passes (dedup: sketch every shard, decide globally, then write every
    shard) would otherwise pay its worker processes' start-up (~0.5 s here) once per pass.

        with ShardPool(ctx.executor) as pool:
            first = pool.map(step_one, shards, "step one")
            second = pool.map(step_two, shards, "step two")

    With local processes, the calling process is one of the `workers`: it would otherwise sit
    idle waiting for results, and a spawned process spends its first ~0.5-1 s importing numpy,
    polars and pyarrow. So the caller runs shards itself from the same queue as the workers-1
    spawned processes (a helper thread feeds those one shard each at a time): the caller starts
    at once, a process joins when it is ready, a single shard never starts a process at all, and
    the last shard ends at most one shard's time after the others.
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
        shared = self.params.workers > 1 and not self.params.dask_address
        if self._executor is None:
            self._executor = self._stack.enter_context(
                local_processes(self.params.workers - 1) if shared else open_executor(self.params)
            )
        if shared:
            return _SharedMap(fn, shards, self._executor, self.params.workers - 1).run(desc)
        futures = {self._executor.submit(fn, shard): i for i, shard in enumerate(shards)}
        results: list = [None] * len(shards)
        for future in progress(as_completed(futures), desc, total=len(shards), unit="shards", log=log):
            results[futures[future]] = future.result()
        return results


class _SharedMap:
    """One pass of ShardPool.map over local processes, the caller taking part (see ShardPool)."""

    def __init__(self, fn: Callable, shards: Sequence, pool: Executor, processes: int):
        self.fn, self.pool, self.processes = fn, pool, processes
        self.pending = deque(enumerate(shards))
        self.results: list = [None] * len(shards)
        self.lock = threading.Lock()
        self.finished: queue.SimpleQueue = queue.SimpleQueue()  # shard indices, for progress
        self.failure: BaseException | None = None

    def _take(self) -> tuple[int, object] | None:
        with self.lock:
            return self.pending.popleft() if self.pending else None

    def _stop(self) -> None:
        with self.lock:
            self.pending.clear()

    def _feed(self) -> None:
        """Helper thread: keep each spawned process busy with one shard until none is left."""
        running: dict[Future, int] = {}
        try:
            while True:
                while len(running) < self.processes and (item := self._take()) is not None:
                    running[self.pool.submit(self.fn, item[1])] = item[0]
                if not running:
                    return
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    index = running.pop(future)
                    self.results[index] = future.result()
                    self.finished.put(index)
        except BaseException as exc:  # handed to the caller, which re-raises it
            self.failure = exc
            self._stop()
            wait(running)
        finally:
            self.finished.put(None)

    def _completions(self) -> Iterator[int]:
        # The caller's first shard is taken before the helper starts: one shard, no process.
        item = self._take()
        feeder = threading.Thread(target=self._feed, name="shard-feeder", daemon=True)
        feeder.start()
        try:
            while item is not None:
                self.results[item[0]] = self.fn(item[1])
                yield item[0]
                yield from self._drain(block=False)
                item = self._take()
            yield from self._drain(block=True)
        finally:
            self._stop()
            feeder.join()
        if self.failure is not None:
            raise self.failure

    def _drain(self, block: bool) -> Iterator[int]:
        """Shards the processes have finished (until the helper is done, when `block`)."""
        while True:
            try:
                index = self.finished.get(block=block)
            except queue.Empty:
                return
            if index is None:  # the helper is done
                if not block:
                    self.finished.put(None)  # keep the mark for the final, blocking drain
                return
            yield index

    def run(self, desc: str) -> list:
        for _ in progress(self._completions(), desc, total=len(self.results), unit="shards", log=log):
            pass
        return self.results


def map_shards(fn: Callable[[A], R], shards: Sequence[A], params: ExecutorParams, desc: str = "shards") -> list[R]:
    """Apply `fn` to every shard on the configured executor (one pass); results in shard order."""
    with ShardPool(params) as pool:
        return pool.map(fn, shards, desc)
