"""The evaluation gate of retraining, as pure functions: the promotion rules (`MetricRule`) and the
comparison of a candidate's metrics with production's (`compare`). No I/O: the flow reads the
metrics files and records what these decide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# The gate: the final chat model's reward (gold oracle), closed-book accuracy, hallucinations.
DEFAULT_METRICS = ("rlhf_gold_score:max", "rlhf_closed_book_exact_match:max", "rlhf_hallucination_rate:min")


@dataclass(frozen=True)
class MetricRule:
    """`name:max` (higher is better), `name:min` (lower is better), optionally `:tolerance`.

    `rlhf_gold_score:max:0.01`: the candidate is better if it beats production by more than 0.01,
    worse if it falls more than 0.01 short, and the same within 0.01 (default tolerance 0). The
    name is a top-level key of the metrics JSON, or a dotted path into it (`models.rlhf.x.y`)."""

    name: str
    goal: str
    tolerance: float = 0.0

    @classmethod
    def parse(cls, text: str) -> MetricRule:
        parts = text.strip().split(":")
        if len(parts) not in (2, 3) or not parts[0] or parts[1] not in ("max", "min"):
            raise ValueError(f"metric rule {text!r}: expected name:max or name:min, optionally :tolerance")
        try:
            tolerance = float(parts[2]) if len(parts) == 3 else 0.0
        except ValueError:
            raise ValueError(f"metric rule {text!r}: tolerance must be a number") from None
        if not math.isfinite(tolerance) or tolerance < 0:
            raise ValueError(f"metric rule {text!r}: tolerance must be >= 0")
        return cls(parts[0], parts[1], tolerance)

    def __str__(self) -> str:
        return f"{self.name}:{self.goal}" + (f":{self.tolerance:g}" if self.tolerance else "")


def metric_value(metrics: dict[str, Any] | None, name: str) -> float | None:
    """A finite number at `name` (a key, else a dotted path), or None."""
    if not metrics:
        return None
    value: Any = metrics.get(name)
    if value is None and "." in name:
        value = metrics
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def fmt_value(value: Any) -> str:
    """A metric as the decision shows it: 4 significant digits, a dash when absent."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def compare(
    rules: list[MetricRule], candidate: dict[str, Any], current: dict[str, Any] | None
) -> tuple[bool, str, list[dict[str, Any]]]:
    """(promote?, reason, one row per rule). Promote: every rule's metric is present in the
    candidate; and with a production model, none is worse and at least one is better."""
    rows = [_row(rule, candidate, current) for rule in rules]
    missing = [r["metric"] for r in rows if r["verdict"] == "missing"]
    if missing:
        return False, f"candidate metrics lack {', '.join(missing)}", rows
    if current is None:
        return True, "first model: no production model yet", rows
    worse = [r for r in rows if r["verdict"] == "worse"]
    if worse:
        return (
            False,
            "worse on "
            + ", ".join(f"{r['metric']} ({fmt_value(r['production'])} -> {fmt_value(r['candidate'])})" for r in worse),
            rows,
        )
    better = [r["metric"] for r in rows if r["verdict"] == "better"]
    if not better:
        return False, "no metric improved on production (ties within tolerance)", rows
    return True, f"better on {', '.join(better)}; no metric worse", rows


def _row(rule: MetricRule, candidate: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    """One rule's comparison: both values, the change, and the verdict."""
    new, old = metric_value(candidate, rule.name), metric_value(current, rule.name)
    return {
        "metric": rule.name,
        "goal": str(rule).partition(":")[2],
        "production": old,
        "candidate": new,
        "change": None if new is None or old is None else new - old,
        "verdict": _verdict(rule, new, old, first=current is None),
    }


def _verdict(rule: MetricRule, new: float | None, old: float | None, first: bool) -> str:
    if new is None:
        return "missing"
    if first:
        return "first"
    if old is None:
        return "not compared"  # production never recorded it (the rule list changed)
    gain = (new - old) if rule.goal == "max" else (old - new)
    return "better" if gain > rule.tolerance else "worse" if gain < -rule.tolerance else "same"
