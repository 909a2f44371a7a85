"""Markdown cells and tables of the report card: figures with the digits that mean something, a
figure with its standard error, a table from rows."""

from __future__ import annotations

import math
from typing import Any, Sequence


def fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3g}"
        if abs(value) >= 1e3:  # throughputs and counts: decimals there are noise
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return str(value)


def with_error(value: Any, stderr: Any) -> str:
    if stderr is None or (isinstance(stderr, float) and math.isnan(stderr)):
        return fmt(value)
    return f"{fmt(value)} ± {fmt(stderr)}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(c if isinstance(c, str) else fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
