"""Which main-text extractor, and how configured: speed and token F1 on pages with known text.

    .venv/bin/python benchmarks/bench_extractors.py [--pages 300] [--repeats 3]

Every extractor sees the same boilerplate-heavy pages (benchmarks/synthetic_pages.py); F1 is
over lower-cased word tokens (bags, so order does not matter) of the extracted text against the
page's known main text; precision shows how much boilerplate slipped in, recall how much of the
article was lost. Speed is the best of `--repeats` passes (the machine is shared), one process,
no IO. The baseline for the ratios is the configuration crisol ships (stages.ingest.extract).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_pages import make_pages  # noqa: E402

_TOKEN = re.compile(r"\w+")


def token_prf(predicted: str, reference: str) -> tuple[float, float, float]:
    pred, ref = Counter(_TOKEN.findall(predicted.lower())), Counter(_TOKEN.findall(reference.lower()))
    overlap = sum((pred & ref).values())
    p = overlap / sum(pred.values()) if pred else 0.0
    r = overlap / sum(ref.values()) if ref else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def extractors() -> dict[str, Callable[[str], str]]:
    import trafilatura
    from resiliparse.extract.html2text import extract_plain_text

    from stages.ingest.extract import CONFIG, extract_html

    def crisol(html: str) -> str:
        page = extract_html(html)
        return page.text if page else ""

    def trafilatura_with(**kwargs) -> Callable[[str], str]:
        return lambda html: trafilatura.extract(html, config=CONFIG, include_comments=False, **kwargs) or ""

    return {
        "trafilatura crisol (precision, fast, tables*)": crisol,
        "trafilatura precision, fast, no tables": trafilatura_with(
            favor_precision=True, fast=True, include_tables=False
        ),
        "trafilatura default (balanced, fallbacks)": trafilatura_with(),
        "trafilatura recall, fast": trafilatura_with(favor_recall=True, fast=True),
        "resiliparse main_content": lambda html: extract_plain_text(html, main_content=True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    pages = make_pages(args.pages, seed=args.seed)
    mean_kb = sum(len(p.html) for p in pages) / len(pages) / 1024
    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"pages: {len(pages)} (mean {mean_kb:.1f} KiB of HTML, 4 layouts), best of {args.repeats} passes\n")

    rows = []
    for name, fn in extractors().items():
        outputs = [fn(p.html) for p in pages]  # warm-up pass, also the one scored
        best = 0.0
        for _ in range(args.repeats):
            start = time.perf_counter()
            for p in pages:
                fn(p.html)
            best = max(best, len(pages) / (time.perf_counter() - start))
        scores = [token_prf(out, p.main_text) for out, p in zip(outputs, pages)]
        by_layout = [
            sum(s[2] for s, i in zip(scores, range(len(pages))) if i % 4 == k) / max(1, len(range(k, len(pages), 4)))
            for k in range(4)
        ]
        mean = [sum(s[j] for s in scores) / len(scores) for j in range(3)]
        empty = sum(1 for out in outputs if not out.strip())
        rows.append((name, best, *mean, by_layout, empty))

    base_speed = rows[0][1]
    print(
        f"{'extractor':46} {'pages/s':>8} {'x crisol':>8} {'P':>6} {'R':>6} {'F1':>6}"
        f"   F1 by layout (semantic/divs/table/docs)  empty"
    )
    for name, speed, p, r, f1, by_layout, empty in rows:
        layouts = " ".join(f"{v:.3f}" for v in by_layout)
        print(f"{name:46} {speed:8.1f} {speed / base_speed:8.2f} {p:6.3f} {r:6.3f} {f1:6.3f}   {layouts:39}  {empty}")
    print("\n* crisol also turns layout tables (cells holding paragraphs, headings, lists) into plain blocks")


if __name__ == "__main__":
    main()
