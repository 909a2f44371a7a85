"""A preallocated key/value cache for incremental decoding, with per-row left padding.

Every layer's keys and values live in [batch, kv_heads, max_len, head_dim] tensors allocated
once; a forward writes its new keys at slots length..length+T-1 and attends to the view of slots
0..length+T-1, so no step concatenates or reallocates. All rows share one `length`: a batch of
unequal prompts is left-padded to a common width, and `starts[b]` (the pad count of row b)
hides row b's pad slots from attention and shifts its RoPE positions so its first real token is
at position 0, exactly as if it ran alone. The per-slot tables for both are precomputed here, so
a decode step only slices them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


class KVCache:
    """Keys and values of every layer for `batch_size` rows of up to `max_len` tokens."""

    def __init__(
        self,
        *,
        n_layers: int,
        batch_size: int,
        n_kv_heads: int,
        head_dim: int,
        max_len: int,
        starts: Tensor | Sequence[int] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ):
        if min(n_layers, batch_size, n_kv_heads, head_dim, max_len) < 1:
            raise ValueError("KVCache: layers, batch size, heads, head_dim and max_len must all be >= 1")
        shape = (batch_size, n_kv_heads, max_len, head_dim)
        self.keys = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(n_layers)]
        self.values = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(n_layers)]
        self.batch_size = batch_size
        self.max_len = max_len
        self.length = 0
        starts = (
            torch.zeros(batch_size, dtype=torch.long) if starts is None else torch.as_tensor(starts, dtype=torch.long)
        )
        if starts.shape != (batch_size,):
            raise ValueError(
                f"KVCache: starts must have one entry per row ({batch_size}), got shape {tuple(starts.shape)}"
            )
        if bool((starts < 0).any()) or bool((starts >= max_len).any()):
            raise ValueError(f"KVCache: starts must lie in [0, {max_len})")
        self.starts = starts.to(device)
        self.key_valid: Tensor | None = None  # [B, max_len]: slot holds a real token
        self.slot_positions: Tensor | None = None  # [B, max_len]: RoPE position of each slot
        if bool(starts.any()):
            slots = torch.arange(max_len, device=device)[None, :]
            self.key_valid = slots >= self.starts[:, None]
            self.slot_positions = (slots - self.starts[:, None]).clamp(min=0)

    @classmethod
    def for_model(
        cls, model, batch_size: int, max_len: int | None = None, starts: Tensor | Sequence[int] | None = None
    ) -> KVCache:
        """A cache shaped for `model` (a Transformer), on its device and in its dtype."""
        config = model.config
        weight = model.lm_head.weight
        return cls(
            n_layers=config.depth,
            batch_size=batch_size,
            n_kv_heads=config.n_kv_heads,
            head_dim=config.head_dim,
            max_len=max_len or config.max_seq_len,
            starts=starts,
            device=weight.device,
            dtype=weight.dtype,
        )

    @property
    def padded(self) -> bool:
        return self.key_valid is not None

    def update(self, layer: int, keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        """Store `keys`/`values` [B, kv_heads, T, D] after the cached ones; return all of them (views)."""
        end = self.length + keys.shape[2]
        self.keys[layer][:, :, self.length : end].copy_(keys)
        self.values[layer][:, :, self.length : end].copy_(values)
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]

    def advance(self, tokens: int) -> None:
        """Mark `tokens` more slots as filled; the model calls this once per forward, after every layer."""
        self.length += tokens

    def reset(self) -> None:
        self.length = 0
