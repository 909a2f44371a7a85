"""Step-indexed curves as CSV files for `dvc plots` (one file per curve, in a directory of its own:
DVC plot files cannot sit inside a cached out)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Mapping

from crisol.core.atomic import atomic_dir


def write_plot(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def write_plots(
    directory: Path, curves: Mapping[str, tuple[str, ...]], history: Mapping[str, list[dict[str, Any]]]
) -> None:
    """Replace `directory` (atomically) with <name>.csv per curve: its columns, from history[name]."""
    with atomic_dir(directory) as tmp:
        for name, columns in curves.items():
            write_plot(tmp / f"{name}.csv", columns, history[name])
