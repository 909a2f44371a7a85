"""The `ppo` section of params.yaml. Defaults are the `tiny` profile. Budgets are PPO steps (each
one rollout batch of `batch_size` prompts), never minutes."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from stages.common.params import Section


class PPOParams(Section):
    """The SFT model (policy and reference) and the reward model in; the RLHF policy out."""

    sft: Path = Path("data/sft")                       # = sft.out: model/ and examples.parquet (prompts)
    reward: Path = Path("data/reward")                 # = reward.out: model/
    tokenizer: Path = Path("data/tokenizer")           # = tokenizer.out
    out: Path = Path("data/ppo")                       # model/, hf/, samples.json
    plots: Path = Path("data/plots/ppo")
    metrics: Path = Path("data/metrics/ppo.json")

    # prompts: SFT's training questions of these kinds; its validation questions are the held-out
    # prompts the gold score is measured on (entities SFT never trained on, and invented ones)
    kinds: list[str] = ["fact", "idk", "compare", "count", "two_hop"]
    heldout_prompts: int = Field(300, ge=1)

    steps: int = Field(60, ge=1)
    batch_size: int = Field(32, ge=1)                  # prompts per rollout
    ppo_epochs: int = Field(4, ge=1)
    minibatch_size: int = Field(8, ge=1)
    lr: float = Field(1e-5, ge=0)                      # 0 leaves the policy where it is (a test)
    temperature: float = Field(0.7, gt=0)             # sampling, and every log-prob pass
    max_new_tokens: int = Field(24, ge=1)
    missing_eos_penalty: float = Field(1.0, ge=0)      # off the score of a reply with no end of turn
    beta: float = Field(0.05, ge=0)                    # KL coefficient (initial, when adaptive)
    adaptive_kl: bool = False
    kl_target: float = Field(6.0, gt=0)
    kl_horizon: int = Field(10000, ge=1)
    clip: float = Field(0.2, gt=0)
    value_clip: float = Field(0.2, gt=0)
    vf_coef: float = Field(0.1, ge=0)
    gamma: float = Field(1.0, ge=0, le=1)
    lam: float = Field(0.95, ge=0, le=1)
    max_grad_norm: float = Field(1.0, ge=0)
    eval_every: int = Field(10, ge=1)                  # steps; also at step 0 and the end
    samples: int = Field(8, ge=0)                      # held-out replies kept for the report
    seed: int = 1
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = Field(None, ge=1)
