"""The `sft` section of params.yaml: what SFT reads (SftDataParams: ground truth to generate from,
user data, the length cap) and how it trains and evaluates (SftParams). Defaults are the `tiny`
profile, PROFILES holds the other profiles' values. Budgets are epochs over the training examples,
never minutes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from crisol.core.params import Section
from crisol.core.path_roles import InputPath, OutputDir, OutputFile
from crisol.core.switch import Switch
from crisol.training.optim import OptimizerName

EntityKind = Literal["person", "city", "country", "organisation"]
UserFormat = Literal["auto", "alpaca", "dolly", "openai", "sharegpt"]


class GenerationParams(Section):
    """Instruction data from the synthetic world's ground truth, and its split by entity."""

    seed: int = 0
    # A subject entity is held out (test) or in validation when xxh64(salt, id) falls in its band:
    # its own id decides, so a bigger world never moves an old entity to another split.
    split_salt: str = "crisol-sft-split-1"
    heldout_fraction: float = Field(0.1, ge=0.0, lt=1.0)  # pretrained on, never asked in SFT
    validation_fraction: float = Field(0.05, ge=0.0, lt=1.0)
    # Entities kept for RLHF (split "rl"): SFT never trains on their questions; the reward model and
    # PPO take their prompts from there (stages/sft/split.py says why).
    rl_fraction: float = Field(0.15, ge=0.0, lt=1.0)
    # Countries are few (6 on tiny) and their names are in every city's facts: holding one out
    # would strip a sixth of the city questions from training, so they stay in by default.
    heldout_kinds: list[EntityKind] = ["person", "city", "organisation"]
    # Only facts some English page states: SFT on a fact pretraining never showed would teach the
    # model to answer what it cannot know.
    only_stated_facts: bool = True
    # Distinct phrasings per training fact: all 3 give 54.5% held-out exact match over 3 seeds (2: 52.8%,
    # one seed).
    questions_per_fact: int = Field(3, ge=1)
    # Questions about invented entities, answered "I don't know.", each split with names of its own.
    # Few in training: SFT learns the form of declining and does it often, not always (100 gave 80%
    # on held-out invented names, 400 gave 98%), which leaves RLHF something to teach.
    idk_examples: int = Field(100, ge=0)
    idk_validation_examples: int = Field(100, ge=0)
    idk_eval_examples: int = Field(200, ge=0)  # test: what evaluation asks
    idk_rl_examples: int = Field(300, ge=0)  # RLHF prompts
    reading_examples: int = Field(1500, ge=0)  # passage + question
    passage_max_chars: int = Field(300, ge=80)  # passages of ~75 tokens: reading questions fit max_tokens
    list_examples: int = Field(300, ge=0)
    list_max_items: int = Field(6, ge=2)
    count_examples: int = Field(300, ge=0)
    compare_examples: int = Field(600, ge=0)
    # Two-step questions (the country of a person's birth city), answered by naming the middle entity
    # first ("Born in Lima, so the answer is Peru."): the format needs few examples.
    two_hop_examples: int = Field(150, ge=0)

    @model_validator(mode="after")
    def _fractions_fit(self) -> "GenerationParams":
        if self.heldout_fraction + self.validation_fraction + self.rl_fraction >= 1.0:
            raise ValueError(
                "heldout_fraction + validation_fraction + rl_fraction must be below 1 (nothing left to train on)"
            )
        return self


class UserDataParams(Section):
    """Instruction data given by the user: JSONL (.gz), JSON (.gz) or Parquet files or directories of
    them; with `source: own`, the files under own.root/instructions come first."""

    # JSONL (.gz) / JSON (.gz) / Parquet files or directories (Alpaca, Dolly, OpenAI, ShareGPT); with
    # source: own, own.root/instructions/ is read first.
    inputs: list[InputPath] = []
    format: UserFormat = "auto"  # auto: detected per file from its rows
    # A row is in validation when u = xxh64(salt, its conversation) / 2^64 falls below
    # validation_fraction, in test (held out: SFT's test loss, later stages' prompts) when u falls
    # in the next test_fraction, else in train: its content decides, never the file's order.
    validation_fraction: float = Field(0.05, ge=0.0, lt=1.0)
    test_fraction: float = Field(0.05, ge=0.0, lt=1.0)
    split_salt: str = "crisol-sft-user-1"
    examples_per_reason: int = Field(3, ge=0)  # row numbers kept per skip reason

    @model_validator(mode="after")
    def _fractions_fit(self) -> "UserDataParams":
        if self.validation_fraction + self.test_fraction >= 1.0:
            raise ValueError("validation_fraction + test_fraction must be below 1 (nothing left to train on)")
        return self


class SftDataParams(Section):
    """Everything SFT reads before training: ground truth to generate from, user data, length cap."""

    # The world's ground truth, read only with `source: synthetic` (own data generates nothing).
    facts: InputPath = Path("data/web/facts.parquet")  # = web.facts
    pages: InputPath = Path("data/web/pages.parquet")  # = web.pages
    tokenizer: InputPath = Path("data/tokenizer")  # = tokenizer.out
    # A conversation longer than this after templating is skipped, counted (= pretrain.seq_len: the
    # model never saw positions past it).
    max_tokens: int = Field(128, ge=8)
    # Instruction data generated from the world's ground truth (source synthetic), split by entity.
    generated: GenerationParams = GenerationParams()
    # Instruction data given by the user, split by a hash of each row.
    user: UserDataParams = UserDataParams()


class SftParams(SftDataParams):
    """Supervised fine-tuning in the chat template, from the pretrained model (stages/sft). The
    pretrained model and the instruction data in; the fine-tuned model, its evaluation out."""

    base: InputPath = Path("data/pretrain/model")  # = pretrain.out / model
    # Pretraining's token split, read only when text_mix_rows > 0.
    text: InputPath = Path("data/tokens/train")  # = tokenizer.tokens / train
    # random: the same fine-tuning from an untrained model of the base's shape, the control that
    # shows the answers come from pretraining (it should stay at chance on held-out entities).
    init: Literal["pretrained", "random"] = "pretrained"
    out: OutputDir = Path("data/sft")  # model/, hf/, examples.parquet, evaluation.json
    plots: OutputDir = Path("data/plots/sft")  # step-indexed CSVs for `dvc plots`
    metrics: OutputFile = Path("data/metrics/sft.json")

    # optimisation
    epochs: int = Field(4, ge=1)
    batch_size: int = Field(32, ge=1)  # rows (conversations, or packed rows) per step
    packing: bool = False  # pack conversations into rows of max_tokens
    # adamw, or muon: Muon for the blocks' matrices, AdamW for the rest (crisol/training/optim.py).
    optimizer: OptimizerName = "adamw"
    lr: float = Field(3e-4, gt=0)
    muon_lr_scale: float = Field(1.0, gt=0)  # Muon's peak rate as a multiple of lr
    min_lr_ratio: float = Field(0.1, ge=0, le=1)
    warmup_steps: int = Field(20, ge=0)
    decay: Literal["cosine", "linear"] = "cosine"
    weight_decay: float = Field(0.0, ge=0)
    beta1: float = Field(0.9, ge=0, lt=1)
    beta2: float = Field(0.95, ge=0, lt=1)
    grad_clip: float = Field(1.0, ge=0)
    seed: int = 1
    # Full fine-tuning by default; freeze_layers > 0 trains only the blocks above the lowest N.
    freeze_layers: int = Field(0, ge=0)
    freeze_embeddings: bool = False  # the embedding (and the tied lm_head)
    # Pretraining text mixed into every step: text_mix_rows windows of max_tokens tokens from `text`,
    # whose next-token loss is added to the instructions' times text_mix_weight (crisol/training/text_mix.py).
    # 0 rows: off. 8 on tiny: held-out exact match +0.037 +- 0.017 over two seeds (16: +0.009, one seed).
    text_mix_rows: int = Field(8, ge=0)
    text_mix_weight: float = Field(1.0, ge=0)

    # evaluation: validation loss on assistant tokens (and exact match, when it selects) every
    # eval_every steps; the model kept is the best by `select_by` (SFT overfits within a few epochs).
    # auto: exact match when the world's generated questions are the data (short gold answers),
    # validation loss on assistant tokens otherwise (free-text answers: exact match means nothing).
    # 50 on tiny: the same kept model as 25 on three seeds (kept steps 400, 300, 350), 8% less time.
    eval_every: int = Field(50, ge=1)
    select_by: Literal["auto", "exact_match", "loss"] = "auto"
    eval_examples: int = Field(300, ge=1)  # validation questions answered per evaluation
    max_new_tokens: int = Field(24, ge=1)
    few_shot: int = Field(3, ge=0)  # shots in the base model's baseline prompt
    samples: int = Field(12, ge=0)  # sample conversations for the report, spread over kinds
    log_every: int = Field(10, ge=1)

    device: Literal["auto", "cpu", "cuda"] = "auto"
    bf16: Switch = "auto"  # bf16 autocast; auto: CUDA or a CPU with bf16 hardware, as pretraining's
    threads: int | None = Field(None, ge=1)


# The profiles' values (the defaults are tiny's; crisol/core/params.py: PROFILE_NOTES).
PROFILES = {
    "micro": {
        "max_tokens": 64,
        "generated": {
            "passage_max_chars": 120,
            "reading_examples": 200,
            "compare_examples": 100,
            "idk_examples": 100,
            "idk_validation_examples": 20,
            "idk_eval_examples": 40,
            "idk_rl_examples": 40,
        },
        # A 64-token context keeps ~1 real row in 10: wider held-out bands, so that validation and test
        # are not one or two rows.
        "user": {"validation_fraction": 0.15, "test_fraction": 0.15},
        "epochs": 1,
        "batch_size": 16,
        "eval_every": 20,
        "eval_examples": 40,
        "max_new_tokens": 12,
        "samples": 4,
    },
    "small": {"max_tokens": 512, "generated": {"passage_max_chars": 1500}, "lr": 0.0001},
    "large": {"max_tokens": 1024, "generated": {"passage_max_chars": 3000}, "lr": 0.00005},
}
