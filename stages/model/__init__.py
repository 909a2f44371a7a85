"""The model library: a Llama-style transformer, its KV-cache sampler, checkpoints and HF export.

Not a stage (no __main__): pretrain, sft, reward, ppo and evaluate build on it.
"""

from __future__ import annotations

from stages.model.config import ModelConfig
from stages.model.hf_export import export_hf
from stages.model.kv_cache import KVCache
from stages.model.sampling import generate
from stages.model.transformer import Transformer
from stages.model.weights import load_model, read_model_config, save_model

__all__ = ["ModelConfig", "Transformer", "KVCache", "generate", "save_model", "load_model",
           "read_model_config", "export_hf"]
