"""The `reward` section of params.yaml: where pairs come from (generated from the SFT model's
samples, and the user's files) and how the reward model trains. Defaults are the `tiny` profile,
PROFILES holds the other profiles' values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from crisol.core.params import Section
from crisol.core.path_roles import InputPath, OutputDir, OutputFile

PreferenceFormat = Literal["auto", "pairs", "hh"]


class _SplitFractions(Section):
    """Three splits by a prompt's hash h = xxh64(salt, prompt) in [0, 1): validation (h below
    validation_fraction: the step kept is chosen there), test (the next test_fraction: the
    accuracy reported, on pairs that chose nothing) and train (the rest)."""

    @model_validator(mode="after")
    def _fractions_leave_training(self):
        held_out = self.validation_fraction + self.test_fraction
        if held_out >= 1.0:
            raise ValueError(
                f"validation_fraction + test_fraction = {held_out:g} leaves nothing to train on (must be < 1)"
            )
        return self


class UserPreferenceParams(_SplitFractions):
    """Preference pairs given by the user: JSONL, JSON (an array) or Parquet files (gzip too:
    .jsonl.gz, .json.gz), or directories of them."""

    inputs: list[InputPath] = []  # TRL prompt/chosen/rejected, hh-rlhf transcripts
    format: PreferenceFormat = "auto"  # auto: detected per file from its rows
    # Split by the prompt as given (before any truncation): a prompt's pairs never straddle splits.
    validation_fraction: float = Field(0.05, ge=0.0, lt=1.0)  # the step kept is chosen on these pairs
    test_fraction: float = Field(0.1, ge=0.0, lt=1.0)  # the accuracy reported (held-out human pairs)
    split_salt: str = "crisol-reward-user-1"
    # A prompt too long for max_tokens loses its earliest turns (whole turns, as TRL cuts prompts
    # from the left) until it fits; the last user turn and both answers stay whole, else the
    # pair is skipped as over_length. false: every too-long pair is skipped.
    truncate_prompt: bool = True
    examples_per_reason: int = Field(3, ge=0)  # row numbers kept per skip reason


class GeneratedPreferenceParams(_SplitFractions):
    """Pairs from the SFT model's samples, judged by the gold oracle (stages/reward/generated.py)."""

    kinds: list[str] = ["fact", "idk", "compare", "count", "two_hop"]  # SFT example kinds whose questions are prompts
    # SFT splits the prompts come from: its training questions, and the rl ones SFT never trained
    # on (unfamiliar entities and invented names, where the SFT model errs and "I don't know" pays)
    splits: list[str] = ["train", "rl"]
    max_prompts: int = Field(3000, ge=1)  # SFT training questions sampled from (seeded choice)
    samples_per_prompt: int = Field(4, ge=1)
    temperature: float = Field(1.0, gt=0)
    max_new_tokens: int = Field(24, ge=1)
    pairs_per_prompt: int = Field(6, ge=1)
    # "I don't know." joins each prompt's candidates: the oracle ranks it under a correct answer and
    # above a wrong one, which samples alone almost never show (the SFT model rarely declines).
    idk_candidate: bool = True
    label_noise: float = Field(0.0, ge=0)  # Bradley-Terry temperature; 0: exact labels
    # Pairs of a prompt go to validation when xxh64(salt, prompt id) falls below this fraction:
    # held-out prompts, never trained on. test_fraction 0 (the default, which keeps the synthetic
    # run's split as it was): the accuracy reported is the validation one, the step kept chosen on it.
    validation_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    test_fraction: float = Field(0.0, ge=0.0, lt=1.0)
    split_salt: str = "crisol-reward-split-1"
    seed: int = 0


class RewardParams(Section):
    """The reward model: oracle-labelled samples of the SFT model and user pairs (stages/reward). The
    SFT model and its examples in; the reward model, its pairs and metrics out."""

    sft: InputPath = Path("data/sft")  # = sft.out: model/ and examples.parquet
    tokenizer: InputPath = Path("data/tokenizer")  # = tokenizer.out
    out: OutputDir = Path("data/reward")  # model/ (with reward_head.safetensors), pairs.parquet
    plots: OutputDir = Path("data/plots/reward")
    metrics: OutputFile = Path("data/metrics/reward.json")
    max_tokens: int = Field(128, ge=8)  # prompt + answer, in template tokens (= pretrain.seq_len)
    # Pairs of the SFT model's samples, judged by the gold oracle (source synthetic).
    generated: GeneratedPreferenceParams = GeneratedPreferenceParams()
    # Pairs given by the user: these inputs, and own.root/preferences/ with source own.
    user: UserPreferenceParams = UserPreferenceParams()

    epochs: int = Field(2, ge=1)
    batch_size: int = Field(32, ge=1)  # pairs per step
    lr: float = Field(1e-4, gt=0)
    warmup_steps: int = Field(10, ge=0)
    margin: float = Field(0.0, ge=0)  # loss -logsigmoid(r_c - r_r - margin)
    centring: float = Field(0.0, ge=0)  # + centring * mean((r_c + r_r)^2)
    grad_clip: float = Field(1.0, ge=0)
    eval_every: int = Field(25, ge=1)
    seed: int = 1
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = Field(None, ge=1)


# The profiles' values (the defaults are tiny's; crisol/core/params.py: PROFILE_NOTES).
PROFILES = {
    "micro": {
        "max_tokens": 64,
        "generated": {"max_prompts": 200, "samples_per_prompt": 3, "max_new_tokens": 12, "validation_fraction": 0.2},
        # Few human pairs fit 64 tokens (hh-rlhf: 225 of 1,500): larger held-out shares.
        "user": {"validation_fraction": 0.2, "test_fraction": 0.2},
        "epochs": 1,
        "batch_size": 16,
        "eval_every": 10,
    },
}
