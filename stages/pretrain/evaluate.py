"""What a checkpoint has learned: validation loss and bits per byte, the unigram baseline on the
same tokens, and closed-book fact completion.

Bits per byte = (nats per token / ln 2) x (tokens / bytes), over the validation targets that stand
for text (nanochat's convention: special tokens such as eos carry no bytes and are left out of both
sums, so the figure does not depend on the vocabulary). The validation split is cut into
consecutive, non-overlapping windows (every target predicted once), up to `eval_tokens`.

The unigram baseline is a model that knows only token frequencies: the train split's counts (add-one
smoothed), scored on the same targets the same way. A model under it has learned context.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer
from torch import nn

from crisol.core.errors import StageInputError
from crisol.facts import ProbeSet, score_completions, token_completer
from crisol.formats.tokens import TokenSplit
from crisol.model.sampling import generate
from crisol.training.device import autocast


@dataclass(frozen=True)
class ValidationSet:
    inputs: torch.Tensor  # [windows, seq_len] int64
    targets: torch.Tensor  # [windows, seq_len] int64
    target_bytes: torch.Tensor  # [windows, seq_len] int64: bytes of each target (0: special)

    @property
    def tokens(self) -> int:
        return int(self.targets.numel())

    @property
    def bytes(self) -> int:
        return int(self.target_bytes.sum())


def validation_set(split: TokenSplit, seq_len: int, max_tokens: int, byte_lengths: np.ndarray) -> ValidationSet:
    rows: list[np.ndarray] = []
    budget = max_tokens
    for index in split.shard_indices:
        tokens = split.tokens(index)
        count = min((len(tokens) - 1) // seq_len, max(0, budget) // seq_len)
        for w in range(count):
            rows.append(np.asarray(tokens[w * seq_len : w * seq_len + seq_len + 1], dtype=np.int64))
        budget -= count * seq_len
    if not rows:
        raise StageInputError(
            f"{split.directory}: fewer than {seq_len + 1} validation tokens in any shard "
            f"(or pretrain.eval_tokens < seq_len); nothing to evaluate on"
        )
    windows = torch.from_numpy(np.stack(rows))
    targets = windows[:, 1:]
    return ValidationSet(inputs=windows[:, :-1], targets=targets, target_bytes=torch.from_numpy(byte_lengths)[targets])


@torch.no_grad()
def validation_loss(
    model: nn.Module, data: ValidationSet, batch_size: int, device: torch.device, bf16: bool
) -> dict[str, float]:
    """Mean loss in nats per token over every target, and bits per byte over the text targets."""
    was_training = model.training
    model.eval()
    total_nats = 0.0
    text_nats = 0.0
    for start in range(0, data.inputs.shape[0], batch_size):
        x = data.inputs[start : start + batch_size].to(device)
        y = data.targets[start : start + batch_size].to(device)
        with autocast(device, bf16):
            logits, _ = model(x)
        nats = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="none")
        has_bytes = data.target_bytes[start : start + batch_size].flatten().to(device) > 0
        total_nats += float(nats.sum())
        text_nats += float(nats[has_bytes].sum())
    model.train(was_training)
    return {"loss": total_nats / data.tokens, "bits_per_byte": text_nats / math.log(2) / data.bytes}


def unigram_bits_per_byte(train: TokenSplit, data: ValidationSet, vocab_size: int) -> float:
    """Cross-entropy of the train split's add-one-smoothed unigram distribution on the validation
    text targets, in bits per byte."""
    counts = np.zeros(vocab_size, dtype=np.int64)
    for index in train.shard_indices:
        counts += np.bincount(train.tokens(index), minlength=vocab_size)[:vocab_size]
    log2_p = np.log2((counts + 1) / (counts.sum() + vocab_size))
    targets = data.targets.numpy().ravel()
    keep = data.target_bytes.numpy().ravel() > 0
    return float(-log2_p[targets[keep]].sum() / data.bytes)


def fact_accuracy(model: nn.Module, tokenizer: Tokenizer, probes: ProbeSet, eos_id: int) -> dict[str, Any]:
    """Greedy closed-book completion of the probes (each read as a fresh document, after eos)."""
    was_training = model.training
    model.eval()
    complete = token_completer(tokenizer, functools.partial(generate, model), probes.probes, prefix_ids=[eos_id])
    score = score_completions(probes.probes, complete, modes=probes.modes)
    model.train(was_training)
    return score.to_dict()
