"""JSON with no NaN in it: an undefined figure (a mean of nothing, the stderr of one item) is null.

Python's json writes NaN and Infinity by default, which strict parsers (JavaScript, jq, DVC's
metrics diff in places) reject. Everything the evaluate stage writes as plain JSON goes through
`json_safe` first and is then dumped with allow_nan=False, so a NaN that slipped through is an
error here, not a broken file downstream. (The lm-eval-shaped results keep lm-eval's own
convention, "N/A", see results.py.)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from crisol.core.atomic import atomic_file


def json_safe(value: Any, digits: int | None = None) -> Any:
    """`value` with every NaN or infinite float as None (recursively), floats rounded to `digits`
    when given; tuples become lists."""
    if isinstance(value, dict):
        return {k: json_safe(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, digits) for v in value]
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return value if digits is None else round(value, digits)
    return value


def dumps_strict(payload: Any) -> str:
    """Strict JSON (sorted keys, as crisol.core.atomic.write_json writes it)."""
    return json.dumps(json_safe(payload), indent=2, sort_keys=True, default=str, allow_nan=False)


def write_strict_json(target: Path | str, payload: Any) -> None:
    with atomic_file(target) as tmp:
        tmp.write_text(dumps_strict(payload) + "\n")
