"""The `evaluate` section of params.yaml: which models are scored, on what, and where the report
card goes. Defaults are the `tiny` profile, PROFILES holds the other profiles' values; item counts cap
each task so the stage stays minutes."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from crisol.core.params import Section
from crisol.core.path_roles import InputFolder, InputPath, OutputDir, OutputFile


class EvaluateParams(Section):
    """Every model the pipeline made, scored on one suite, and the report card (stages/evaluate); one
    scoring primitive (stages/evaluate/loglikelihood.py)."""

    base: InputPath = Path("data/pretrain")  # = pretrain.out: model/
    sft: InputPath = Path("data/sft")  # = sft.out: model/, examples.parquet (the questions)
    rlhf: InputPath = Path("data/ppo")  # = ppo.out: model/
    reward: InputPath = Path("data/reward")  # = reward.out: model/ (alignment figures)
    tokenizer: InputPath = Path("data/tokenizer")  # = tokenizer.out
    documents: InputPath = Path("data/dedup/documents")  # = dedup.documents: the held-out documents' text
    validation_tokens: InputPath = Path("data/tokens/validation")  # which documents are held out
    train_tokens: InputPath = Path("data/tokens/train")  # source own: the unigram baseline's counts
    metrics_in: InputFolder = Path("data/metrics")  # the other stages' metrics (the report's funnel)
    plots_in: InputFolder = Path("data/plots")  # the other stages' curves (the report's figures)
    out: OutputDir = Path("data/evaluate")  # report.md, results/, samples/, table.json, speedrun.json
    # PNGs (training curves, base vs SFT vs RLHF): DVC image plots, so not inside the cached out
    figures: OutputDir = Path("data/plots/evaluate")
    metrics: OutputFile = Path("data/metrics/evaluate.json")

    # HellaSwag-format JSONL files (ctx, endings, label). A missing file is skipped with its reason
    # in the metrics, so the default works where ../shared is absent.
    multiple_choice_files: list[InputPath] = [Path("../shared/data/hellaswag/val_500.jsonl")]
    multiple_choice_items: int = Field(500, ge=1)  # per file, the first ones

    heldout_documents: int = Field(200, ge=1)  # rolling log-likelihood (perplexity, bits per byte)
    completion_items: int = Field(300, ge=1)  # the true next sentence among distractors
    completion_choices: int = Field(4, ge=2)
    completion_context_chars: int = Field(300, ge=20)  # the text before the sentence, cut at a sentence start

    few_shot: int = Field(3, ge=0)  # shots for the base model's k-shot prompts
    max_new_tokens: int = Field(24, ge=1)
    open_book_items: int = Field(200, ge=1)  # reading questions (passage in the prompt)
    alignment_temperature: float = Field(1.0, gt=0)  # = ppo.temperature: KL and win rate on sampled replies
    samples: int = Field(6, ge=0)  # sample generations per model in the report

    # Source own only (stages/evaluate/own_suite.py): a user's files under own.root/eval, PPO's
    # held-out prompts and the reward stage's held-out human pairs.
    qa_items: int = Field(500, ge=1)  # per QA file, the first ones (after the shots)
    alignment_prompts: int = Field(200, ge=1)  # held-out prompts for RLHF vs SFT (a seeded subset)
    preference_pairs: int = Field(2000, ge=1)  # the reward stage's held-out pairs scored (seeded subset)

    batch_size: int = Field(32, ge=1)
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = Field(None, ge=1)


# The profiles' values (the defaults are tiny's; crisol/core/params.py: PROFILE_NOTES).
PROFILES = {
    "micro": {
        "multiple_choice_items": 40,
        "heldout_documents": 20,
        "completion_items": 40,
        "open_book_items": 20,
        "max_new_tokens": 12,
        "samples": 3,
    },
}
