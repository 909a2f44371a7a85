"""The model library: a Llama-style transformer, its KV-cache sampler, checkpoints and HF export.

Not a stage (no __main__): pretrain, sft, reward, ppo and evaluate build on it.
"""

from __future__ import annotations

from crisol.model.config import ModelConfig
from crisol.model.hf_export import export_hf
from crisol.model.kv_cache import KVCache
from crisol.model.sampling import generate
from crisol.model.transformer import Transformer
from crisol.model.weights import load_model, read_model_config, save_model

__all__ = [
    "ModelConfig",
    "Transformer",
    "KVCache",
    "generate",
    "save_model",
    "load_model",
    "read_model_config",
    "export_hf",
]
