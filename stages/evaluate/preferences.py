"""The reward model's accuracy on held-out human preference pairs (source: own).

The pairs are the reward stage's test pairs of the user's data (<reward.out>/pairs.parquet, split
`test`, kind `user`): never trained on, nor used to pick the step it kept. A pair is right when
the reward model scores chosen above rejected (a tie counts wrong, as the reward stage counts it):
accuracy over pairs, with its standard error, n and the mean margin. Pairs longer than the reward
model's context are skipped and counted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import torch

from crisol.chat.template import ChatTemplate
from crisol.core.hashsplit import TEST
from crisol.core.subsets import seeded_subset
from crisol.formats.artifacts import read_parquet
from crisol.formats.conversations import PREFERENCE_PAIRS
from crisol.grading.text import mean_and_stderr
from crisol.model.reward import RewardModel, answer_ids, score_sequences

PAIRS_FILE = "pairs.parquet"
USER_KIND = "user"


class HeldoutPair(NamedTuple):
    prompt: list[dict[str, str]]
    chosen: str
    rejected: str
    chosen_finished: bool
    rejected_finished: bool


def read_heldout_pairs(reward: Path) -> list[HeldoutPair] | None:
    """The reward stage's held-out human pairs in file order, or None without its pairs file."""
    path = Path(reward) / PAIRS_FILE
    if not path.exists():
        return None
    return [
        HeldoutPair(row["prompt"], row["chosen"], row["rejected"], row["chosen_finished"], row["rejected_finished"])
        for row in read_parquet(path, PREFERENCE_PAIRS).to_pylist()
        if row["split"] == TEST and row["kind"] == USER_KIND
    ]


def accuracy(
    reward_model: RewardModel,
    template: ChatTemplate,
    pairs: list[HeldoutPair],
    *,
    limit: int,
    seed: int,
    device: torch.device,
) -> dict[str, Any]:
    """Accuracy ± stderr over up to `limit` pairs (a seeded subset), n, the mean margin, and the
    pairs skipped for not fitting the reward model's context."""
    pairs = seeded_subset(pairs, limit, seed)
    encoded = [
        (
            answer_ids(template, p.prompt, p.chosen, p.chosen_finished),
            answer_ids(template, p.prompt, p.rejected, p.rejected_finished),
        )
        for p in pairs
    ]
    max_len = reward_model.body.config.max_seq_len
    fits = [e for e in encoded if max(len(e[0].ids), len(e[1].ids)) <= max_len]
    out: dict[str, Any] = {"n": len(fits), "over_length": len(encoded) - len(fits)}
    if not fits:
        return out
    chosen = score_sequences(reward_model, [c for c, _ in fits], template.pad_id, device, normalised=True)
    rejected = score_sequences(reward_model, [r for _, r in fits], template.pad_id, device, normalised=True)
    margin = (chosen - rejected).tolist()
    out["accuracy"], out["accuracy_stderr"] = mean_and_stderr([1.0 if m > 0 else 0.0 for m in margin])
    out["margin"] = sum(margin) / len(margin)
    return out
