"""Training windows sampled from memory-mapped token shards (pretraining's batches; the pretraining
text SFT mixes in).

A window is seq_len + 1 consecutive tokens (inputs and their next-token targets) starting at a
uniformly random position among every valid start of every shard: a shard is picked in proportion
to its number of windows, exactly as if the shards were one array. Documents are packed back to
back with eos between them, so a window may cross a document boundary, as in GPT-2 and nanoGPT.

Every process draws the whole global batch's start positions from one generator seeded alike, and
keeps its own slice: ranks read different windows, the generator's state is the same everywhere
(one checkpoint serves all ranks), and a run on N processes reads exactly the windows that one
process with N times the accumulation reads. Only the chosen windows are copied out of the maps.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from crisol.core.errors import StageInputError
from crisol.formats.tokens import TokenSplit


class WindowSampler:
    """Random (inputs, targets) batches of `seq_len` tokens from a TokenSplit."""

    def __init__(self, split: TokenSplit, seq_len: int, seed: int, seq_len_setting: str = "pretrain.seq_len"):
        """`seq_len_setting`: the parameter a split too short for one window asks the user to lower."""
        self.seq_len = seq_len
        self.arrays: list[np.ndarray] = []
        for index in split.shard_indices:
            tokens = split.tokens(index)
            if len(tokens) > seq_len:
                self.arrays.append(tokens)
        if not self.arrays:
            raise StageInputError(
                f"{split.directory}: no shard holds a window of {seq_len + 1} tokens "
                f"({split.manifest.tokens} tokens in all); lower {seq_len_setting}"
            )
        windows = np.array([len(a) - seq_len for a in self.arrays], dtype=np.int64)
        self.cumulative = np.cumsum(windows)
        self.rng = np.random.Generator(np.random.PCG64(seed))

    @property
    def windows(self) -> int:
        return int(self.cumulative[-1])

    def draw(self, count: int) -> np.ndarray:
        """Global start positions of `count` windows (advances the generator)."""
        return self.rng.integers(0, self.windows, size=count, dtype=np.int64)

    def gather(self, starts: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The windows at global `starts` as int64 (inputs, targets) of shape [len(starts), seq_len]."""
        shard = np.searchsorted(self.cumulative, starts, side="right")
        offsets = starts - np.concatenate(([0], self.cumulative[:-1]))[shard]
        out = np.empty((len(starts), self.seq_len + 1), dtype=np.int64)
        for row, (s, o) in enumerate(zip(shard, offsets)):
            out[row] = self.arrays[s][o : o + self.seq_len + 1]
        batch = torch.from_numpy(out)
        return batch[:, :-1], batch[:, 1:]

    def state(self) -> dict[str, Any]:
        return {"bit_generator": self.rng.bit_generator.state}

    def load_state(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["bit_generator"]


class GlobalBatches:
    """Per step: this rank's `grad_accum` micro-batches out of the global batch of the step."""

    def __init__(self, sampler: WindowSampler, batch_size: int, grad_accum: int, rank: int, world: int):
        self.sampler, self.batch_size, self.grad_accum = sampler, batch_size, grad_accum
        self.rank, self.world = rank, world

    def next_step(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        per_rank = self.batch_size * self.grad_accum
        starts = self.sampler.draw(per_rank * self.world)[self.rank * per_rank : (self.rank + 1) * per_rank]
        return [
            self.sampler.gather(starts[i * self.batch_size : (i + 1) * self.batch_size]) for i in range(self.grad_accum)
        ]
