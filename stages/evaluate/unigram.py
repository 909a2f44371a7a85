"""The unigram baseline on held-out text: a model that knows only how often each token occurs.

Fitted on the tokenizer's train split (the tokens pretraining read), add-one smoothed over the
vocabulary, exactly as pretraining's baseline (stages/pretrain/evaluate.py) is; scored here on the
held-out documents' own tokens with the same byte count as the models' bits per byte
(metrics.text_perplexity: UTF-8 bytes of the text), so the two figures sit side by side: a model
under the unigram line has learned something about context.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from crisol.core.errors import StageInputError
from crisol.formats.tokens import TokenSplit
from stages.evaluate.metrics import count_bytes


@dataclass(frozen=True)
class Unigram:
    log2_p: np.ndarray  # [vocab] log2 of each token's smoothed train-split frequency
    train_tokens: int

    @classmethod
    def fit(cls, train_tokens: Path) -> "Unigram":
        split = TokenSplit(train_tokens)
        vocab = split.manifest.vocab_size
        counts = np.zeros(vocab, dtype=np.int64)
        for index in split.shard_indices:
            counts += np.bincount(split.tokens(index), minlength=vocab)[:vocab]
        if not counts.sum():
            raise StageInputError(f"{train_tokens}: the train split holds no token (the unigram baseline's data)")
        return cls(np.log2((counts + 1) / (counts.sum() + vocab)), int(counts.sum()))

    def bits_per_byte(self, encoded: Sequence[Sequence[int]], texts: Sequence[str]) -> float | None:
        """-sum of log2 p over every token of every document / their UTF-8 bytes (None: no bytes)."""
        n_bytes = sum(count_bytes(t) for t in texts)
        ids = np.fromiter((t for doc in encoded for t in doc), dtype=np.int64)
        if ids.size and int(ids.max()) >= self.log2_p.size:
            raise StageInputError(
                f"evaluate: token id {int(ids.max())} is outside the train split's vocabulary "
                f"({self.log2_p.size}): tokenizer and token split from different runs?"
            )
        if not n_bytes:
            return None
        value = float(-self.log2_p[ids].sum() / n_bytes)
        return value if math.isfinite(value) else None
