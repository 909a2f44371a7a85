"""The ingest stage: WARC/WET files -> documents (kept) and rejects (with reasons), as Parquet parts."""

from __future__ import annotations

import time
from pathlib import Path

from stages.common.artifacts import part_name
from stages.common.atomic import atomic_dir
from stages.common.cli import StageContext
from stages.common.errors import StageInputError
from stages.common.executor import map_shards
from stages.ingest.metrics import summarise
from stages.ingest.shard import ShardTask, process_shard
from stages.ingest.sources import expand_inputs


def run(ctx: StageContext) -> None:
    """Read WARC/WET files, extract, filter by language and quality, mask PII; write Parquet."""
    params = ctx.params
    sources = expand_inputs(params.inputs, params.cc_base_url, params.sources_timeout_s, params.max_files)
    ctx.log.info("ingest: %d input files from %d inputs", len(sources), len(params.inputs))
    # Both directories appear only when every shard has succeeded; a failure leaves neither.
    with atomic_dir(params.documents) as documents, atomic_dir(params.rejects) as rejects:
        tasks = [ShardTask(index=i, source=source,
                           documents_part=str(Path(documents).resolve() / part_name(i)),
                           rejects_part=str(Path(rejects).resolve() / part_name(i)),
                           params=params, provenance=ctx.params_dict())
                 for i, source in enumerate(sources)]
        start = time.perf_counter()
        results = map_shards(process_shard, tasks, ctx.executor, desc="ingest files")
        seconds = time.perf_counter() - start
        metrics = summarise(results, seconds)
        if metrics["records"] == 0:
            # Every file was unreadable: an empty corpus must stop the pipeline here, not later.
            raise StageInputError(f"no WARC records could be read from {len(sources)} input file(s); "
                                  f"errors: {metrics['errors'] or 'none'}")
    ctx.metrics.update(metrics)
    ctx.log.info("ingest: %d files, %d records, %d pages, %d kept, %d dropped, %d errors (%.1f pages/s) -> %s",
                 metrics["files"], metrics["records"], metrics["html_pages"] + metrics["wet_records"],
                 metrics["kept"], metrics["dropped_total"], metrics["errors_total"],
                 metrics["pages_per_s"] or 0.0, params.documents)
