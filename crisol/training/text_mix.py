"""Pretraining text mixed into fine-tuning: each optimiser step also trains on `rows` windows of the
pretraining split (next-token loss on every token, weighted by `weight`), as InstructGPT's PPO-ptx
and nanochat's midtraining mix keep a model's pretraining while it learns a new form.

SFT on a small model teaches the answer form on the training entities' questions and rewrites what
the blocks store about every other entity as it does; rehearsing the text the facts came from helps
held-out entities there (sft.text_mix_rows, on by default). In PPO (ppo.text_mix_rows, off) it did
not keep right answers from turning wrong; training only the top block did (docs/results.md). The
windows come from their own generator, so a run is deterministic and the stage's own batches are
the same with and without the mix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

from crisol.core.errors import StageInputError
from crisol.formats.token_checks import check_made_by, check_shards
from crisol.formats.tokenizer_file import file_sha256, tokenizer_path
from crisol.formats.tokens import TokenSplit
from crisol.model.transformer import Transformer
from crisol.training.windows import WindowSampler


class TextMix:
    """Batches of pretraining windows, `rows` per step, `weight` on their loss."""

    def __init__(self, sampler: WindowSampler, rows: int, weight: float):
        self.sampler, self.rows, self.weight = sampler, rows, weight

    def next_batch(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, targets) of this step's windows, [rows, seq_len] each."""
        inputs, targets = self.sampler.gather(self.sampler.draw(self.rows))
        return inputs.to(device), targets.to(device)

    def loss(self, model: Transformer, device: torch.device) -> torch.Tensor:
        """`weight` x the model's mean next-token loss on this step's windows (advances the draw)."""
        inputs, targets = self.next_batch(device)
        logits, _ = model(inputs)
        return self.weight * F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1))

    @property
    def tokens_per_step(self) -> int:
        return self.rows * self.sampler.seq_len


class MixParams(Protocol):
    """The params a stage that mixes in pretraining text has (sft, ppo)."""

    text: Path  # the token split
    tokenizer: Path  # the directory of the tokenizer file the stage reads
    text_mix_rows: int
    text_mix_weight: float
    seed: int


def text_mix(params: MixParams, tokenizer: Tokenizer, seq_len: int, section: str) -> TextMix | None:
    """The mix `params` ask for: text_mix_rows windows of `seq_len` tokens from the split at
    params.text, checked against the stage's `tokenizer` (the file in params.tokenizer); None when
    text_mix_rows is 0. `section` names the params section in errors (sft, ppo)."""
    split, tokenizer_dir, rows = params.text, params.tokenizer, params.text_mix_rows
    if rows == 0:
        return None
    if not split.is_dir():
        raise StageInputError(
            f"{section}.text {split} not found: the pretraining token split text_mix_rows mixes in "
            f"(run the tokenizer stage, or set {section}.text_mix_rows: 0)"
        )
    token_split = TokenSplit(split)
    path = tokenizer_path(tokenizer_dir)
    check_made_by(token_split, tokenizer, path, file_sha256(path))
    check_shards(token_split, token_split.manifest.vocab_size)
    sampler = WindowSampler(token_split, seq_len, params.seed, seq_len_setting=f"{section}.max_tokens")
    return TextMix(sampler, rows, params.text_mix_weight)
