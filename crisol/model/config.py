"""The model's shape: one frozen, validated record that every stage builds the same network from.

One size knob: `ModelConfig.from_depth(depth, ...)` derives the width and head layout from the
number of layers (d_model = 64 x depth, heads of 64 dims, SwiGLU hidden ~8/3 d_model), the way
nanochat scales a model family with a single integer. Any derived value can be overridden.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field, model_validator

from crisol.core.errors import ParamsError
from crisol.core.params import Section, validate_section

HEAD_DIM = 64
WIDTH_PER_LAYER = 64
FFN_MULTIPLE = 64


def _swiglu_hidden(d_model: int) -> int:
    # 8/3 d_model keeps a SwiGLU MLP (three matrices) at the parameter count of a 4 d_model GELU
    # MLP (two matrices); rounded up to a multiple of 64 as Llama does (multiple_of).
    return FFN_MULTIPLE * math.ceil(8 * d_model / 3 / FFN_MULTIPLE)


def _positive_int(name: str, value: Any) -> int:
    # Checked before deriving other sizes from it, so the error names this key, not a derived one.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParamsError(f"model.{name}: must be a positive integer (got {value!r})")
    return value


class ModelConfig(Section):
    """A Llama-style decoder. Frozen; unknown keys are errors (a typo never builds a default)."""

    vocab_size: int = Field(ge=1)
    depth: int = Field(ge=1)  # number of transformer blocks (n_layers)
    d_model: int = Field(ge=1)
    n_heads: int = Field(ge=1)
    n_kv_heads: int = Field(ge=1)  # < n_heads: grouped-query attention
    head_dim: int = Field(ge=2)
    ffn_hidden: int = Field(ge=1)
    max_seq_len: int = Field(ge=1)
    rope_theta: float = Field(10000.0, gt=0)
    norm_eps: float = Field(1e-5, gt=0)
    # Tied by default: at the sizes trained on CPU here the vocabulary tables are most of the
    # parameters, and GPT-2 style tying halves them.
    tie_embeddings: bool = True
    init_std: float = Field(0.02, gt=0)

    @model_validator(mode="after")
    def _consistent_heads(self) -> ModelConfig:
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads})")
        if self.head_dim % 2:
            raise ValueError(f"head_dim ({self.head_dim}) must be even (RoPE rotates pairs of dimensions)")
        # transformers' LlamaConfig rejects other layouts, and export must always load.
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})")
        return self

    @classmethod
    def from_depth(cls, depth: int, vocab_size: int, max_seq_len: int, **overrides: Any) -> ModelConfig:
        """Derive a whole config from the number of layers; keyword overrides win.

        depth 2 -> d_model 128, 2 heads of 64, ffn 384; depth 6 -> d_model 384, 6 heads, ffn 1024.
        Derived values follow overrides: `from_depth(4, ..., d_model=128)` gives 2 heads of 64.
        Widths under 64 use one head as wide as the model.
        """
        _positive_int("depth", depth)
        d_model = _positive_int("d_model", overrides.pop("d_model", WIDTH_PER_LAYER * depth))
        head_dim = _positive_int("head_dim", overrides.pop("head_dim", min(HEAD_DIM, d_model)))
        n_heads = _positive_int("n_heads", overrides.pop("n_heads", max(1, d_model // head_dim)))
        fields = dict(
            vocab_size=vocab_size,
            depth=depth,
            d_model=d_model,
            head_dim=head_dim,
            n_heads=n_heads,
            n_kv_heads=overrides.pop("n_kv_heads", n_heads),
            max_seq_len=max_seq_len,
            ffn_hidden=overrides.pop("ffn_hidden", _swiglu_hidden(d_model)),
        )
        return cls.from_dict({**fields, **overrides})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Validate a plain mapping; a bad key or value raises ParamsError naming it (one line)."""
        return validate_section({"model": dict(data)}, "model", cls)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def num_params(self, non_embedding: bool = False) -> int:
        """Parameter count of the network this config builds (tied weights counted once).

        non_embedding=True leaves out the input embedding table only (nanochat's and Kaplan's
        convention); an untied output projection stays, since it is a real matrix multiply.
        """
        attention = self.d_model * self.head_dim * (2 * self.n_heads + 2 * self.n_kv_heads)
        mlp = 3 * self.d_model * self.ffn_hidden
        norms = 2 * self.d_model
        blocks = self.depth * (attention + mlp + norms)
        output = 0 if self.tie_embeddings else self.vocab_size * self.d_model
        total = blocks + self.d_model + output  # + the final norm
        return total if non_embedding else total + self.vocab_size * self.d_model

    def flops_per_token(self, seq_len: int) -> int:
        """Training FLOPs (forward + backward) per token at context length `seq_len`.

        6 N + 12 L d T, the convention of PaLM (appendix B) and nanochat's estimate_flops:
        N counts every weight used in a matrix multiply: the non-embedding parameters plus the
        output projection (vocab x d_model) even when it is tied, because the input lookup costs
        nothing while the output projection does (norm weights are in N too, a negligible excess).
        12 L d T is the attention scores QK^T and their product with V (2 matmuls x 2 FLOPs x 3
        for forward + backward) over the full T x T square, as both conventions count it: causal
        masking is not subtracted.
        """
        if seq_len < 1:
            raise ValueError(f"seq_len must be >= 1, got {seq_len}")
        matmul_params = self.num_params(non_embedding=True)
        if self.tie_embeddings:
            matmul_params += self.vocab_size * self.d_model
        attention = 12 * self.depth * self.n_heads * self.head_dim * seq_len
        return 6 * matmul_params + attention
