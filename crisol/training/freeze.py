"""Partial fine-tuning: the lowest blocks (and the embedding) kept as they are.

SFT offers it as a cheaper fine-tune; PPO uses it to keep what the lower blocks store (the facts a
question is answered from) while the upper ones learn when to answer.
"""

from __future__ import annotations

from crisol.model.transformer import Transformer


def freeze(model: Transformer, layers: int, embeddings: bool) -> int:
    """Stop gradients into the lowest `layers` blocks (and the embedding); returns trainable params."""
    if layers > len(model.layers):
        raise ValueError(f"freeze_layers {layers} exceeds the model's depth {len(model.layers)}")
    for block in model.layers[:layers]:
        block.requires_grad_(False)
    if embeddings:
        model.embed_tokens.requires_grad_(False)  # the lm_head too, when tied
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
