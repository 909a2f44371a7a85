"""A seeded, order-keeping choice of items: the same subset for the same seed and input."""

from __future__ import annotations

import random
from typing import Sequence, TypeVar

T = TypeVar("T")


def seeded_subset(items: Sequence[T], limit: int, seed: int) -> list[T]:
    """Up to `limit` items, chosen by `seed`, in their original order (all of them when few enough)."""
    if len(items) <= limit:
        return list(items)
    return [items[i] for i in sorted(random.Random(seed).sample(range(len(items)), limit))]
