"""The reward stage on a user's own data (source own): human pairs alone train a reward model,
normalised on the pairs' own responses, with the step kept on validation and the accuracy reported on
a disjoint test split; two identical runs give identical accuracy and weights; an own folder without
preferences is a one-line error. The SFT model is a random small one: learning is not the point."""

from __future__ import annotations

import gzip
import json
import logging
import math
import shutil
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file

from crisol.core.cli import StageContext
from crisol.core.hashsplit import TEST, TRAIN, VALIDATION
from crisol.core.params import ExecutorParams
from crisol.core.source import DataSource
from crisol.model.reward import HEAD_FILE, load_reward_model
from crisol.model.weights import WEIGHTS_FILE, read_model_config
from kit.paths import REPO_ROOT as REPO
from kit.rlhf import reward_section, run_micro_stage
from kit.sft import make_inputs
from kit.stages import stage_command, write_stage_params
from stages.reward.normalise import PAIR_RESPONSES
from stages.reward.params import RewardParams
from stages.reward.stage import user_params

TIMINGS = ("seconds", "run_seconds")
NAMES = ["Ostrand", "Velmar", "Tessa", "Korin", "Dunmore", "Aldo"]


def human_pairs(n: int) -> list[dict]:
    """n TRL pairs over n // 2 prompts (two pairs each, so a split must keep a prompt's pairs together)."""
    rows = []
    for i in range(n):
        name = NAMES[i % len(NAMES)]
        rows.append(
            {
                "prompt": f"Where does {name} live, question {i // 2}?",
                "chosen": f"{name} lives by the river." if i % 2 else f"In {name}'s house.",
                "rejected": "I will not say." if i % 2 else "Go away.",
            }
        )
    return rows


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """An own-data folder with gzip preference pairs, and a random 'SFT' model with its tokenizer."""
    root = tmp_path_factory.mktemp("reward-own")
    inputs = make_inputs(root / "inputs")
    shutil.copytree(inputs["base"], root / "sft" / "model")
    (root / "own" / "preferences").mkdir(parents=True)
    with gzip.open(root / "own" / "preferences" / "pairs.jsonl.gz", "wt") as f:
        f.write("".join(json.dumps(r) + "\n" for r in human_pairs(160)))
    return {"root": root, "sft": root / "sft", "tokenizer": inputs["tokenizer"], "own": root / "own"}


def run_own(own: dict, out: Path, own_root: Path | None = None) -> int:
    out.mkdir(parents=True, exist_ok=True)
    section = reward_section(
        out,
        own["sft"],
        own["tokenizer"],
        user={**RewardParams().user.model_dump(mode="json"), "validation_fraction": 0.2, "test_fraction": 0.2},
    )
    return run_micro_stage("reward", out, section, source="own", own={"root": str(own_root or own["own"])})


@pytest.fixture(scope="module")
def first_run(own):
    out = own["root"] / "run-a"
    assert run_own(own, out) == 0
    return out


def test_human_pairs_alone_train_and_write_metrics_without_nan(first_run):
    text = (first_run / "reward.json").read_text()
    metrics = json.loads(text)
    json.dumps(metrics, allow_nan=False)  # no NaN anywhere
    assert "NaN" not in text
    assert metrics["source"] == "own" and metrics["sft_gold_score"] is None
    assert metrics["parts"]["generated"]["ran"] is False and "ground truth" in metrics["parts"]["generated"]["why"]
    assert metrics["parts"]["user"] == {"ran": True, "n": 160}
    assert "generated" not in metrics["data"] and metrics["data"]["user"]["kept"] == 160
    normalisation = metrics["normalisation"]
    assert normalisation["on"] == PAIR_RESPONSES and normalisation["fallback"] is None
    assert normalisation["n"] == 2 * metrics["data"]["train_pairs"] and normalisation["raw_std"] > 0
    heldout = metrics["heldout"]
    assert heldout["splits"] == {"user": TEST} and heldout["chosen_on_reported_pairs"] is False
    assert heldout["pairs"] == metrics["data"]["test_pairs"] == metrics["data"]["heldout_pairs"] > 0
    p, n = heldout["accuracy"], heldout["pairs"]
    assert p == metrics["heldout_accuracy"] and heldout["stderr"] == round(math.sqrt(p * (1 - p) / n), 5)
    assert metrics["validation"]["pairs"] == metrics["data"]["validation_pairs"] > 0
    model = load_reward_model(first_run / "reward" / "model")
    assert float(model.scale) == pytest.approx(normalisation["raw_std"], abs=1e-4)
    _, metadata = read_model_config(first_run / "reward" / "model")
    assert metadata["normalised_on"] == PAIR_RESPONSES and metadata["reported_splits"] == {"user": TEST}


def test_the_splits_are_disjoint_by_prompt_and_the_test_pairs_are_written(first_run):
    rows = pq.read_table(first_run / "reward" / "pairs.parquet").to_pylist()
    split_of: dict[str, set[str]] = {}
    for row in rows:
        split_of.setdefault(json.dumps(row["prompt"]), set()).add(row["split"])
    assert all(len(splits) == 1 for splits in split_of.values())  # no prompt straddles two splits
    counts = {s: sum(r["split"] == s for r in rows) for s in (TRAIN, VALIDATION, TEST)}
    metrics = json.loads((first_run / "reward.json").read_text())
    assert counts == {
        TRAIN: metrics["data"]["train_pairs"],
        VALIDATION: metrics["data"]["validation_pairs"],
        TEST: metrics["data"]["test_pairs"],
    }
    assert all(r["source"].startswith(str(first_run.parent / "own" / "preferences")) for r in rows)


def test_two_identical_runs_give_identical_accuracy_and_weights(own, first_run):
    second = own["root"] / "run-b"
    assert run_own(own, second) == 0
    a, b = (json.loads((run / "reward.json").read_text()) for run in (first_run, second))
    for metrics in (a, b):
        for key in TIMINGS:
            metrics.pop(key)
        metrics["training"].pop("seconds")
    assert a["heldout_accuracy"] == b["heldout_accuracy"] and a == b
    # Tensors compared, not file bytes: safetensors writes its metadata keys in no fixed order.
    for name in (HEAD_FILE, WEIGHTS_FILE):
        tensors = [load_file(str(run / "reward" / "model" / name)) for run in (first_run, second)]
        assert tensors[0].keys() == tensors[1].keys()
        assert all(torch.equal(tensors[0][key], tensors[1][key]) for key in tensors[0])
    rows = [pq.read_table(run / "reward" / "pairs.parquet").to_pylist() for run in (first_run, second)]
    assert rows[0] == rows[1]


def test_own_data_without_preferences_is_a_one_line_error(own, tmp_path):
    (tmp_path / "own" / "instructions").mkdir(parents=True)  # an own folder, but no preferences/
    section = reward_section(tmp_path, own["sft"], own["tokenizer"])
    params = write_stage_params(
        tmp_path / "params.yaml",
        "reward",
        section,
        profile="micro",
        executor={"workers": 1},
        source="own",
        own={"root": str(tmp_path / "own")},
    )
    done = subprocess.run(stage_command("reward", params), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "Traceback" not in done.stderr
    assert f"{tmp_path / 'own'} has no input for this stage" in errors[0] and "preferences/" in errors[0]
    assert not (tmp_path / "reward").exists()


def test_own_pairs_are_the_preferences_folder_then_user_inputs_and_synthetic_ignores_the_folder(tmp_path):
    (tmp_path / "own" / "preferences" / "more").mkdir(parents=True)
    for name in ("b.jsonl.gz", "a.parquet", "more/c.json", ".hidden.jsonl"):
        (tmp_path / "own" / "preferences" / name).write_text("")
    extra = tmp_path / "extra.jsonl"
    params = RewardParams(user={"inputs": [str(extra)]})

    def context(kind: str) -> StageContext:
        return StageContext(
            name="reward",
            params=params,
            executor=ExecutorParams(),
            profile="micro",
            log=logging.getLogger("test"),
            source=DataSource(kind, tmp_path / "own"),
        )

    folder = tmp_path / "own" / "preferences"
    assert user_params(context("own")).inputs == [
        folder / "a.parquet",
        folder / "b.jsonl.gz",
        folder / "more" / "c.json",
        extra,
    ]
    assert user_params(context("synthetic")).inputs == [extra]
    # Without a preferences folder, reward.user.inputs alone are enough.
    shutil.rmtree(folder)
    assert user_params(context("own")).inputs == [extra]
