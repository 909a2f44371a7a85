"""Causal self-attention with RoPE and grouped-query heads, and the masks it runs under.

Masks are built once per forward and shared by every layer. Without padding none is needed:
a prefill runs SDPA with is_causal=True and a single-token decode step attends to every cached
key, so it runs with no mask at all (SDPA's fastest path). Left-padded batches use a boolean
mask that hides each row's pad slots; its decode-step form is a view of a table the KV cache
precomputes, so no step allocates a mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from crisol.model.rope import apply_rotary


@dataclass(frozen=True)
class AttentionContext:
    """What every layer of one forward shares: rotary tables, the mask and whether SDPA masks causally."""

    cos: Tensor
    sin_signed: Tensor
    mask: Tensor | None
    is_causal: bool


def causal_mask(key_valid: Tensor | None, past: int, length: int, device: torch.device) -> tuple[Tensor | None, bool]:
    """(mask, is_causal) for `length` queries at slots past..past+length-1 over past+length keys.

    key_valid [B, >= past+length] marks real (non-pad) slots per row, or is None with no padding.
    A query may see key j when j <= its own slot and j is a real token; a pad query also sees
    itself, so its softmax row is never empty (its output is garbage nobody reads, but not NaN).
    """
    total = past + length
    if key_valid is None:
        if past == 0:
            return None, length > 1
        if length == 1:
            return None, False
        return torch.ones(length, total, dtype=torch.bool, device=device).tril(past), False
    valid = key_valid[:, None, None, :total]
    if length == 1:
        # A decode step's query is a generated token, always real: the pad rule alone is enough.
        return valid, False
    slots = torch.arange(total, device=device)
    query_slots = slots[past:, None]
    mask = (slots[None, :] <= query_slots) & (valid | (slots[None, :] == query_slots))
    return mask, False


def segment_mask(segments: Tensor) -> Tensor:
    """The mask of packed rows: a query sees the keys at or before it in its own segment.

    segments [B, T] numbers the sequences packed into each row (any ids, equal within one
    sequence); the result [B, 1, T, T] keeps attention from crossing from one packed sequence
    into the one before it, so each learns as if it were alone in its row.
    """
    length = segments.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=segments.device).tril()
    return ((segments[:, :, None] == segments[:, None, :]) & causal)[:, None]


def attend(q: Tensor, k: Tensor, v: Tensor, ctx: AttentionContext, grouped: bool) -> Tensor:
    """F.scaled_dot_product_attention, in float32 under CPU autocast.

    On CPU, bf16 autocast pays where matmuls run on AMX tiles (4x float32's speed on the tiny
    model), but torch's bf16 flash-attention kernel for CPU is slower than its float32 one (2.7x in
    the backward pass): attention alone leaves autocast there.
    """
    if q.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
        with torch.autocast("cpu", enabled=False):
            return attend(q.float(), k.float(), v.float(), ctx, grouped)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=ctx.mask, is_causal=ctx.is_causal, enable_gqa=grouped)


class Attention(nn.Module):
    """Multi-head attention with Llama's math and no biases.

    q, k and v read the same input, so they are one matrix `qkv_proj` (q heads, then k heads,
    then v heads, stacked along the output dimension) and one matmul, and q and k are rotated
    together: fewer ops per single-token decode step, where each op costs microseconds of
    dispatch whatever its size. The Hugging Face export splits it into q_proj, k_proj, v_proj.
    """

    def __init__(self, d_model: int, n_heads: int, n_kv_heads: int, head_dim: int, layer_index: int):
        super().__init__()
        self.n_heads = n_heads
        self.n_kv_heads = n_kv_heads
        self.head_dim = head_dim
        self.layer_index = layer_index
        self.grouped = n_kv_heads < n_heads
        self.qkv_proj = nn.Linear(d_model, (n_heads + 2 * n_kv_heads) * head_dim, bias=False)
        self.o_proj = nn.Linear(n_heads * head_dim, d_model, bias=False)

    def forward(self, x: Tensor, ctx: AttentionContext, cache=None) -> Tensor:
        batch, length, _ = x.shape
        rotated = self.n_heads + self.n_kv_heads
        qkv = self.qkv_proj(x).view(batch, length, rotated + self.n_kv_heads, self.head_dim)
        qk = apply_rotary(qkv[:, :, :rotated], ctx.cos, ctx.sin_signed).transpose(1, 2)
        q, k = qk[:, : self.n_heads], qk[:, self.n_heads :]
        v = qkv[:, :, rotated:].transpose(1, 2)
        if cache is not None:
            k, v = cache.update(self.layer_index, k, v)
        # SDPA's enable_gqa shares kv head h // (n_heads / n_kv_heads) with query head h, the
        # grouping of transformers' repeat_kv, without materialising the repeated keys.
        out = attend(q, k, v, ctx, self.grouped)
        return self.o_proj(out.transpose(1, 2).reshape(batch, length, self.n_heads * self.head_dim))
