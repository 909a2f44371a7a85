"""Export a Transformer as a Hugging Face Llama checkpoint that transformers loads offline.

    export_hf(model, "data/pretrain/hf", tokenizer_dir="data/tokenizer")
    AutoModelForCausalLM.from_pretrained("data/pretrain/hf", local_files_only=True)

The layout: config.json (LlamaConfig fields), model.safetensors (transformers' parameter names),
generation_config.json, and the tokenizer's files when a tokenizer directory is given. Our modules
carry transformers' names but for two stacked matrices, so the weights are prefixed ("model."),
qkv_proj and gate_up_proj are split by rows into q/k/v_proj and gate/up_proj, and a tied lm_head
is left out (transformers ties it back from tie_word_embeddings). No value changes. Written into a temporary
directory and renamed into place, so a half-written export never looks complete.

RoPE: transformers 5 keeps theta in `rope_parameters` ({"rope_type": "default", "rope_theta": ...});
the top-level `rope_theta` that transformers 4.x and most other Llama readers (vLLM, llama.cpp's
converter) expect is written too, as is `torch_dtype` beside 5.x's `dtype`. transformers 5
folds both legacy keys into the new ones on load.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Sequence

from torch import Tensor

from crisol.core.atomic import atomic_dir, write_json
from crisol.core.errors import StageInputError
from crisol.model.safetensors_file import save_tensors
from crisol.model.transformer import Transformer

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
SPECIAL_TOKEN_KEYS = {"bos": "bos_token", "eos": "eos_token", "pad": "pad_token"}


def hf_state_dict(model: Transformer) -> dict[str, Tensor]:
    """Our parameters under transformers' LlamaForCausalLM names, as contiguous CPU tensors:
    "model." prefixed, the stacked qkv_proj / gate_up_proj split by rows, a tied lm_head left out."""
    config = model.config
    q_rows, kv_rows = config.n_heads * config.head_dim, config.n_kv_heads * config.head_dim
    splits = {
        "self_attn.qkv_proj.weight": (
            ("self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight"),
            (q_rows, kv_rows, kv_rows),
        ),
        "mlp.gate_up_proj.weight": (
            ("mlp.gate_proj.weight", "mlp.up_proj.weight"),
            (config.ffn_hidden, config.ffn_hidden),
        ),
    }
    tensors = {}
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().to("cpu")
        if name == "lm_head.weight":
            if not config.tie_embeddings:
                tensors[name] = tensor.contiguous()
            continue
        stacked = next((key for key in splits if name.endswith("." + key)), None)
        if stacked is None:
            tensors[f"model.{name}"] = tensor.contiguous()
            continue
        layer = name[: -len(stacked) - 1]
        hf_names, sizes = splits[stacked]
        for hf_name, part in zip(hf_names, tensor.split(sizes, dim=0)):
            tensors[f"model.{layer}.{hf_name}"] = part.contiguous()
    return tensors


def llama_config(model: Transformer, token_ids: dict[str, int | None]) -> dict:
    """config.json for transformers' LlamaConfig."""
    c = model.config
    dtype = str(model.embed_tokens.weight.dtype).removeprefix("torch.")
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": c.vocab_size,
        "hidden_size": c.d_model,
        "intermediate_size": c.ffn_hidden,
        "num_hidden_layers": c.depth,
        "num_attention_heads": c.n_heads,
        "num_key_value_heads": c.n_kv_heads,
        "head_dim": c.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": c.max_seq_len,
        "rms_norm_eps": c.norm_eps,
        "rope_parameters": {"rope_type": "default", "rope_theta": c.rope_theta},
        "rope_theta": c.rope_theta,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "tie_word_embeddings": c.tie_embeddings,
        "initializer_range": c.init_std,
        "use_cache": True,
        "dtype": dtype,
        "torch_dtype": dtype,
    }
    config.update({f"{kind}_token_id": token_id for kind, token_id in token_ids.items()})
    return config


def _tokenizer_token_ids(tokenizer_dir: Path) -> dict[str, int | None]:
    """bos/eos/pad ids named by tokenizer_config.json, looked up in tokenizer.json's added tokens."""
    config_path = tokenizer_dir / "tokenizer_config.json"
    if not config_path.is_file():
        return {}
    tokenizer_config = _read_json(config_path)
    added = {t["content"]: t["id"] for t in _read_json(tokenizer_dir / "tokenizer.json").get("added_tokens", [])}
    ids = {}
    for kind, key in SPECIAL_TOKEN_KEYS.items():
        token = tokenizer_config.get(key)
        if isinstance(token, dict):  # AddedToken form: {"content": "<eos>", ...}
            token = token.get("content")
        if token is not None and token in added:
            ids[kind] = added[token]
    return ids


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StageInputError(f"{path}: unreadable JSON ({exc})") from None


def export_hf(
    model: Transformer,
    out_dir: Path | str,
    tokenizer_dir: Path | str | None = None,
    *,
    bos_id: int | None = None,
    eos_id: int | None = None,
    pad_id: int | None = None,
    stop_ids: Sequence[int] = (),
) -> Path:
    """Write a transformers-loadable Llama checkpoint to `out_dir` (replacing it); return the path.

    Special-token ids given here win; those left None are taken from the tokenizer's files when
    tokenizer_dir names them. tokenizer_dir must hold tokenizer.json; tokenizer_config.json and
    special_tokens_map.json are copied when present. stop_ids: more tokens that end generation
    (a chat model's end of turn), listed with eos in generation_config.json's eos_token_id, so
    transformers' generate stops where our sampler does.
    """
    token_ids: dict[str, int | None] = {}
    if tokenizer_dir is not None:
        tokenizer_dir = Path(tokenizer_dir)
        if not (tokenizer_dir / "tokenizer.json").is_file():
            raise StageInputError(f"tokenizer not found: {tokenizer_dir / 'tokenizer.json'} is missing")
        token_ids = _tokenizer_token_ids(tokenizer_dir)
    explicit = {"bos": bos_id, "eos": eos_id, "pad": pad_id}
    token_ids.update({kind: value for kind, value in explicit.items() if value is not None})
    for kind, value in token_ids.items():
        if not 0 <= value < model.config.vocab_size:
            raise ValueError(f"{kind}_id {value} is outside the vocabulary (0..{model.config.vocab_size - 1})")
    ordered_ids = {kind: token_ids.get(kind) for kind in SPECIAL_TOKEN_KEYS}

    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        save_tensors(hf_state_dict(model), tmp / "model.safetensors", metadata={"format": "pt"})
        write_json(tmp / "config.json", llama_config(model, ordered_ids))
        generation: dict[str, int | list[int]] = {
            f"{kind}_token_id": value for kind, value in ordered_ids.items() if value is not None
        }
        if stop_ids:
            eos = [generation["eos_token_id"]] if "eos_token_id" in generation else []
            generation["eos_token_id"] = [*eos, *(int(i) for i in stop_ids if i not in eos)]
        write_json(tmp / "generation_config.json", {**generation, "max_length": model.config.max_seq_len})
        if tokenizer_dir is not None:
            for name in TOKENIZER_FILES:
                if (tokenizer_dir / name).is_file():
                    shutil.copyfile(tokenizer_dir / name, tmp / name)
    return out_dir
