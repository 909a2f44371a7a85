"""The reward and ppo stages end to end on the micro world with a small model: pairs on both sides of
the split, bad user pairs counted or refused, a normalised reward model that loads; PPO writes its
curves and exports the policy, and with learning rate 0 leaves the policy exactly the SFT model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from stages.common.cli import main
from stages.model.reward import load_reward_model
from stages.model.weights import WEIGHTS_FILE
from stages.ppo.params import PPOParams
from stages.ppo.stage import run as run_ppo_stage
from stages.reward.params import RewardParams
from stages.reward.stage import run as run_reward_stage
from sft_testkit import make_inputs, run_sft

REWARD = {"max_tokens": 96, "epochs": 1, "batch_size": 16, "eval_every": 5, "threads": 1, "lr": 1e-3,
          "generated": {"max_prompts": 60, "samples_per_prompt": 3, "max_new_tokens": 8, "validation_fraction": 0.3}}
PPO = {"heldout_prompts": 12, "steps": 3, "batch_size": 6, "ppo_epochs": 2, "minibatch_size": 3,
       "max_new_tokens": 8, "eval_every": 3, "samples": 2, "threads": 1}


def run_stage(name: str, model, run, root: Path, section: dict) -> int:
    params = root / f"{name}.yaml"
    params.write_text(yaml.safe_dump({"profile": "micro", "executor": {"workers": 1}, name: section}))
    return main(name, model, run, ["--params", str(params)])


def reward_section(root: Path, sft: Path, tokenizer: Path, **overrides) -> dict:
    return {**RewardParams().model_dump(mode="json"), **REWARD, "sft": str(sft), "tokenizer": str(tokenizer),
            "out": str(root / "reward"), "plots": str(root / "reward-plots"),
            "metrics": str(root / "reward.json"), **overrides}


def ppo_section(root: Path, sft: Path, reward: Path, tokenizer: Path, **overrides) -> dict:
    return {**PPOParams().model_dump(mode="json"), **PPO, "sft": str(sft), "reward": str(reward),
            "tokenizer": str(tokenizer), "out": str(root / "ppo"), "plots": str(root / "ppo-plots"),
            "metrics": str(root / "ppo.json"), **overrides}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> dict[str, Path]:
    inputs = make_inputs(tmp_path_factory.mktemp("rlhf-inputs"))
    code, root = run_sft(tmp_path_factory.mktemp("rlhf"), inputs, epochs=1)
    assert code == 0
    sft = root / "sft"
    assert run_stage("reward", RewardParams, run_reward_stage, root,
                     reward_section(root, sft, inputs["tokenizer"])) == 0
    assert run_stage("ppo", PPOParams, run_ppo_stage, root,
                     ppo_section(root, sft, root / "reward", inputs["tokenizer"])) == 0
    return {"root": root, "sft": sft, "reward": root / "reward", "ppo": root / "ppo", "tokenizer": inputs["tokenizer"]}


def test_reward_stage_outputs(pipeline):
    metrics = json.loads((pipeline["root"] / "reward.json").read_text())
    assert metrics["data"]["train_pairs"] > 0 and metrics["data"]["heldout_pairs"] > 0
    assert 0.0 <= metrics["heldout_accuracy"] <= 1.0
    assert metrics["data"]["generated"]["samples"] == 60 * 3
    model = load_reward_model(pipeline["reward"] / "model")
    assert float(model.scale) > 0      # normalised on the SFT samples
    assert (pipeline["reward"] / "pairs.parquet").is_file()


def test_ppo_stage_outputs(pipeline):
    metrics = json.loads((pipeline["root"] / "ppo.json").read_text())
    assert metrics["training"]["steps"] == 3
    assert abs(metrics["last_step"]["policy/ratio_first"] - 1.0) < 1e-6
    gold = list(csv.DictReader((pipeline["root"] / "ppo-plots" / "heldout_gold_score.csv").open()))
    assert [int(r["step"]) for r in gold] == [0, 3]
    config = json.loads((pipeline["ppo"] / "hf" / "tokenizer_config.json").read_text())
    assert "chat_template" in config
    assert len(json.loads((pipeline["ppo"] / "samples.json").read_text())) == 2


def test_ppo_with_learning_rate_zero_leaves_the_sft_model_and_kl_at_zero(pipeline, tmp_path):
    section = ppo_section(tmp_path, pipeline["sft"], pipeline["reward"], pipeline["tokenizer"], lr=0.0)
    assert run_stage("ppo", PPOParams, run_ppo_stage, tmp_path, section) == 0
    before = load_file(str(pipeline["sft"] / "model" / WEIGHTS_FILE))
    after = load_file(str(tmp_path / "ppo" / "model" / WEIGHTS_FILE))
    assert all(torch.equal(before[name], after[name]) for name in before)
    metrics = json.loads((tmp_path / "ppo.json").read_text())
    assert metrics["heldout_kl"] == 0.0 and metrics["last_step"]["objective/kl"] == 0.0


def test_bad_user_pairs_are_counted_and_all_bad_input_refused(pipeline, tmp_path, capsys):
    rows = [{"prompt": "Say hi.", "chosen": "Hi.", "rejected": "Go away."},
            {"prompt": "Same?", "chosen": "Yes.", "rejected": "Yes."},
            {"prompt": "Missing.", "chosen": "x"}]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    section = reward_section(tmp_path, pipeline["sft"], pipeline["tokenizer"], user={"inputs": [str(data)]})
    assert run_stage("reward", RewardParams, run_reward_stage, tmp_path, section) == 0
    user = json.loads((tmp_path / "reward.json").read_text())["data"]["user"]
    assert user["skipped"] == {"identical_answers": 1, "missing_field": 1}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(rows[1]) + "\n")
    section = reward_section(tmp_path / "b", pipeline["sft"], pipeline["tokenizer"], user={"inputs": [str(bad)]})
    (tmp_path / "b").mkdir()
    assert run_stage("reward", RewardParams, run_reward_stage, tmp_path / "b", section) == 1
    assert "no usable pair in 1 rows" in capsys.readouterr().err
