"""The SFT -> reward -> ppo chain on the micro world with small models, for the stage tests of
reward, ppo and evaluate (the session fixture `rlhf_pipeline` in conftest.py runs it once)."""

from __future__ import annotations

from pathlib import Path

from kit.sft import make_inputs, run_sft
from kit.stages import run_stage, stage_defaults, write_stage_params

REWARD = {
    "max_tokens": 96,
    "epochs": 1,
    "batch_size": 16,
    "eval_every": 5,
    "threads": 1,
    "lr": 1e-3,
    "generated": {"max_prompts": 60, "samples_per_prompt": 3, "max_new_tokens": 8, "validation_fraction": 0.3},
}
PPO = {
    "heldout_prompts": 12,
    "steps": 3,
    "batch_size": 6,
    "ppo_epochs": 2,
    "minibatch_size": 3,
    "max_new_tokens": 8,
    "eval_every": 3,
    "samples": 2,
    "threads": 1,
    "text_mix_rows": 0,  # PPO-ptx has tests of its own (test_rlhf_stages.py), which pass the token split
}


def run_micro_stage(stage: str, root: Path, section: dict, **top) -> int:
    """Run a stage of the chain (micro profile, one worker) on root/<stage>.yaml holding its
    section and the top-level keys in `top` (source, own)."""
    params = write_stage_params(root / f"{stage}.yaml", stage, section, profile="micro", executor={"workers": 1}, **top)
    return run_stage(stage, params)


def reward_section(root: Path, sft: Path, tokenizer: Path, **overrides) -> dict:
    return {
        **stage_defaults("reward"),
        **REWARD,
        "sft": str(sft),
        "tokenizer": str(tokenizer),
        "out": str(root / "reward"),
        "plots": str(root / "reward-plots"),
        "metrics": str(root / "reward.json"),
        **overrides,
    }


def ppo_section(root: Path, sft: Path, reward: Path, tokenizer: Path, **overrides) -> dict:
    return {
        **stage_defaults("ppo"),
        **PPO,
        "sft": str(sft),
        "reward": str(reward),
        "tokenizer": str(tokenizer),
        "out": str(root / "ppo"),
        "plots": str(root / "ppo-plots"),
        "metrics": str(root / "ppo.json"),
        **overrides,
    }


def build_pipeline(tmp_path_factory) -> dict[str, Path]:
    inputs = make_inputs(tmp_path_factory.mktemp("rlhf-inputs"))
    code, root = run_sft(tmp_path_factory.mktemp("rlhf"), inputs, epochs=1)
    assert code == 0
    sft = root / "sft"
    assert run_micro_stage("reward", root, reward_section(root, sft, inputs["tokenizer"])) == 0
    assert run_micro_stage("ppo", root, ppo_section(root, sft, root / "reward", inputs["tokenizer"])) == 0
    return {"root": root, "sft": sft, "reward": root / "reward", "ppo": root / "ppo", **inputs}
