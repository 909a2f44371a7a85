"""The reward and ppo stages end to end on the micro world with a small model: pairs on both sides of
the split, bad user pairs counted or refused, a normalised reward model that loads, the same model
again from a second run (seeded); PPO writes its curves and exports the policy, and with learning
rate 0 leaves the policy exactly the SFT model."""

from __future__ import annotations

import csv
import json

import torch
from safetensors.torch import load_file

from crisol.core.hashsplit import VALIDATION
from crisol.model.reward import HEAD_FILE, load_reward_model
from crisol.model.weights import WEIGHTS_FILE
from kit.rlhf import ppo_section, reward_section, run_micro_stage
from stages.reward.normalise import SFT_SAMPLES


def test_reward_stage_outputs(rlhf_pipeline):
    metrics = json.loads((rlhf_pipeline["root"] / "reward.json").read_text())
    assert metrics["data"]["train_pairs"] > 0 and metrics["data"]["heldout_pairs"] > 0
    assert 0.0 <= metrics["heldout_accuracy"] <= 1.0
    assert metrics["data"]["generated"]["samples"] == 60 * 3
    model = load_reward_model(rlhf_pipeline["reward"] / "model")
    assert float(model.scale) > 0  # normalised on the SFT samples
    assert metrics["normalisation"]["on"] == SFT_SAMPLES and 0 < metrics["normalisation"]["n"] <= 60 * 3
    # generated.test_fraction 0 (the default): the synthetic split as it was, reported on validation
    assert metrics["heldout"]["splits"] == {"generated": VALIDATION}
    assert metrics["heldout"]["chosen_on_reported_pairs"]
    assert metrics["data"]["test_pairs"] == 0
    assert metrics["parts"]["generated"] == {"ran": True, "n": metrics["data"]["generated"]["pairs"]}
    assert (rlhf_pipeline["reward"] / "pairs.parquet").is_file()


def test_a_second_synthetic_reward_run_gives_the_same_model(rlhf_pipeline, tmp_path):
    section = reward_section(tmp_path, rlhf_pipeline["sft"], rlhf_pipeline["tokenizer"])
    assert run_micro_stage("reward", tmp_path, section) == 0
    first, second = (
        json.loads(path.read_text()) for path in (rlhf_pipeline["root"] / "reward.json", tmp_path / "reward.json")
    )
    assert first["heldout"] == second["heldout"] and first["training"]["best_step"] == second["training"]["best_step"]
    heads = [load_file(str(root / "model" / HEAD_FILE)) for root in (rlhf_pipeline["reward"], tmp_path / "reward")]
    assert all(torch.equal(heads[0][key], heads[1][key]) for key in heads[0])


def test_ppo_stage_outputs(rlhf_pipeline):
    metrics = json.loads((rlhf_pipeline["root"] / "ppo.json").read_text())
    assert metrics["training"]["steps"] == 3
    assert abs(metrics["last_step"]["policy/ratio_first"] - 1.0) < 1e-6
    gold = list(csv.DictReader((rlhf_pipeline["root"] / "ppo-plots" / "heldout_gold_score.csv").open()))
    assert [int(r["step"]) for r in gold] == [0, 3]
    config = json.loads((rlhf_pipeline["ppo"] / "hf" / "tokenizer_config.json").read_text())
    assert "chat_template" in config
    assert len(json.loads((rlhf_pipeline["ppo"] / "samples.json").read_text())) == 2


def test_ppo_with_learning_rate_zero_leaves_the_sft_model_and_kl_at_zero(rlhf_pipeline, tmp_path):
    section = ppo_section(tmp_path, rlhf_pipeline["sft"], rlhf_pipeline["reward"], rlhf_pipeline["tokenizer"], lr=0.0)
    assert run_micro_stage("ppo", tmp_path, section) == 0
    before = load_file(str(rlhf_pipeline["sft"] / "model" / WEIGHTS_FILE))
    after = load_file(str(tmp_path / "ppo" / "model" / WEIGHTS_FILE))
    assert all(torch.equal(before[name], after[name]) for name in before)
    metrics = json.loads((tmp_path / "ppo.json").read_text())
    assert metrics["heldout_kl"] == 0.0 and metrics["last_step"]["objective/kl"] == 0.0


def test_ppo_with_pretraining_text_trains_on_it_and_refuses_a_missing_split(rlhf_pipeline, tmp_path, capsys):
    paths = (rlhf_pipeline["sft"], rlhf_pipeline["reward"], rlhf_pipeline["tokenizer"])
    section = ppo_section(tmp_path, *paths, text=str(rlhf_pipeline["text"]), text_mix_rows=2)
    assert run_micro_stage("ppo", tmp_path, section) == 0
    last = json.loads((tmp_path / "ppo.json").read_text())["last_step"]
    assert last["policy/text_loss"] > 0  # the windows' loss joined the minibatches
    plain = json.loads((rlhf_pipeline["root"] / "ppo.json").read_text())["last_step"]
    assert plain["policy/text_loss"] is None
    (tmp_path / "missing").mkdir()
    section = ppo_section(tmp_path / "missing", *paths, text=str(tmp_path / "nowhere"), text_mix_rows=2)
    assert run_micro_stage("ppo", tmp_path / "missing", section) == 1
    assert "ppo.text" in capsys.readouterr().err


def test_bad_user_pairs_are_counted_and_all_bad_input_refused(rlhf_pipeline, tmp_path, capsys):
    rows = [
        {"prompt": "Say hi.", "chosen": "Hi.", "rejected": "Go away."},
        {"prompt": "Same?", "chosen": "Yes.", "rejected": "Yes."},
        {"prompt": "Missing.", "chosen": "x"},
    ]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    section = reward_section(tmp_path, rlhf_pipeline["sft"], rlhf_pipeline["tokenizer"], user={"inputs": [str(data)]})
    assert run_micro_stage("reward", tmp_path, section) == 0
    user = json.loads((tmp_path / "reward.json").read_text())["data"]["user"]
    assert user["skipped"] == {"identical_answers": 1, "missing_field": 1}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(rows[1]) + "\n")
    section = reward_section(
        tmp_path / "b", rlhf_pipeline["sft"], rlhf_pipeline["tokenizer"], user={"inputs": [str(bad)]}
    )
    (tmp_path / "b").mkdir()
    assert run_micro_stage("reward", tmp_path / "b", section) == 1
    assert "no usable pair in 1 rows" in capsys.readouterr().err


def test_ppo_trains_only_the_top_blocks_it_is_given(rlhf_pipeline, tmp_path):
    """The fixture's run took the defaults: the top block of the micro model's two, no embedding."""
    before = load_file(str(rlhf_pipeline["sft"] / "model" / WEIGHTS_FILE))

    def moved(ppo_dir) -> set[str]:
        after = load_file(str(ppo_dir / "model" / WEIGHTS_FILE))
        return {name for name in before if not torch.equal(before[name], after[name])}

    top_only = moved(rlhf_pipeline["ppo"])
    assert top_only and all(name.startswith(("layers.1.", "norm")) for name in top_only)
    section = ppo_section(
        tmp_path, rlhf_pipeline["sft"], rlhf_pipeline["reward"], rlhf_pipeline["tokenizer"], trained_layers=None
    )
    section["freeze_embeddings"] = False
    assert run_micro_stage("ppo", tmp_path, section) == 0
    every = moved(tmp_path / "ppo")
    assert any(name.startswith("layers.0.") for name in every) and "embed_tokens.weight" in every
