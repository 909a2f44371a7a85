"""Splits decided by the item itself: a salted hash of a key, read as a number in [0, 1).

Whatever the stage (SFT's entities and user rows, the reward stage's preference pairs), an item's
split must not depend on the rest of the data: adding rows, reordering a file or growing the world
never moves an old item, and duplicates (same key) always land together.
"""

from __future__ import annotations

import xxhash

TRAIN, VALIDATION = "train", "validation"
TEST = "test"  # SFT's held-out questions (entities it never saw), what evaluation asks
RL = "rl"  # prompts reserved for the reward model and PPO: SFT never trains on them
_SCALE = float(1 << 64)


def hash_fraction(key: str, salt: str) -> float:
    """A uniform number in [0, 1) fixed by the key: a split decided by the item itself."""
    return xxhash.xxh64_intdigest(f"{salt}\x00{key}".encode()) / _SCALE


def content_split(key: str, salt: str, validation_fraction: float, test_fraction: float = 0.0) -> str:
    """VALIDATION for keys whose hash falls below validation_fraction, TEST in the band just above
    it (so adding a test split never moves a validation item), else TRAIN."""
    u = hash_fraction(key, salt)
    if u < validation_fraction:
        return VALIDATION
    return TEST if u < validation_fraction + test_fraction else TRAIN
