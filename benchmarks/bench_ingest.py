"""Ingest throughput: the full path against the bare extractor, and 1 -> 2 worker processes.

    .venv/bin/python benchmarks/bench_ingest.py [--pages 2000] [--shards 4] [--warc DIR]

Measured in one run, on the same pages:
1. bare extractor: trafilatura as crisol configures it (stages.ingest.extract), one process,
   pages already in memory: the floor cost of ingest, its baseline;
2. full ingest path, one process: read the WARC shards, extract, identify the language, assess
   quality, mask PII, write the Parquet parts (`stages.ingest.shard.process_shard` over every
   shard via `map_shards` with workers=1); the ratio full/bare is the overhead of everything
   that is not extraction (target >= 0.8);
3. the same with workers=2 (spawned processes, pool start-up included): the speed-up.
The machine may be shared, so (1), (2) and (3) are measured in alternation, round after round
(the order reversed every other round), and each figure is the best of `--repeats` rounds:
background load then weighs on all three alike instead of on whichever ran when it peaked.
The load average is printed with the results. The ratio is also given in CPU time (process
time of the one-process runs), which load from other processes disturbs less.

Pages come from benchmarks/synthetic_pages.py (boilerplate-heavy, known main text) written to
`--shards` WARC files with warcio; `--warc DIR` uses the WARC files in DIR instead.
Also printed: language identification alone (pages/s and ms/page), quality assessment and PII
masking alone, so a regression can be located.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_pages import make_pages  # noqa: E402

from crisol.core.executor import map_shards  # noqa: E402
from crisol.core.params import ExecutorParams  # noqa: E402
from crisol.formats.artifacts import part_name  # noqa: E402
from stages.ingest.extract import extract_html  # noqa: E402
from stages.ingest.langid import identify  # noqa: E402
from stages.ingest.params import IngestParams  # noqa: E402
from stages.ingest.pii import PiiParams, mask_pii  # noqa: E402
from stages.ingest.quality import QualityParams, assess  # noqa: E402
from stages.ingest.shard import ShardTask, process_shard  # noqa: E402
from stages.ingest.sources import expand_inputs  # noqa: E402


def write_warcs(pages, directory: Path, shards: int) -> list[Path]:
    paths = []
    for s in range(shards):
        path = directory / f"bench-{s:03d}.warc.gz"
        with open(path, "wb") as out:
            writer = WARCWriter(out, gzip=True)
            for page in pages[s::shards]:
                http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
                record = writer.create_warc_record(
                    page.url, "response", payload=io.BytesIO(page.html.encode()), http_headers=http
                )
                writer.write_record(record)
        paths.append(path)
    return paths


def read_html(paths: list[Path]) -> list[bytes]:
    """The HTML payloads of the response records in `paths` (for --warc)."""
    payloads = []
    for path in paths:
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                ctype = record.http_headers.get_header("Content-Type", "") if record.http_headers else ""
                if record.rec_type == "response" and "html" in ctype:
                    payloads.append(record.content_stream().read())
    return payloads


def full_path(warc_paths: list[Path], out: Path, workers: int) -> tuple[float, dict[str, int]]:
    """The whole ingest of `warc_paths` on `workers` processes: (seconds, summed counters).

    One call, so the benchmark follows the stage: it builds the same ShardTasks stage.run does."""
    params = IngestParams(
        inputs=[str(p) for p in warc_paths],
        documents=out / "documents",
        rejects=out / "rejects",
        metrics=out / "metrics.json",
    )
    sources = expand_inputs(params.inputs, params.cc_base_url, params.sources_timeout_s, params.max_files)
    for d in (params.documents, params.rejects):
        d.mkdir(parents=True, exist_ok=True)
    tasks = [
        ShardTask(
            index=i,
            source=src,
            documents_part=str(params.documents / part_name(i)),
            rejects_part=str(params.rejects / part_name(i)),
            params=params,
        )
        for i, src in enumerate(sources)
    ]
    start = time.perf_counter()
    results = map_shards(process_shard, tasks, ExecutorParams(workers=workers), desc="bench shards")
    seconds = time.perf_counter() - start
    counters: dict[str, int] = {}
    for result in results:
        for key, value in result.counters.items():
            counters[key] = counters.get(key, 0) + value
    return seconds, counters


def rate(fn, items, repeats: int) -> float:
    """Items per second, best of `repeats` passes (the machine may be shared)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - start)
    return len(items) / best


def interleaved(payloads: list[bytes], warcs: list[Path], tmp_path: Path, repeats: int) -> dict:
    """Best (wall, CPU) seconds of the bare extractor ("bare") and of the full path on 1 and 2
    workers ("full_1", "full_2"), measured round by round in alternation; and "counters", those
    of a one-process run. CPU time is this process's own, so it means nothing for "full_2"."""
    best: dict = {name: (float("inf"), float("inf")) for name in ("bare", "full_1", "full_2")}
    for r in range(repeats):
        names = ["bare", "full_1", "full_2"]
        for name in names if r % 2 == 0 else names[::-1]:
            cpu = time.process_time()
            if name == "bare":
                wall = time.perf_counter()
                for payload in payloads:
                    extract_html(payload)
                wall = time.perf_counter() - wall
            else:
                wall, counters = full_path(warcs, tmp_path / f"{name}-{r}", workers=int(name[-1]))
                if name == "full_1":
                    best["counters"] = counters
            cpu = time.process_time() - cpu
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
        print(
            f"    round {r + 1}: bare {best['bare'][0]:.2f} s, 1 process {best['full_1'][0]:.2f} s, "
            f"2 processes {best['full_2'][0]:.2f} s (best so far); load {_load()}",
            flush=True,
        )
    return best


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--shards", type=int, default=4, help="WARC files to split the pages into (>= 2)")
    parser.add_argument("--warc", type=Path, help="use the WARC files in this directory instead")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of measurements (the best counts)")
    args = parser.parse_args()
    if args.shards < 2:
        parser.error("--shards must be at least 2 to measure the 1 -> 2 worker speed-up")

    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; load average {_load()}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        tmp_path = Path(tmp)
        if args.warc:
            warcs = sorted(p for p in args.warc.iterdir() if p.name.endswith((".warc", ".warc.gz")))
            if len(warcs) < 2:
                parser.error(f"--warc {args.warc}: need at least 2 WARC files, found {len(warcs)}")
            payloads = read_html(warcs)
        else:
            pages = make_pages(args.pages)
            warcs = write_warcs(pages, tmp_path, args.shards)
            payloads = [p.html.encode() for p in pages]
            del pages
        size_mb = sum(p.stat().st_size for p in warcs) / 1e6
        print(f"input: {len(payloads)} HTML pages in {len(warcs)} WARC files ({size_mb:.1f} MB on disk)\n")

        # Per-step costs in memory, for locating a regression (each step warm, on its own).
        texts = [e.text for e in (extract_html(p) for p in payloads) if e is not None]
        qparams, pparams = QualityParams(), PiiParams()
        identify("warm-up: the model loads on first use")
        lang_rate = rate(identify, texts, args.repeats)
        quality_rate = rate(lambda t: assess(t, "en", qparams), texts, args.repeats)
        pii_rate = rate(lambda t: mask_pii(t, pparams), texts, args.repeats)
        del texts  # it would only burden the measurements from here on
        print(f"    language id alone:                      {lang_rate:8.1f} pages/s ({1000 / lang_rate:.2f} ms/page)")
        print(
            f"    quality assessment alone:               {quality_rate:8.1f} pages/s "
            f"({1000 / quality_rate:.2f} ms/page)"
        )
        print(f"    PII masking alone:                      {pii_rate:8.1f} pages/s ({1000 / pii_rate:.2f} ms/page)")

        print("measuring bare extractor, 1 process and 2 processes in alternation:")
        best = interleaved(payloads, warcs, tmp_path, args.repeats)
        counters = best["counters"]
        pages_read = counters.get("html_pages", 0) + counters.get("wet_records", 0)
        (bare_s, bare_cpu), (seconds_1, cpu_1), (seconds_2, _) = best["bare"], best["full_1"], best["full_2"]
        bare = len(payloads) / bare_s
        full_1 = pages_read / seconds_1
        full_2 = pages_read / seconds_2
        print(f"(1) bare extractor (trafilatura, in memory): {bare:8.1f} pages/s ({1000 / bare:.2f} ms/page)")
        print(
            f"(2) full ingest path, 1 process:            {full_1:8.1f} pages/s "
            f"({pages_read} pages, {counters.get('kept', 0)} kept, {seconds_1:.2f} s)"
        )
        print(
            f"    ratio full / bare extractor:            {full_1 / bare:8.2f}   (target >= 0.80; "
            f"in CPU time {bare_cpu / len(payloads) / (cpu_1 / pages_read):.2f})"
        )
        print(
            f"(3) full ingest path, 2 processes:          {full_2:8.1f} pages/s ({seconds_2:.2f} s, "
            f"spawned pool start-up included)"
        )
        print(f"    speed-up 1 -> 2 workers:                {seconds_1 / seconds_2:8.2f}x")
        dropped = {k: v for k, v in sorted(counters.items()) if k.startswith(("dropped.", "errors."))}
        print(f"    drops/errors in the 1-process run:      {dropped or 'none'}")
        print(f"load average (1, 5, 15 min) at the end:     {_load()}")


if __name__ == "__main__":
    main()
