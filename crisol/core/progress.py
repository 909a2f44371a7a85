"""Progress for long loops: a bar on a terminal, periodic log lines otherwise (CI, Prefect, DVC)."""

from __future__ import annotations

import logging
import sys
import time
from typing import Iterable, Iterator, TypeVar

from tqdm import tqdm

T = TypeVar("T")
LOG_EVERY_S = 10.0


def progress(
    items: Iterable[T], desc: str, total: int | None = None, unit: str = "it", log: logging.Logger | None = None
) -> Iterator[T]:
    if sys.stderr.isatty():
        yield from tqdm(items, desc=desc, total=total, unit=unit, leave=False)
        return
    log = log or logging.getLogger("crisol")
    start = last = time.monotonic()
    done = 0
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= LOG_EVERY_S:
            rate = done / (now - start)
            of = f"/{total}" if total else ""
            log.info("%s: %d%s %s (%.1f %s/s)", desc, done, of, unit, rate, unit)
            last = now
    log.info("%s: %d %s done in %.1f s", desc, done, unit, time.monotonic() - start)
