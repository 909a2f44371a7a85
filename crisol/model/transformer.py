"""A Llama-style decoder-only transformer whose math matches transformers' LlamaForCausalLM.

token embedding -> depth x [x + attn(rmsnorm(x)); x + swiglu(rmsnorm(x))] -> rmsnorm -> lm_head

Attention uses RoPE (rotate_half convention, inv_freq = 1/theta^(2i/d)), grouped-query heads
when n_kv_heads < n_heads, and F.scaled_dot_product_attention. No biases anywhere. Module and
parameter names are transformers' own (embed_tokens, layers.i.input_layernorm, ...o_proj,
...down_proj, norm, lm_head) except two stacked matrices, self_attn.qkv_proj = [q; k; v] and
mlp.gate_up_proj = [gate; up], each one matmul instead of several (see attention.py): the Hugging
Face export renames and splits them by rows, and changes no value.

Initialisation (GPT-2 / nanoGPT style):
- token embedding and every linear layer: normal(0, init_std);
- the projections that write into the residual stream (attention o_proj and MLP down_proj):
  normal(0, init_std / sqrt(2 * depth)), so the residual's variance does not grow with depth
  (each block adds two such outputs);
- RMSNorm weights: 1;
- lm_head: tied to the embedding when tie_embeddings, else normal(0, init_std).
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from crisol.model.attention import Attention, AttentionContext, causal_mask, segment_mask
from crisol.model.config import ModelConfig
from crisol.model.kv_cache import KVCache
from crisol.model.layers import RMSNorm, SwiGLU
from crisol.model.rope import RotaryTables

IGNORE_INDEX = -100


class Block(nn.Module):
    """One pre-norm decoder layer (transformers' LlamaDecoderLayer)."""

    def __init__(self, config: ModelConfig, layer_index: int):
        super().__init__()
        self.input_layernorm = RMSNorm(config.d_model, config.norm_eps)
        self.self_attn = Attention(config.d_model, config.n_heads, config.n_kv_heads, config.head_dim, layer_index)
        self.post_attention_layernorm = RMSNorm(config.d_model, config.norm_eps)
        self.mlp = SwiGLU(config.d_model, config.ffn_hidden)

    def forward(self, x: Tensor, ctx: AttentionContext, cache: KVCache | None) -> Tensor:
        x = x + self.self_attn(self.input_layernorm(x), ctx, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class Transformer(nn.Module):
    """The decoder. `forward(ids, targets)` for training, `hidden_states` + `lm_head` for decoding."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.d_model)
        self.layers = nn.ModuleList(Block(config, i) for i in range(config.depth))
        self.norm = RMSNorm(config.d_model, config.norm_eps)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.embed_tokens.weight
        self.rotary = RotaryTables(config.head_dim, config.max_seq_len, config.rope_theta)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """The initialisation in the module docstring."""
        std = self.config.init_std
        residual_std = std / math.sqrt(2 * self.config.depth)
        nn.init.normal_(self.embed_tokens.weight, 0.0, std)
        if not self.config.tie_embeddings:
            nn.init.normal_(self.lm_head.weight, 0.0, std)
        for block in self.layers:
            attn, mlp = block.self_attn, block.mlp
            for linear in (attn.qkv_proj, mlp.gate_up_proj):
                nn.init.normal_(linear.weight, 0.0, std)
            for linear in (attn.o_proj, mlp.down_proj):
                nn.init.normal_(linear.weight, 0.0, residual_std)
            nn.init.ones_(block.input_layernorm.weight)
            nn.init.ones_(block.post_attention_layernorm.weight)
        nn.init.ones_(self.norm.weight)

    def forward(
        self,
        ids: Tensor,
        targets: Tensor | None = None,
        *,
        cache: KVCache | None = None,
        positions: Tensor | None = None,
        starts: Tensor | None = None,
        segments: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Logits [B, T, vocab] (float32) and, with targets, the mean cross-entropy over targets != -100.

        cache: a KVCache; ids are appended after the tokens it holds (incremental decoding).
        positions: RoPE positions [B, T] or [T]; default: each row's token index, counted from
            its first real token when the batch is left-padded.
        starts: left-pad counts [B] for a padded batch run without a cache (with one, the
            cache's own starts apply).
        segments: packed rows [B, T]: attention stays within runs of equal ids (segment_mask);
            pass the positions each packed sequence counts from 0 with it.
        The loss is NaN when no target is kept (torch's mean over nothing).
        """
        logits = self.lm_head(
            self.hidden_states(ids, cache=cache, positions=positions, starts=starts, segments=segments)
        ).float()
        if targets is None:
            return logits, None
        if targets.shape != ids.shape:
            raise ValueError(f"targets shape {tuple(targets.shape)} differs from ids shape {tuple(ids.shape)}")
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE_INDEX)
        return logits, loss

    def hidden_states(
        self,
        ids: Tensor,
        *,
        cache: KVCache | None = None,
        positions: Tensor | None = None,
        starts: Tensor | None = None,
        segments: Tensor | None = None,
    ) -> Tensor:
        """The final-normed hidden states [B, T, d_model]; `lm_head` of a slice of them gives logits."""
        if ids.dim() != 2:
            raise ValueError(f"ids must be [batch, time], got shape {tuple(ids.shape)}")
        batch, length = ids.shape
        past = 0
        key_valid = None
        slot_positions = None
        if cache is not None:
            if starts is not None:
                raise ValueError("pass left-pad starts to the KVCache, not to forward, when decoding with a cache")
            if cache.batch_size != batch:
                raise ValueError(f"cache holds {cache.batch_size} rows, ids have {batch}")
            past = cache.length
            if past + length > cache.max_len:
                raise ValueError(f"cache full: {past} cached + {length} new tokens > its max_len {cache.max_len}")
            key_valid, slot_positions = cache.key_valid, cache.slot_positions
        elif starts is not None and bool(starts.any()):
            slots = torch.arange(length, device=ids.device)[None, :]
            key_valid = slots >= starts[:, None]
            slot_positions = (slots - starts[:, None]).clamp(min=0)
        ctx = self._attention_context(past, length, key_valid, slot_positions, positions, ids.device)
        if segments is not None:
            if cache is not None or starts is not None:
                raise ValueError("segments (packed rows) run without a cache and without left padding")
            if segments.shape != ids.shape:
                raise ValueError(f"segments shape {tuple(segments.shape)} differs from ids shape {tuple(ids.shape)}")
            ctx = replace(ctx, mask=segment_mask(segments), is_causal=False)
        x = self.embed_tokens(ids)
        for block in self.layers:
            x = block(x, ctx, cache)
        if cache is not None:
            cache.advance(length)
        return self.norm(x)

    def _attention_context(
        self,
        past: int,
        length: int,
        key_valid: Tensor | None,
        slot_positions: Tensor | None,
        positions: Tensor | None,
        device: torch.device,
    ) -> AttentionContext:
        dtype = self.embed_tokens.weight.dtype
        if positions is not None:
            if positions.numel() and int(positions.max()) >= self.config.max_seq_len:
                raise ValueError(f"position {int(positions.max())} >= max_seq_len {self.config.max_seq_len}")
            cos, sin = self.rotary.lookup(positions, dtype)
        elif past + length > self.config.max_seq_len:
            raise ValueError(f"sequence of {past + length} tokens > max_seq_len {self.config.max_seq_len}")
        elif slot_positions is not None:
            cos, sin = self.rotary.lookup(slot_positions[:, past : past + length], dtype)
        else:
            cos, sin = self.rotary.lookup(slice(past, past + length), dtype)
        mask, is_causal = causal_mask(key_valid, past, length, device)
        return AttentionContext(cos=cos, sin_signed=sin, mask=mask, is_causal=is_causal)
