"""Conversations to training batches: the template's ids and loss mask as (input, target) pairs,
one conversation per row (right-padded) or several packed into a row.

A conversation of n tokens gives n - 1 inputs and targets; a target is the next token where the
template's mask is 1 (assistant content and its closing end), IGNORE_INDEX elsewhere, so the
loss is the mean over the assistant's tokens only. Packing puts conversations back to back in
rows of at most `capacity` inputs, with per-conversation positions (each counts from 0) and
segment ids: the model's segment mask keeps attention inside each conversation, so a packed row
trains exactly as its conversations would alone, with fewer pad slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import torch

from crisol.chat.template import ChatTemplate
from crisol.formats.conversations import Example
from crisol.model.transformer import IGNORE_INDEX


@dataclass(frozen=True)
class Sequence:
    inputs: np.ndarray  # int64 [n - 1]
    targets: np.ndarray  # int64 [n - 1], IGNORE_INDEX where not trained on

    def __len__(self) -> int:
        return len(self.inputs)

    @property
    def trained_tokens(self) -> int:
        return int((self.targets != IGNORE_INDEX).sum())


def to_sequence(ids: list[int], mask: list[int]) -> Sequence:
    ids_array = np.asarray(ids, dtype=np.int64)
    trained = np.asarray(mask[1:], dtype=bool)
    return Sequence(ids_array[:-1], np.where(trained, ids_array[1:], IGNORE_INDEX))


def to_sequences(examples: Iterable[Example], template: ChatTemplate) -> list[Sequence]:
    out = []
    for example in examples:
        rendered = template.render(example.messages)
        out.append(to_sequence(rendered.ids, rendered.mask))
    return out


@dataclass(frozen=True)
class Batch:
    ids: torch.Tensor  # [B, T]
    targets: torch.Tensor  # [B, T]
    positions: torch.Tensor | None  # [B, T] when packed
    segments: torch.Tensor | None  # [B, T] when packed (pad slots: -1)

    @property
    def trained_tokens(self) -> int:
        return int((self.targets != IGNORE_INDEX).sum())

    def to(self, device: torch.device) -> "Batch":
        move = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return Batch(move(self.ids), move(self.targets), move(self.positions), move(self.segments))


def pack(sequences: list[Sequence], capacity: int) -> list[list[Sequence]]:
    """Rows of consecutive sequences whose lengths sum to at most capacity (in the given order)."""
    rows: list[list[Sequence]] = []
    used = capacity
    for sequence in sequences:
        if len(sequence) > capacity:
            raise ValueError(f"a sequence of {len(sequence)} inputs does not fit a row of {capacity}")
        if used + len(sequence) > capacity:
            rows.append([])
            used = 0
        rows[-1].append(sequence)
        used += len(sequence)
    return rows


def collate(rows: list[list[Sequence]], pad_id: int, packed: bool) -> Batch:
    width = max(sum(len(s) for s in row) for row in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    targets = np.full((len(rows), width), IGNORE_INDEX, dtype=np.int64)
    positions = np.zeros((len(rows), width), dtype=np.int64)
    segments = np.full((len(rows), width), -1, dtype=np.int64)
    for r, row in enumerate(rows):
        at = 0
        for segment, sequence in enumerate(row):
            end = at + len(sequence)
            ids[r, at:end] = sequence.inputs
            targets[r, at:end] = sequence.targets
            positions[r, at:end] = np.arange(len(sequence))
            segments[r, at:end] = segment
            at = end
    as_tensor = torch.from_numpy
    if not packed:  # right padding under the causal mask needs neither
        return Batch(as_tensor(ids), as_tensor(targets), None, None)
    return Batch(as_tensor(ids), as_tensor(targets), as_tensor(positions), as_tensor(segments))


def epoch_batches(
    sequences: list[Sequence], batch_size: int, pad_id: int, *, packing: bool, capacity: int, rng: np.random.Generator
) -> list[Batch]:
    """One pass over the sequences in a fresh random order, as batches of batch_size rows."""
    order = [sequences[i] for i in rng.permutation(len(sequences))]
    rows = pack(order, capacity) if packing else [[s] for s in order]
    return [collate(rows[i : i + batch_size], pad_id, packing) for i in range(0, len(rows), batch_size)]


def evaluation_batches(sequences: list[Sequence], batch_size: int, pad_id: int) -> list[Batch]:
    """In length order (little padding), unpacked: for the validation loss."""
    ordered = sorted(sequences, key=len)
    return [
        collate([[s] for s in ordered[i : i + batch_size]], pad_id, False) for i in range(0, len(ordered), batch_size)
    ]
