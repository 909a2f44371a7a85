"""Learning rate by step: linear warmup from 0, then cosine or linear decay to a floor."""

from __future__ import annotations

import math


def learning_rate(step: int, *, peak: float, warmup: int, total: int, floor_ratio: float, decay: str) -> float:
    """The rate for optimiser step `step` (0-based) of `total`."""
    if step < warmup:
        return peak * (step + 1) / warmup
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    if decay == "cosine":
        shape = 0.5 * (1.0 + math.cos(math.pi * progress))
    elif decay == "linear":
        shape = 1.0 - progress
    else:
        raise ValueError(f"unknown decay {decay!r} (cosine or linear)")
    return peak * (floor_ratio + (1.0 - floor_ratio) * shape)
