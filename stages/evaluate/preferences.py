"""The reward model's accuracy on held-out human preference pairs (source: own).

The pairs are the reward stage's held-out test pairs, never trained on nor used to pick its step,
which it writes as <reward.out>/heldout_pairs.parquet (the contract between the two stages):

    prompt    string (one user turn) or a list of {role, content} messages ending with a user turn
    chosen    string: the whole preferred assistant reply
    rejected  string: the whole other reply
    chosen_finished, rejected_finished   optional booleans (default true: the reply ended its turn)

A pair is right when the reward model scores chosen above rejected (a tie counts wrong, as the
reward stage counts it): accuracy over pairs, with its standard error (grading.text's
mean_and_stderr), n and the mean margin. Pairs longer than the reward model's context are skipped
and counted. Without the file the section does not run, and says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import torch

from stages.chat.template import ChatTemplate
from stages.common.errors import StageInputError
from stages.common.subsets import seeded_subset
from stages.grading.text import mean_and_stderr
from stages.model.reward import RewardModel
from stages.reward.preference import Preference
from stages.reward.train import encode_pair, score_pairs

HELDOUT_PAIRS = "heldout_pairs.parquet"
COLUMNS = ("prompt", "chosen", "rejected")


def _messages(prompt: Any, where: str) -> list[dict[str, str]]:
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, list) and prompt and all(isinstance(m, dict) for m in prompt) \
            and prompt[-1].get("role") == "user":
        return [{"role": str(m["role"]), "content": str(m["content"])} for m in prompt]
    raise StageInputError(f"evaluate: {where}: prompt must be a string or messages ending with a user turn")


def read_heldout_pairs(reward: Path) -> list[Preference] | None:
    """The held-out pairs in file order, or None when the reward stage wrote no such file."""
    path = reward / HELDOUT_PAIRS
    if not path.is_file():
        return None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise StageInputError(f"evaluate: {path}: not a Parquet file ({exc})") from None
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise StageInputError(f"evaluate: {path}: missing column(s) {', '.join(missing)} "
                              f"(expected {', '.join(COLUMNS)})")
    pairs = []
    for number, row in enumerate(table.to_pylist(), start=1):
        where = f"{path}:{number}"
        if not all(isinstance(row[c], str) for c in ("chosen", "rejected")):
            raise StageInputError(f"evaluate: {where}: chosen and rejected must be strings")
        pairs.append(Preference(f"heldout:{number}", "test", _messages(row["prompt"], where), row["chosen"],
                                row["rejected"], where, "user", row.get("chosen_finished") is not False,
                                row.get("rejected_finished") is not False))
    return pairs


def accuracy(reward_model: RewardModel, template: ChatTemplate, pairs: list[Preference], *, limit: int,
             seed: int, device: torch.device) -> dict[str, Any]:
    """Accuracy ± stderr over up to `limit` pairs (a seeded subset), n, the mean margin, and the
    pairs skipped for not fitting the reward model's context."""
    pairs = seeded_subset(pairs, limit, seed)
    encoded = [encode_pair(template, p) for p in pairs]
    max_len = reward_model.body.config.max_seq_len
    fits = [e for e in encoded if max(len(e.chosen.ids), len(e.rejected.ids)) <= max_len]
    out: dict[str, Any] = {"n": len(fits), "over_length": len(encoded) - len(fits)}
    if not fits:
        return out
    chosen, rejected = score_pairs(reward_model, fits, template.pad_id, device)
    margin = (chosen - rejected).tolist()
    out["accuracy"], out["accuracy_stderr"] = mean_and_stderr([1.0 if m > 0 else 0.0 for m in margin])
    out["margin"] = sum(margin) / len(margin)
    return out
