"""Rotary position embedding in Hugging Face Llama's convention, with precomputed tables.

Llama (and transformers' `LlamaRotaryEmbedding`) rotates the first half of each head against the
second half ("rotate_half"), with frequencies inv_freq[i] = 1 / theta^(2i / head_dim) repeated
for both halves. The tables here hold cos and sin for every position up to max_seq_len, computed
with the same float32 operations as transformers, so the rotation is bit for bit the same.

    x_rot = x * cos + rotate_half(x) * sin,     rotate_half(x) = cat(-x2, x1)

is evaluated as x * cos + cat(x2, x1) * sin_signed with sin_signed = cat(-sin, sin): negating
the table instead of the activations is exact in IEEE arithmetic and saves one op per call,
which matters in the single-token decode loop.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def inverse_frequencies(head_dim: int, theta: float) -> Tensor:
    """1 / theta^(2i/d) for i < d/2, exactly as transformers computes it (float32)."""
    return 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).to(torch.float) / head_dim))


class RotaryTables(nn.Module):
    """cos and signed sin for positions 0..max_len-1, shape [max_len, head_dim] (not saved)."""

    def __init__(self, head_dim: int, max_len: int, theta: float):
        super().__init__()
        self.head_dim = head_dim
        self.max_len = max_len
        self.theta = theta
        cos, sin_signed = self._tables()
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin_signed", sin_signed, persistent=False)

    def _tables(self) -> tuple[Tensor, Tensor]:
        positions = torch.arange(self.max_len, dtype=torch.int64).float()
        freqs = positions[:, None] * inverse_frequencies(self.head_dim, self.theta)[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        half = self.head_dim // 2
        sin = emb.sin()
        return emb.cos(), torch.cat((-sin[:, :half], sin[:, half:]), dim=-1)

    def _apply(self, fn, recurse: bool = True):
        # Keep the tables in float32 when the model is cast (model.half() / .to(bfloat16)):
        # transformers computes them in float32 and casts cos/sin per call to the activations'
        # dtype, which `lookup` does too.
        result = super()._apply(fn, recurse)
        if self.cos.dtype != torch.float32:
            cos, sin_signed = self._tables()
            self.cos = cos.to(self.cos.device)
            self.sin_signed = sin_signed.to(self.sin_signed.device)
        return result

    def lookup(self, positions: Tensor | slice, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """Tables for `positions`: a slice (the same positions for every row) gives [T, 1, D],
        a LongTensor [B, T] gives [B, T, 1, D]; both broadcast over [B, T, heads, D]."""
        cos, sin = self.cos[positions], self.sin_signed[positions]
        if cos.dtype != dtype:
            cos, sin = cos.to(dtype), sin.to(dtype)
        return cos.unsqueeze(-2), sin.unsqueeze(-2)


def apply_rotary(x: Tensor, cos: Tensor, sin_signed: Tensor) -> Tensor:
    """Rotate x [B, T, heads, D] by the looked-up tables (see the module docstring)."""
    half = x.shape[-1] // 2
    swapped = torch.cat((x[..., half:], x[..., :half]), dim=-1)
    return x * cos + swapped * sin_signed
