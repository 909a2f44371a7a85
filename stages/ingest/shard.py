"""One shard = one input file (a WARC/WET/ARC file, or a documents file) -> one documents part
and one rejects part.

`process_shard` is what the executor ships to a worker (a local process or a Dask worker), so the
task and the result are small picklable values: paths and params in, counters out; the rows go
straight to the part files. Records are processed in batches (see document.py for why).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from crisol.formats.row_writer import RowWriter
from crisol.formats.schemas import DOCUMENTS, REJECTS
from stages.ingest.document import process_batch
from stages.ingest.params import IngestParams
from stages.ingest.records import RawRecord, read_records
from stages.ingest.sources import Source, open_source
from stages.ingest.texts import read_documents

log = logging.getLogger("crisol.ingest")
LOG_EVERY_S = 30.0  # a Common Crawl file takes minutes: say how far it got now and then
# Records per batch: enough to keep each step's code and tables warm across many pages; the
# payload cap bounds memory when pages are large (each is at most max_record_bytes).
BATCH_RECORDS = 64
BATCH_BYTES = 32 << 20


@dataclass(frozen=True)
class ShardTask:
    index: int
    source: Source
    documents_part: str  # absolute paths inside the stage's temporary output directories
    rejects_part: str
    params: IngestParams
    provenance: dict[str, Any] = field(default_factory=dict)  # the params that made the parts


@dataclass
class ShardResult:
    index: int
    source: str
    counters: dict[str, int]
    seconds: float
    kind: str = "crawl"  # the input's kind (sources.Source.kind): metrics count each kind apart


def _batches(records: Iterable[RawRecord]) -> Iterator[list[RawRecord]]:
    batch: list[RawRecord] = []
    size = 0
    for raw in records:
        batch.append(raw)
        size += len(raw.payload)
        if len(batch) >= BATCH_RECORDS or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _records(stream, source: Source, counters: Counter, max_record_bytes: int) -> Iterator[RawRecord]:
    if source.kind == "text":
        return read_documents(stream, source, counters, max_record_bytes)
    return read_records(stream, counters, max_record_bytes, arc=source.is_arc)


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
        for batch in _batches(_records(stream, task.source, counters, params.max_record_bytes) if stream else ()):
            for document, reject in process_batch(batch, task.source.name, params, counters):
                if document is not None:
                    documents.write(document)
                else:
                    rejects.write(reject)
            if time.monotonic() - last_log >= LOG_EVERY_S:
                last_log = time.monotonic()
                log.info(
                    "%s: %d records/rows, %d kept so far",
                    task.source.name,
                    counters["records"] + counters["text_rows"],
                    counters["kept"],
                )
    seconds = time.perf_counter() - start
    log.info(
        "%s: %d records/rows, %d kept in %.2f s",
        task.source.name,
        counters["records"] + counters["text_rows"],
        counters["kept"],
        seconds,
    )
    return ShardResult(task.index, task.source.name, dict(counters), seconds, task.source.kind)
