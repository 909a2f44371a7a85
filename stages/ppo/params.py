"""The `ppo` section of params.yaml. Defaults are the `tiny` profile, PROFILES holds the other
profiles' values. Budgets are PPO steps (each one rollout batch of `batch_size` prompts), never minutes."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from crisol.core.params import Section
from crisol.core.path_roles import InputPath, OutputDir, OutputFile


class UserPromptParams(Section):
    """A user's prompts (source own): own.root/prompts/ and these files, or, without any, the held-out
    user prompts of the SFT examples and the reward pairs (stages/ppo/user_prompts.py)."""

    # JSONL (.gz) rows with `prompt` or `messages` (or JSON, Parquet), files or directories; with source
    # own, own.root/prompts/ too.
    inputs: list[InputPath] = []
    # A prompt is held out (the held-out curve and the final figures) when xxh64(salt, its
    # conversation) falls below this fraction; the rest are PPO's training prompts.
    heldout_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    split_salt: str = "crisol-ppo-user-1"
    max_prompts: int = Field(20000, ge=1)  # training prompts kept (a seeded choice)
    examples_per_reason: int = Field(3, ge=0)  # row numbers kept per skip reason


class PPOParams(Section):
    """PPO against the reward model on a KL leash to the SFT model (stages/ppo). The SFT model (policy
    and reference) and the reward model in; the RLHF policy out."""

    sft: InputPath = Path("data/sft")  # = sft.out: model/ and examples.parquet (prompts)
    reward: InputPath = Path("data/reward")  # = reward.out: model/
    tokenizer: InputPath = Path("data/tokenizer")  # = tokenizer.out
    # Pretraining's token split, read only when text_mix_rows > 0.
    text: InputPath = Path("data/tokens/train")  # = tokenizer.tokens / train
    out: OutputDir = Path("data/ppo")  # model/, hf/, samples.json
    plots: OutputDir = Path("data/plots/ppo")
    metrics: OutputFile = Path("data/metrics/ppo.json")

    # prompts: SFT's questions of these kinds from these splits (rl: entities and invented names SFT
    # never trained on, where RLHF has something to teach; train: what SFT learned, so that it is
    # kept); its validation questions are the held-out prompts the gold score is measured on.
    # Facts and invented names only. Against all five kinds, on two seed sets (paired, same models):
    # held-out gold +0.050 +- 0.024 and +0.035 +- 0.030, all of it on invented names (+0.09: they are
    # half of each batch instead of a fifth); closed-book exact match +0.019 +- 0.019 and +0.006 +-
    # 0.017, and two-step gold -0.056 +- 0.056 and -0.042 +- 0.058, both within noise (docs/results.md,
    # session 31).
    kinds: list[str] = ["fact", "idk"]
    prompt_splits: list[str] = ["rl", "train"]
    # Each prompt's kind drawn uniformly, then a prompt of it (fact questions outnumber invented names
    # 8 to 1 on tiny, and counts and two-step questions are few where a run asks them).
    balance_kinds: bool = True
    heldout_prompts: int = Field(600, ge=1)  # at most (a seeded choice), either source
    # Source own: the user's prompts (kinds and prompt_splits are the world's).
    user: UserPromptParams = UserPromptParams()

    # Held-out gold rises over the first 20-30 steps and is flat after; the later steps turn right fact
    # answers wrong. 30 steps with PPO-ptx (below) against 60 without, same SFT and reward models, two
    # seed sets: closed-book exact match, RLHF - SFT, +0.006 +- 0.011 / +0.000 +- 0.018 (60: -0.019 +-
    # 0.014 / -0.031 +- 0.021), gold gain +0.104 / +0.127 (60: +0.127 / +0.150), half the time.
    steps: int = Field(30, ge=1)
    batch_size: int = Field(64, ge=1)  # prompts per rollout
    # Passes over each rollout. 2: 0.55 x the update time of 4 for 0.099 of its 0.123 held-out gold
    # gain (one seed, same SFT and reward model); 1 learned less "I don't know" (docs/results.md).
    ppo_epochs: int = Field(2, ge=1)
    minibatch_size: int = Field(16, ge=1)
    # With every weight training 1e-4 diverged (KL 3.2, held-out gold fell) and 5e-5 was the rate. The
    # top block alone (trained_layers 1), on one tiny run's SFT and reward models: 5e-5 / 1e-4 / 2e-4
    # gold gain 0.038 / 0.089 / 0.146 (+-0.034-0.040) for closed-book exact match -0.000 / -0.006 /
    # -0.019 against SFT (docs/results.md). 0 leaves the policy as it is (a test).
    lr: float = Field(1e-4, ge=0)
    # Sampling, and every log-prob pass. The SFT model is nearly greedy at 0.7 (entropy 0.07): too little
    # to explore.
    temperature: float = Field(1.0, gt=0)
    max_new_tokens: int = Field(24, ge=1)
    missing_eos_penalty: float = Field(1.0, ge=0)  # off the score of a reply with no end of turn
    # KL coefficient (initial when adaptive); 0: no leash. 0.1 against 0.05 (facts and invented names,
    # two seed sets, paired on the same models): closed-book exact match +0.019 +- 0.011 and -0.006 +-
    # 0.006, gold +0.000 +- 0.008 and +0.024 +- 0.024, hallucination 0.000 and 0.025 against 0.000 and 0.060.
    beta: float = Field(0.1, ge=0)
    # PPO-ptx: text_mix_rows windows of the policy's context from `text` join every minibatch, their
    # next-token loss times text_mix_weight (crisol/training/text_mix.py). 0 rows: off. 8 at 30 steps,
    # against none: closed-book exact match (RLHF - SFT) +0.006 / +0.000 against +0.006 / -0.019, gold
    # +0.104 / +0.127 against +0.110 / +0.132, two seed sets (docs/results.md, 2026-12-07).
    text_mix_rows: int = Field(8, ge=0)
    text_mix_weight: float = Field(1.0, ge=0)
    # Only the policy's top trained_layers blocks train (null: all), and with freeze_embeddings the
    # embedding and its tied head stay the SFT model's. Tiny (depth 4), one seed, lr 5e-5: with the top
    # block alone PPO turned 6 right closed-book answers wrong instead of 13, for about the same gold
    # gain; at the lr below, 8 (docs/results.md). A user's model of any depth keeps its top block trainable.
    trained_layers: int | None = Field(1, ge=1)
    freeze_embeddings: bool = True
    adaptive_kl: bool = False
    kl_target: float = Field(6.0, gt=0)
    kl_horizon: int = Field(10000, ge=1)
    clip: float = Field(0.2, gt=0)
    value_clip: float = Field(0.2, gt=0)
    vf_coef: float = Field(0.1, ge=0)
    # The value model is a copy of the reward model; its head starts at zero (the SFT samples'
    # mean score) or as the reward model's own head, normalised (stages/ppo/trainer.py).
    value_init: Literal["zero", "reward"] = "zero"
    gamma: float = Field(1.0, ge=0, le=1)
    lam: float = Field(0.95, ge=0, le=1)
    max_grad_norm: float = Field(1.0, ge=0)
    eval_every: int = Field(10, ge=1)  # steps; also at step 0 and the end
    samples: int = Field(8, ge=0)  # held-out replies kept for the report
    seed: int = 1
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = Field(None, ge=1)


# The profiles' values (the defaults are tiny's; crisol/core/params.py: PROFILE_NOTES).
PROFILES = {
    "micro": {
        "heldout_prompts": 32,
        "steps": 4,
        "batch_size": 8,
        "minibatch_size": 4,
        "max_new_tokens": 12,
        "eval_every": 2,
        "samples": 4,
    },
}
