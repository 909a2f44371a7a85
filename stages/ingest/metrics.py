"""Turn the shards' flat counters into the stage's metrics.json (summed, then grouped).

Counter names are `group.key` (`dropped.lang:de`, `errors.truncated_gzip`, `languages.en`) or
plain totals (`records`, `kept`); groups become nested maps, so DVC shows one line per reason.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any, Sequence

from stages.ingest.shard import ShardResult

GROUPS = ("records_by_type", "skipped", "dropped", "errors", "languages", "pii_masked")
TOTALS = ("files", "records", "bytes_read", "html_pages", "wet_records", "extracted", "kept",
          "quality_lines_dropped")
MAX_SHARD_ROWS = 1000  # per-shard timings beyond this (a Common Crawl listing) only as a summary


def summarise(results: Sequence[ShardResult], seconds: float) -> dict[str, Any]:
    totals: Counter = Counter()
    for result in results:
        totals.update(result.counters)
    metrics: dict[str, Any] = {name: totals.get(name, 0) for name in TOTALS}
    for group in GROUPS:
        prefix = group + "."
        metrics[group] = {k[len(prefix):]: v for k, v in sorted(totals.items()) if k.startswith(prefix)}
        if group in ("skipped", "dropped", "errors"):
            metrics[f"{group}_total"] = sum(metrics[group].values())
    unknown = sorted(k for k in totals if k not in TOTALS and k.split(".", 1)[0] not in GROUPS)
    if unknown:  # a counter nobody groups would vanish from the report: keep it visible
        metrics["other"] = {k: totals[k] for k in unknown}
    pages = metrics["html_pages"] + metrics["wet_records"]
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
        {"index": r.index, "source": r.source, "seconds": round(r.seconds, 3),
         "records": r.counters.get("records", 0), "kept": r.counters.get("kept", 0)}
        for r in results[:MAX_SHARD_ROWS]
    ]
    return metrics
