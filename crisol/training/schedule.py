"""Learning rate by step: linear warmup from 0, then cosine or linear decay to a floor.

Under a time budget the decay also follows the clock: `time_fraction` is the share of the budget's
seconds spent, and the decay is as far along as the further of the two budgets, so the rate reaches
its floor when the clock runs out, however many steps the machine managed by then."""

from __future__ import annotations

import math


def learning_rate(
    step: int, *, peak: float, warmup: int, total: int, floor_ratio: float, decay: str, time_fraction: float = 0.0
) -> float:
    """The rate for optimiser step `step` (0-based) of `total`; `time_fraction` in [0, 1] of a time
    budget, if any (warm-up stays in steps)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    span = max(1, total - warmup)
    progress = min(1.0, max((step - warmup) / span, time_fraction))
    if decay == "cosine":
        shape = 0.5 * (1.0 + math.cos(math.pi * progress))
    elif decay == "linear":
        shape = 1.0 - progress
    else:
        raise ValueError(f"unknown decay {decay!r} (cosine or linear)")
    return peak * (floor_ratio + (1.0 - floor_ratio) * shape)
