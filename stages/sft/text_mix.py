"""Pretraining text mixed into fine-tuning: each step also trains on `text_mix_rows` windows of the
pretraining split (next-token loss on every token, weighted by `text_mix_weight`), as InstructGPT's
PPO-ptx and nanochat's midtraining mix keep a model's pretraining while it learns a new form.

SFT on a small model teaches the answer form on the training entities' questions and rewrites what
the blocks store about every other entity as it does; rehearsing the text the facts came from is the
remedy the issue names for held-out extraction (measured in docs/results.md). The windows come from
their own generator seeded by sft.seed, so a run is deterministic and the instruction batches are the
same with and without the mix.
"""

from __future__ import annotations

import torch

from crisol.chat.template import ChatTemplate
from crisol.core.errors import StageInputError
from crisol.formats.token_checks import check_made_by, check_shards
from crisol.formats.tokenizer_file import file_sha256, tokenizer_path
from crisol.formats.tokens import TokenSplit
from crisol.training.windows import WindowSampler
from stages.sft.params import SftParams


class TextMix:
    """Batches of pretraining windows, `rows` per step, `weight` on their loss."""

    def __init__(self, sampler: WindowSampler, rows: int, weight: float):
        self.sampler, self.rows, self.weight = sampler, rows, weight

    def next_batch(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, targets) of this step's windows, [rows, max_tokens - 1] each."""
        inputs, targets = self.sampler.gather(self.sampler.draw(self.rows))
        return inputs.to(device), targets.to(device)

    @property
    def tokens_per_step(self) -> int:
        return self.rows * self.sampler.seq_len


def text_mix(params: SftParams, template: ChatTemplate) -> TextMix | None:
    """The mix `params` ask for, its split checked against the chat template's tokenizer; None when off."""
    if params.text_mix_rows == 0:
        return None
    if not params.text.is_dir():
        raise StageInputError(
            f"sft.text {params.text} not found: the pretraining token split text_mix_rows mixes in "
            "(run the tokenizer stage, or set sft.text_mix_rows: 0)"
        )
    split = TokenSplit(params.text)
    path = tokenizer_path(params.tokenizer)
    check_made_by(split, template.text_tokenizer, path, file_sha256(path))
    check_shards(split, split.manifest.vocab_size)
    sampler = WindowSampler(split, params.max_tokens - 1, params.seed, seq_len_setting="sft.max_tokens")
    return TextMix(sampler, params.text_mix_rows, params.text_mix_weight)
