"""The reward stage's DVC out, written once at the end, atomically:

    <out>/model/           the reward model: the body's model directory + reward_head.safetensors;
                           its metadata says what it was normalised on and `reported_splits`
    <out>/pairs.parquet    every pair trained, validated and tested on (`preference_pairs` schema):
                           `split` train | validation (chose the step kept) | test (the accuracy
                           reported), `source` "generated" or the user file:row it came from
    <plots>/               train_loss.csv, validation_accuracy.csv (step-indexed)

The held-out human pairs (what evaluate reports the reward model's accuracy on) are the rows with
split "test" and a source other than "generated"; `reported_splits` names, per origin, the split
the stage reported (validation where an origin has no test pair).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from crisol.core.atomic import atomic_dir
from crisol.core.plots import write_plots
from crisol.formats.artifacts import write_parquet
from crisol.formats.conversations import PREFERENCE_PAIRS
from crisol.model.reward import RewardModel, save_reward_model
from stages.reward.preference import Preference

PLOTS = {"train_loss": ("step", "loss"), "validation_accuracy": ("step", "accuracy")}


def write_outputs(
    out: Path,
    plots: Path,
    model: RewardModel,
    pairs: Iterable[Preference],
    history: dict[str, list[dict[str, Any]]],
    metadata: dict[str, Any],
) -> None:
    rows = [
        {
            "id": p.id,
            "split": p.split,
            "kind": p.kind,
            "prompt": p.prompt,
            "chosen": p.chosen,
            "rejected": p.rejected,
            "chosen_finished": p.chosen_finished,
            "rejected_finished": p.rejected_finished,
            "source": p.source,
        }
        for p in pairs
    ]
    with atomic_dir(out) as tmp:
        save_reward_model(model, tmp / "model", metadata=metadata)
        write_parquet(tmp / "pairs.parquet", PREFERENCE_PAIRS, rows, metadata.get("params"))
    write_plots(plots, PLOTS, {"train_loss": history["train_loss"], "validation_accuracy": history["validation"]})
