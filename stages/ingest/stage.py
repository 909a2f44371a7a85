"""The ingest stage: WARC/WET/ARC files and documents files -> documents (kept) and rejects (with
reasons), as Parquet parts. The inputs are `ingest.inputs`, or with source own, the files of
own.root/crawl and own.root/text."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from crisol.core.atomic import atomic_dir
from crisol.core.cli import StageContext
from crisol.core.errors import StageInputError
from crisol.core.executor import map_shards
from crisol.formats.artifacts import part_name
from stages.ingest.metrics import inputs_metrics, summarise
from stages.ingest.shard import ShardTask, process_shard
from stages.ingest.sources import Source, expand_inputs, is_remote, own_sources


def _sources(ctx: StageContext, skipped_files: Counter) -> list[Source]:
    """The input files: `ingest.inputs`; with source own, own.root's crawl/ and text/ plus the
    remote entries of `ingest.inputs` (URLs, s3://, Common Crawl listings), never its local
    paths, which name the synthetic crawl by default: nothing falls back to it."""
    params = ctx.params
    if ctx.source.is_own:
        remote = [name for name in params.inputs if is_remote(name)]
        if not remote:
            return own_sources(ctx.source, params.max_files, skipped_files)
        local = (
            own_sources(ctx.source, None, skipped_files)
            if ctx.source.files("crawl") or ctx.source.files("text")
            else []
        )
        found = local + expand_inputs(remote, params.cc_base_url, params.sources_timeout_s, None, skipped_files)
        return found[: params.max_files] if params.max_files is not None else found
    return expand_inputs(params.inputs, params.cc_base_url, params.sources_timeout_s, params.max_files, skipped_files)


def _nothing_read(metrics: dict, sources: list[Source]) -> str:
    """The one-line error for a run in which no input file held anything to ingest."""
    kinds = {source.kind for source in sources}
    what = {"crawl": "WARC records", "text": "documents"}
    message = (
        f"no {' or '.join(what[k] for k in sorted(kinds))} could be read from {len(sources)} input file(s); "
        f"errors: {metrics['errors'] or 'none'}"
    )
    text_skips = metrics["by_kind"]["text"]["skipped"]
    return message + (f"; rows skipped: {text_skips}" if text_skips else "")


def run(ctx: StageContext) -> None:
    """Read WARC/WET/ARC and documents files, extract, filter by language and quality, mask PII; write Parquet."""
    params = ctx.params
    skipped_files: Counter = Counter()
    sources = _sources(ctx, skipped_files)
    ctx.log.info(
        "ingest: %d input files (%s)",
        len(sources),
        ", ".join(str(p) for p in (params.inputs if not ctx.source.is_own else [ctx.source.root])),
    )
    # Both directories appear only when every shard has succeeded; a failure leaves neither.
    with atomic_dir(params.documents) as documents, atomic_dir(params.rejects) as rejects:
        tasks = [
            ShardTask(
                index=i,
                source=source,
                documents_part=str(Path(documents).resolve() / part_name(i)),
                rejects_part=str(Path(rejects).resolve() / part_name(i)),
                params=params,
                provenance=ctx.params_dict(),
            )
            for i, source in enumerate(sources)
        ]
        start = time.perf_counter()
        results = map_shards(process_shard, tasks, ctx.executor, desc="ingest files")
        seconds = time.perf_counter() - start
        metrics = summarise(results, seconds)
        if metrics["records"] == 0 and metrics["text_documents"] == 0:
            # Every file was unreadable: an empty corpus must stop the pipeline here, not later.
            raise StageInputError(_nothing_read(metrics, sources))
    ctx.metrics.update(metrics)
    ctx.metrics.update(inputs_metrics(sources, skipped_files, ctx.source))
    ctx.log.info(
        "ingest: %d files, %d records, %d rows, %d documents, %d kept, %d dropped, %d errors (%.1f documents/s) -> %s",
        metrics["files"],
        metrics["records"],
        metrics["text_rows"],
        metrics["html_pages"] + metrics["wet_records"] + metrics["text_documents"],
        metrics["kept"],
        metrics["dropped_total"],
        metrics["errors_total"],
        metrics["pages_per_s"] or 0.0,
        params.documents,
    )
