"""A key/value cache of independent rows, for continuous batching: requests join and leave a
running batch between decode steps without moving anyone else's keys.

KVCache (kv_cache.py) suits a batch that starts together: every row shares one `length` and
shorter prompts are left-padded. A server's batch never starts together: a request arriving
mid-way has a prompt of its own length while the others are deep into their replies. Here each
row keeps its own length instead: row r holds its tokens in slots 0..lengths[r]-1, a decode step
writes each row's new key at its own next slot and rotates it to its own position, and the mask
hides every slot past a row's length (stale keys of a row's previous occupant included). So:

- join: prefill the prompt alone (a one-row KVCache), then copy its keys into a free row;
- leave: copy the last active row into the leaver's place, so active rows stay 0..active-1 and a
  step runs on a view of the first `active` rows (no gather, no copy of the batch);
- capacity grows by doubling up to `max_rows`, so an idle server holds a one-row cache.

`step_view()` is what `Transformer.hidden_states(ids[active, 1], cache=...)` reads for one decode
step: the same interface as KVCache (batch_size, length, max_len, key_valid, slot_positions,
update, advance). When every active row has the same length (one request alone, above all) it
passes no mask and no per-row positions, so the step runs exactly the ops `generate` runs.
"""

from __future__ import annotations

import torch
from torch import Tensor

from crisol.model.kv_cache import KVCache


class SlotCache:
    """Up to `max_rows` rows of up to `max_len` tokens each, for `model`'s layers."""

    def __init__(self, model, max_rows: int, max_len: int | None = None):
        if max_rows < 1:
            raise ValueError(f"SlotCache: max_rows must be >= 1, got {max_rows}")
        config = model.config
        weight = model.lm_head.weight
        self.n_layers, self.n_kv_heads, self.head_dim = config.depth, config.n_kv_heads, config.head_dim
        self.max_len = max_len or config.max_seq_len
        self.max_rows = max_rows
        self.device, self.dtype = weight.device, weight.dtype
        self.active = 0
        self.lengths = torch.zeros(0, dtype=torch.long, device=self.device)
        self.keys: list[Tensor] = []
        self.values: list[Tensor] = []
        self._allocate(1)

    @property
    def capacity(self) -> int:
        return self.lengths.shape[0]

    def _allocate(self, rows: int) -> None:
        """Grow to `rows` rows, keeping the active ones."""
        shape = (rows, self.n_kv_heads, self.max_len, self.head_dim)
        new_keys = [torch.zeros(shape, device=self.device, dtype=self.dtype) for _ in range(self.n_layers)]
        new_values = [torch.zeros(shape, device=self.device, dtype=self.dtype) for _ in range(self.n_layers)]
        for old, new in zip(self.keys + self.values, new_keys + new_values):
            new[: self.active].copy_(old[: self.active])
        lengths = torch.zeros(rows, dtype=torch.long, device=self.device)
        lengths[: self.active] = self.lengths[: self.active]
        self.keys, self.values, self.lengths = new_keys, new_values, lengths

    def add(self, prefill: KVCache) -> int:
        """Copy a one-row prefilled KVCache into a new active row; return the row's index."""
        if prefill.batch_size != 1 or prefill.padded:
            raise ValueError("SlotCache.add: expects a one-row, unpadded prefill cache")
        if self.active == self.max_rows:
            raise RuntimeError(f"SlotCache: all {self.max_rows} rows are in use")
        if prefill.length > self.max_len:
            raise ValueError(f"SlotCache.add: {prefill.length} tokens > max_len {self.max_len}")
        if self.active == self.capacity:
            self._allocate(min(self.max_rows, 2 * self.capacity))
        row, held = self.active, prefill.length
        for layer in range(self.n_layers):
            self.keys[layer][row, :, :held].copy_(prefill.keys[layer][0, :, :held])
            self.values[layer][row, :, :held].copy_(prefill.values[layer][0, :, :held])
        self.lengths[row] = held
        self.active += 1
        return row

    def remove(self, row: int) -> int | None:
        """Free `row`; the last active row moves into its place. Returns the index that moved
        (now at `row`), or None when the freed row was the last one."""
        if not 0 <= row < self.active:
            raise IndexError(f"SlotCache.remove: row {row} is not active (0..{self.active - 1})")
        last = self.active - 1
        self.active = last
        if row == last:
            return None
        held = int(self.lengths[last])
        for tensors in (self.keys, self.values):
            for layer in range(self.n_layers):
                tensors[layer][row, :, :held].copy_(tensors[layer][last, :, :held])
        self.lengths[row] = held
        return last

    def room(self, row: int) -> int:
        """How many more tokens row `row` can take."""
        return self.max_len - int(self.lengths[row])

    def step_view(self) -> _StepView:
        if self.active == 0:
            raise RuntimeError("SlotCache.step_view: no active row")
        return _StepView(self)


class _StepView:
    """One decode step of the active rows, in KVCache's interface (see the module docstring)."""

    def __init__(self, cache: SlotCache):
        self.cache = cache
        rows = cache.active
        self.batch_size = rows
        self.max_len = cache.max_len
        self.row_lengths = cache.lengths[:rows]
        self.length = int(self.row_lengths.max())
        self.uniform = bool((self.row_lengths == self.length).all())
        self.key_valid: Tensor | None = None
        self.slot_positions: Tensor | None = None
        if not self.uniform:
            slots = torch.arange(self.length + 1, device=cache.device)
            self.key_valid = slots[None, :] <= self.row_lengths[:, None]
            # Only column `length` is read (the step's query slot): each row's own next position.
            self.slot_positions = self.row_lengths[:, None].expand(rows, self.length + 1)
            self._rows = torch.arange(rows, device=cache.device)

    def update(self, layer: int, keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        if keys.shape[2] != 1:
            raise ValueError("SlotCache steps decode one token per row")
        rows, end = self.batch_size, self.length + 1
        stored_keys, stored_values = self.cache.keys[layer], self.cache.values[layer]
        if self.uniform:
            stored_keys[:rows, :, self.length].copy_(keys[:, :, 0])
            stored_values[:rows, :, self.length].copy_(values[:, :, 0])
        else:
            stored_keys[self._rows, :, self.row_lengths] = keys[:, :, 0]
            stored_values[self._rows, :, self.row_lengths] = values[:, :, 0]
        return stored_keys[:rows, :, :end], stored_values[:rows, :, :end]

    def advance(self, tokens: int) -> None:
        self.cache.lengths[: self.batch_size] += tokens
