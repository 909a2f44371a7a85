"""Which pairs measure the reward model: the step kept is chosen on one split, the accuracy reported
on another.

Every pair's split (train, validation, test) is fixed by its prompt's hash, so a prompt's pairs
never straddle two splits. Training keeps the step with the best validation accuracy; the accuracy
reported is that of the test pairs, which chose nothing. Per origin (generated, user): an origin
with no test pair (generated.test_fraction 0, the synthetic default that keeps that run's split as
it was, or too few user pairs) reports its validation pairs instead, and the metrics say so
(`chosen_on_reported_pairs`), since that figure is then optimistic.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch

from crisol.core.hashsplit import TEST, VALIDATION
from stages.reward.preference import Preference
from stages.reward.train import pair_metrics

GENERATED, USER = "generated", "user"


def origin(pair: Preference) -> str:
    """generated (oracle-labelled samples) or user (a file's row)."""
    return GENERATED if pair.source == GENERATED else USER


def reported_splits(pairs: Sequence[Preference]) -> dict[str, str]:
    """Per origin present, the split whose accuracy is reported: test when it has test pairs."""
    out: dict[str, str] = {}
    for pair in pairs:
        if pair.split == TEST:
            out[origin(pair)] = TEST
        else:
            out.setdefault(origin(pair), VALIDATION)
    return dict(sorted(out.items()))


def is_reported(pair: Preference, splits: dict[str, str]) -> bool:
    return pair.split == splits[origin(pair)]


def accuracy_with_error(chosen: torch.Tensor, rejected: torch.Tensor) -> dict[str, Any]:
    """pair_metrics plus the binomial standard error of the accuracy, sqrt(p (1 - p) / n)."""
    entry: dict[str, Any] = pair_metrics(chosen, rejected)
    p, n = entry["accuracy"], entry["pairs"]
    entry["stderr"] = round(math.sqrt(p * (1 - p) / n), 5) if n else None
    return entry


def heldout_metrics(
    pairs: Sequence[Preference], chosen: torch.Tensor, rejected: torch.Tensor, splits: dict[str, str]
) -> dict[str, Any]:
    """The reported accuracy of `pairs` (the reported ones, scored), overall and per origin."""
    entry = accuracy_with_error(chosen, rejected)
    entry["splits"] = splits
    entry["step_chosen_on"] = VALIDATION
    entry["chosen_on_reported_pairs"] = VALIDATION in splits.values()
    entry["by_origin"] = {}
    for name, split in splits.items():
        mask = torch.tensor([origin(p) == name for p in pairs], dtype=torch.bool)
        entry["by_origin"][name] = {"split": split, **accuracy_with_error(chosen[mask], rejected[mask])}
    return entry
