"""One shard = one input file -> one documents part and one rejects part.

`process_shard` is what the executor ships to a worker (a local process or a Dask worker), so the
task and the result are small picklable values: paths and params in, counters out; the rows go
straight to the part files.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from stages.common.row_writer import RowWriter
from stages.common.schemas import DOCUMENTS, REJECTS
from stages.ingest.document import process_record
from stages.ingest.params import IngestParams
from stages.ingest.records import read_records
from stages.ingest.sources import Source, open_source

log = logging.getLogger("crisol.ingest")
LOG_EVERY_S = 30.0  # a Common Crawl file takes minutes: say how far it got now and then


@dataclass(frozen=True)
class ShardTask:
    index: int
    source: Source
    documents_part: str   # absolute paths inside the stage's temporary output directories
    rejects_part: str
    params: IngestParams
    provenance: dict[str, Any] = field(default_factory=dict)  # the params that made the parts


@dataclass
class ShardResult:
    index: int
    source: str
    counters: dict[str, int]
    seconds: float


def part_name(index: int) -> str:
    """Named by shard index, so the output is the same whatever ran the shards, in whatever order."""
    return f"part-{index:05d}.parquet"


def process_shard(task: ShardTask) -> ShardResult:
    start = time.perf_counter()
    params = task.params
    counters: Counter = Counter(files=1)
    with ExitStack() as stack:
        documents = stack.enter_context(RowWriter(task.documents_part, DOCUMENTS, task.provenance))
        rejects = stack.enter_context(RowWriter(task.rejects_part, REJECTS, task.provenance))
        try:
            stream = stack.enter_context(open_source(task.source.location, params.sources_timeout_s))
        except Exception as exc:  # cannot open the file (404, refused, no such bucket...): count it
            counters[f"errors.open_error:{type(exc).__name__}"] += 1
            log.warning("%s: cannot open: %s: %s", task.source.name, type(exc).__name__, exc)
            stream = None
        last_log = time.monotonic()
        for raw in read_records(stream, counters, params.max_record_bytes) if stream else ():
            if time.monotonic() - last_log >= LOG_EVERY_S:
                last_log = time.monotonic()
                log.info("%s: %d records, %d kept so far", task.source.name, counters["records"], counters["kept"])
            try:
                document, reject = process_record(raw, task.source.name, params, counters)
            except Exception as exc:  # one odd page must not sink the shard; count it
                counters[f"errors.process_error:{type(exc).__name__}"] += 1
                log.warning("%s: record %s failed: %r", task.source.name, raw.record_id, exc)
                continue
            if document is not None:
                documents.write(document)
            else:
                rejects.write(reject)
    seconds = time.perf_counter() - start
    log.info("%s: %d records, %d kept in %.2f s", task.source.name, counters["records"], counters["kept"], seconds)
    return ShardResult(task.index, task.source.name, dict(counters), seconds)
