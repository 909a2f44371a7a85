"""Read a Hugging Face Llama checkpoint written by `export_hf` back into our Transformer: the
inverse of hf_export (rename, stack q/k/v and gate/up by rows, tie the head back). No value
changes, so an export served from its hf/ directory answers exactly as the model it came from.

    model = load_hf_model("data/sft/hf")

Only the layout export_hf writes is read (Llama, no biases, default RoPE, SiLU); anything else is
a one-line StageInputError naming what differs, never a silently wrong network.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from crisol.core.errors import ParamsError, StageInputError
from crisol.model.config import ModelConfig
from crisol.model.transformer import Transformer

STACKED = {
    "self_attn.qkv_proj.weight": ("self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight"),
    "mlp.gate_up_proj.weight": ("mlp.gate_proj.weight", "mlp.up_proj.weight"),
}


def is_hf_llama(directory: Path | str) -> bool:
    path = Path(directory) / "config.json"
    try:
        return path.is_file() and json.loads(path.read_text()).get("model_type") == "llama"
    except (OSError, ValueError, AttributeError):
        return False


def hf_model_config(raw: dict, where: Path) -> ModelConfig:
    """Our ModelConfig from a LlamaConfig dict (the keys export_hf writes)."""
    if raw.get("model_type") != "llama":
        raise StageInputError(f"{where}: not a Llama config (model_type {raw.get('model_type')!r})")
    for key, expected in (("hidden_act", "silu"), ("attention_bias", False), ("mlp_bias", False)):
        if raw.get(key, expected) != expected:
            raise StageInputError(f"{where}: {key} is {raw.get(key)!r}; only {expected!r} is supported")
    rope = raw.get("rope_parameters") or raw.get("rope_scaling") or {}
    if rope.get("rope_type", "default") != "default":
        raise StageInputError(f"{where}: RoPE type {rope.get('rope_type')!r} is not supported (default only)")
    try:
        heads = raw["num_attention_heads"]
        return ModelConfig.from_dict(
            {
                "vocab_size": raw["vocab_size"],
                "depth": raw["num_hidden_layers"],
                "d_model": raw["hidden_size"],
                "n_heads": heads,
                "n_kv_heads": raw.get("num_key_value_heads", heads),
                "head_dim": raw.get("head_dim", raw["hidden_size"] // heads),
                "ffn_hidden": raw["intermediate_size"],
                "max_seq_len": raw["max_position_embeddings"],
                "rope_theta": rope.get("rope_theta", raw.get("rope_theta", 10000.0)),
                "norm_eps": raw.get("rms_norm_eps", 1e-5),
                "tie_embeddings": raw.get("tie_word_embeddings", False),
                "init_std": raw.get("initializer_range", 0.02),
            }
        )
    except KeyError as exc:
        raise StageInputError(f"{where}: config.json has no {exc.args[0]!r}") from None
    except ParamsError as exc:
        raise StageInputError(f"{where}: {exc}") from None


def our_state_dict(tensors: dict[str, torch.Tensor], config: ModelConfig) -> dict[str, torch.Tensor]:
    """transformers' parameter names back to ours (hf_state_dict's inverse)."""
    state = {name.removeprefix("model."): t for name, t in tensors.items()}
    for layer in range(config.depth):
        for ours, parts in STACKED.items():
            names = [f"layers.{layer}.{part}" for part in parts]
            if all(n in state for n in names):
                state[f"layers.{layer}.{ours}"] = torch.cat([state.pop(n) for n in names], dim=0)
    if config.tie_embeddings:
        state.pop("lm_head.weight", None)
    return state


def load_hf_model(directory: Path | str, map_location: torch.device | str = "cpu") -> Transformer:
    directory = Path(directory)
    config_path, weights_path = directory / "config.json", directory / "model.safetensors"
    try:
        raw = json.loads(config_path.read_text())
    except (OSError, ValueError) as exc:
        raise StageInputError(f"{config_path}: unreadable ({exc.__class__.__name__})") from None
    if not isinstance(raw, dict):
        raise StageInputError(f"{config_path}: not a JSON object")
    config = hf_model_config(raw, config_path)
    try:
        tensors = load_file(str(weights_path), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise StageInputError(f"{weights_path}: unreadable safetensors file ({exc})") from None
    model = Transformer(config)
    state = our_state_dict(tensors, config)
    expected = {
        name: tuple(t.shape)
        for name, t in model.state_dict().items()
        if not (config.tie_embeddings and name == "lm_head.weight")
    }
    found = {name: tuple(t.shape) for name, t in state.items()}
    if found != expected:
        differing = sorted(set(found) ^ set(expected)) or sorted(n for n in found if found[n] != expected[n])
        raise StageInputError(f"{weights_path}: tensors do not match config.json (first difference: {differing[0]})")
    model.load_state_dict(state, strict=False)
    return model.to(map_location)
