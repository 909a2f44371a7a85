"""Turn the shards' flat counters into the stage's metrics.json (summed, then grouped).

Counter names are `group.key` (`dropped.lang:de`, `errors.truncated_gzip`, `languages.en`) or
plain totals (`records`, `kept`); groups become nested maps, so DVC shows one line per reason.
`by_kind` splits the funnel by input kind (crawl: WARC/WET/ARC records; text: documents files'
rows), and `inputs_metrics` says which files were given and which were passed over, and why.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any, Sequence

from crisol.core.source import DataSource
from stages.ingest.shard import ShardResult
from stages.ingest.sources import Source

GROUPS = ("records_by_type", "skipped", "dropped", "errors", "languages", "pii_masked")
REASON_GROUPS = ("skipped", "dropped", "errors")  # each also gets a `<group>_total`
TOTALS = (
    "files",
    "records",
    "bytes_read",
    "html_pages",
    "wet_records",
    "extracted",
    "kept",
    "quality_lines_dropped",
    "text_rows",
    "text_documents",
)
MAX_SHARD_ROWS = 1000  # per-shard timings beyond this (a Common Crawl listing) only as a summary
KINDS = ("crawl", "text")  # sources.Source.kind


def _group(totals: Counter, group: str) -> dict[str, int]:
    prefix = group + "."
    return {k[len(prefix) :]: v for k, v in sorted(totals.items()) if k.startswith(prefix)}


def _reasons(totals: Counter) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for group in REASON_GROUPS:
        out[group] = _group(totals, group)
        out[f"{group}_total"] = sum(out[group].values())
    return out


def _by_kind(results: Sequence[ShardResult], kind: str) -> dict[str, Any]:
    """One kind's funnel: files, what was read from them (WARC records or rows), the documents
    that went through language ID and quality, kept, and every reason the rest did not."""
    totals: Counter = Counter()
    for result in results:
        if result.kind == kind:
            totals.update(result.counters)
    if kind == "crawl":
        read = {"records": totals["records"], "documents": totals["html_pages"] + totals["wet_records"]}
    else:
        read = {"rows": totals["text_rows"], "documents": totals["text_documents"]}
    return {"files": sum(r.kind == kind for r in results), **read, "kept": totals["kept"], **_reasons(totals)}


def summarise(results: Sequence[ShardResult], seconds: float) -> dict[str, Any]:
    totals: Counter = Counter()
    for result in results:
        totals.update(result.counters)
    metrics: dict[str, Any] = {name: totals.get(name, 0) for name in TOTALS}
    for group in GROUPS:
        metrics[group] = _group(totals, group)
    metrics.update(_reasons(totals))
    unknown = sorted(k for k in totals if k not in TOTALS and k.split(".", 1)[0] not in GROUPS)
    if unknown:  # a counter nobody groups would vanish from the report: keep it visible
        metrics["other"] = {k: totals[k] for k in unknown}
    metrics["by_kind"] = {kind: _by_kind(results, kind) for kind in KINDS}
    pages = metrics["html_pages"] + metrics["wet_records"] + metrics["text_documents"]
    metrics["shards_seconds"] = round(seconds, 3)
    metrics["pages_per_s"] = round(pages / seconds, 2) if seconds > 0 else None
    metrics["mb_per_s"] = round(metrics["bytes_read"] / 1e6 / seconds, 3) if seconds > 0 else None
    timings = [r.seconds for r in results]
    metrics["shard_timings"] = {
        "count": len(timings),
        "min_s": round(min(timings), 3) if timings else None,
        "median_s": round(statistics.median(timings), 3) if timings else None,
        "max_s": round(max(timings), 3) if timings else None,
    }
    metrics["shards"] = [
        {
            "index": r.index,
            "source": r.source,
            "seconds": round(r.seconds, 3),
            "records": r.counters.get("records", 0),
            "kept": r.counters.get("kept", 0),
        }
        for r in results[:MAX_SHARD_ROWS]
    ]
    return metrics


def inputs_metrics(sources: Sequence[Source], skipped_files: Counter, data: DataSource) -> dict[str, Any]:
    """`inputs` (files of each kind), `skipped_files` (by reason) and `parts`: which kinds of input
    this run read. Ingest reads no ground truth of the synthetic world, so no part waits on it."""
    files = {kind: sum(s.kind == kind for s in sources) for kind in KINDS}
    where = {kind: (f"{data.root / kind}/" if data.is_own else "ingest.inputs") for kind in KINDS}
    parts = {
        kind: {"ran": n > 0, "n": n, **({} if n else {"why": f"no {kind} input files in {where[kind]}"})}
        for kind, n in files.items()
    }
    return {
        "inputs": {f"{kind}_files": n for kind, n in files.items()},
        "skipped_files": dict(sorted(skipped_files.items())),
        "parts": parts,
    }
