"""The reward model's normalisation: an affine map fitted after training so that a reference set of
answers scores mean 0 and standard deviation 1 (PPO's KL coefficient then has a fixed meaning).

The reference set is the policy PPO starts from, where there is one to sample with prompts to ask:
the SFT model's own samples of the world's generated prompts (synthetic source). Without them (own
data: no generated prompts) it is the training pairs' own responses, chosen and rejected: the
answers the reward model was fitted to, the closest thing to the policy's at hand.

Degenerate cases are a documented fallback, never an error: fewer than two scores, or scores all
(nearly) equal, keep scale 1 (the scores are only centred), and the metrics entry says why.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch

from crisol.model.reward import Answered, RewardModel, score_sequences

SFT_SAMPLES = "sft samples"  # the names written to metrics and the model's metadata
PAIR_RESPONSES = "training pairs' responses"
MIN_STD = 1e-6  # below this, dividing by the std would blow the scores up


def _rounded(value: float) -> float | None:
    return round(value, 5) if math.isfinite(value) else None


def fit_normalisation(
    model: RewardModel, rows: Sequence[Answered], on: str, pad_id: int, device: torch.device
) -> dict[str, Any]:
    """Set the model's shift and scale from the raw scores of `rows`; the metrics entry of the fit."""
    raw = score_sequences(model, rows, pad_id, device)
    mean = float(raw.mean()) if len(raw) else math.nan
    std = float(raw.std()) if len(raw) > 1 else math.nan
    entry: dict[str, Any] = {
        "on": on,
        "n": len(raw),
        "raw_mean": _rounded(mean),
        "raw_std": _rounded(std),
        "fallback": None,
    }
    if not math.isfinite(mean):
        mean, entry["fallback"] = 0.0, "no score to normalise on: shift 0, scale 1 (raw scores)"
        std = 1.0
    elif not (math.isfinite(std) and std > MIN_STD):
        entry["fallback"] = f"std of {len(raw)} scores is {entry['raw_std']}: scale 1 (scores centred only)"
        std = 1.0
    model.set_normalisation(mean, std)
    return entry
