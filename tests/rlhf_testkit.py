"""The SFT -> reward -> ppo chain on the micro world with small models, for the stage tests of
reward, ppo and evaluate (the session fixture `rlhf_pipeline` in conftest.py runs it once)."""

from __future__ import annotations

from pathlib import Path

import yaml

from crisol.core.cli import main
from stages.ppo.params import PPOParams
from stages.ppo.stage import run as run_ppo_stage
from stages.reward.params import RewardParams
from stages.reward.stage import run as run_reward_stage
from sft_testkit import make_inputs, run_sft

REWARD = {"max_tokens": 96, "epochs": 1, "batch_size": 16, "eval_every": 5, "threads": 1, "lr": 1e-3,
          "generated": {"max_prompts": 60, "samples_per_prompt": 3, "max_new_tokens": 8, "validation_fraction": 0.3}}
PPO = {"heldout_prompts": 12, "steps": 3, "batch_size": 6, "ppo_epochs": 2, "minibatch_size": 3,
       "max_new_tokens": 8, "eval_every": 3, "samples": 2, "threads": 1}


def run_stage(name: str, model, run, root: Path, section: dict, **top) -> int:
    """Run a stage on a params file of its section (and top-level keys such as source and own)."""
    params = root / f"{name}.yaml"
    params.write_text(yaml.safe_dump({"profile": "micro", "executor": {"workers": 1}, name: section, **top}))
    return main(name, model, run, ["--params", str(params)])


def reward_section(root: Path, sft: Path, tokenizer: Path, **overrides) -> dict:
    return {**RewardParams().model_dump(mode="json"), **REWARD, "sft": str(sft), "tokenizer": str(tokenizer),
            "out": str(root / "reward"), "plots": str(root / "reward-plots"),
            "metrics": str(root / "reward.json"), **overrides}


def ppo_section(root: Path, sft: Path, reward: Path, tokenizer: Path, **overrides) -> dict:
    return {**PPOParams().model_dump(mode="json"), **PPO, "sft": str(sft), "reward": str(reward),
            "tokenizer": str(tokenizer), "out": str(root / "ppo"), "plots": str(root / "ppo-plots"),
            "metrics": str(root / "ppo.json"), **overrides}


def build_pipeline(tmp_path_factory) -> dict[str, Path]:
    inputs = make_inputs(tmp_path_factory.mktemp("rlhf-inputs"))
    code, root = run_sft(tmp_path_factory.mktemp("rlhf"), inputs, epochs=1)
    assert code == 0
    sft = root / "sft"
    assert run_stage("reward", RewardParams, run_reward_stage, root,
                     reward_section(root, sft, inputs["tokenizer"])) == 0
    assert run_stage("ppo", PPOParams, run_ppo_stage, root,
                     ppo_section(root, sft, root / "reward", inputs["tokenizer"])) == 0
    return {"root": root, "sft": sft, "reward": root / "reward", "ppo": root / "ppo", **inputs}
