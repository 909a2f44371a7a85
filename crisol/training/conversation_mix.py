"""The fine-tuning set rehearsed during PPO: each minibatch also trains on `rows` of SFT's own
training conversations (next-token loss on the assistant's tokens only, as SFT trained them),
weighted by `weight`.

PPO's updates for one kind of prompt move the greedy answer to every other: on the tiny world a
policy trained to decline on invented names turns right answers about held-out entities into wrong
ones, with neither the KL leash nor pretraining text (PPO-ptx) holding them (docs/results.md).
Rehearsing the demonstrations keeps the question -> answer mapping SFT learned in the gradient
(DeepSpeed-Chat's "unsupervised" mix with the SFT data as its set). The rows come from their own
seeded generator, so a run is deterministic and PPO's own minibatches are the same with and
without it.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import torch

from crisol.chat.template import ChatTemplate
from crisol.formats.conversations import Example
from crisol.model.transformer import IGNORE_INDEX
from crisol.training.text_mix import Rehearsal


class ConversationMix(Rehearsal):
    """`rows` conversations per step, drawn uniformly with replacement, right-padded."""

    def __init__(
        self, sequences: Sequence[tuple[np.ndarray, np.ndarray]], rows: int, weight: float, pad_id: int, seed: int
    ):
        """`sequences`: (inputs, targets) of each conversation, targets IGNORE_INDEX off the assistant."""
        if not sequences:
            raise ValueError("a conversation mix needs at least one conversation")
        self.sequences, self.rows, self.weight, self.pad_id = list(sequences), rows, weight, pad_id
        self.rng = np.random.Generator(np.random.PCG64(seed))

    def next_batch(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        chosen = [self.sequences[i] for i in self.rng.integers(0, len(self.sequences), size=self.rows)]
        width = max(len(inputs) for inputs, _ in chosen)
        inputs = np.full((self.rows, width), self.pad_id, dtype=np.int64)
        targets = np.full((self.rows, width), IGNORE_INDEX, dtype=np.int64)
        for row, (ids, trained) in enumerate(chosen):
            inputs[row, : len(ids)], targets[row, : len(ids)] = ids, trained
        return torch.from_numpy(inputs).to(device), torch.from_numpy(targets).to(device)


def conversation_sequences(
    examples: Iterable[Example], template: ChatTemplate, max_tokens: int
) -> tuple[list[tuple[np.ndarray, np.ndarray]], int]:
    """(inputs, targets) of every example that fits `max_tokens` template tokens, and how many did
    not (left out: the model has no positions for them)."""
    kept, over = [], 0
    for example in examples:
        rendered = template.render(example.messages)
        if len(rendered.ids) > max_tokens:
            over += 1
            continue
        ids = np.asarray(rendered.ids, dtype=np.int64)
        trained = np.asarray(rendered.mask[1:], dtype=bool)
        kept.append((ids[:-1], np.where(trained, ids[1:], IGNORE_INDEX)))
    return kept, over


def reply_sequence(prompt: Sequence[int], reply: Sequence[int], end_id: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) of a prompt and the reply to it, only the reply's tokens (and `end_id`, the
    end of turn that closed it, when given) as targets."""
    ids = np.asarray([*prompt, *reply, *([] if end_id is None else [end_id])], dtype=np.int64)
    targets = ids[1:].copy()
    targets[: len(prompt) - 1] = IGNORE_INDEX
    return ids[:-1], targets
