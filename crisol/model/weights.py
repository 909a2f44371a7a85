"""Our own checkpoint format: model.safetensors + config.json, never pickle.

    save_model(model, "data/pretrain/model", metadata={"params": ..., "step": 1000})
    model = load_model("data/pretrain/model")

config.json holds {"format": "crisol-model", "format_version": 1, "model": <ModelConfig>,
"metadata": {...}}: the shape to rebuild the network, and whatever the caller wants to keep
beside it (the params that made it, the tokenizer's hash). A model directory is one artifact: it
is written into a temporary sibling and renamed into place, replacing any previous one.

model.safetensors is written by crisol/model/safetensors_file.py: the same weights give the same
bytes in every process (DVC hashes them). A tied lm_head is stored once (as embed_tokens.weight) and
tied again on load. Weights load into float32 parameters (the training precision) on the CPU,
then move to `map_location`; cast afterwards for low-precision inference.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from crisol.core.atomic import atomic_dir, write_json
from crisol.core.errors import ParamsError, StageInputError
from crisol.model.config import ModelConfig
from crisol.model.safetensors_file import save_tensors
from crisol.model.transformer import Transformer

FORMAT = "crisol-model"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
TIED_HEAD = "lm_head.weight"


def _stored_state(model: Transformer) -> dict[str, torch.Tensor]:
    """The state dict as stored: a tied lm_head is the embedding, kept once."""
    state = model.state_dict()
    if model.config.tie_embeddings:
        del state[TIED_HEAD]
    return state


def save_model(model: Transformer, directory: Path | str, metadata: dict[str, Any] | None = None) -> Path:
    """Write `model` to `directory` (replacing it atomically); return the directory."""
    directory = Path(directory)
    with atomic_dir(directory) as tmp:
        tensors = {name: t.detach().to("cpu").contiguous() for name, t in _stored_state(model).items()}
        save_tensors(tensors, tmp / WEIGHTS_FILE, metadata={"format": "pt", FORMAT: str(FORMAT_VERSION)})
        write_json(
            tmp / CONFIG_FILE,
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "model": model.config.to_dict(),
                "metadata": metadata or {},
            },
        )
    return directory


def read_model_config(directory: Path | str) -> tuple[ModelConfig, dict[str, Any]]:
    """The ModelConfig and metadata a saved model directory holds, without loading weights."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise StageInputError(f"model not found: {path} is missing")
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StageInputError(f"{path}: unreadable JSON ({exc})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        found = raw.get("format") if isinstance(raw, dict) else None
        hint = (
            " (a Hugging Face export? load those with transformers)"
            if isinstance(raw, dict) and "model_type" in raw
            else ""
        )
        raise StageInputError(f"{path}: not a crisol model config (format {found!r}, expected {FORMAT!r}){hint}")
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise StageInputError(f"{path}: unknown model format version {version!r} (this code reads {FORMAT_VERSION})")
    try:
        config = ModelConfig.from_dict(raw.get("model") or {})
    except ParamsError as exc:
        raise StageInputError(f"{path}: bad model config: {exc}") from None
    return config, raw.get("metadata") or {}


def load_model(directory: Path | str, map_location: torch.device | str = "cpu") -> Transformer:
    """Rebuild the Transformer saved in `directory`; a missing file, unknown format version or a
    config that does not match the stored tensors is a one-line StageInputError."""
    directory = Path(directory)
    config, _ = read_model_config(directory)
    weights_path = directory / WEIGHTS_FILE
    if not weights_path.is_file():
        raise StageInputError(f"model weights not found: {weights_path} is missing")
    try:
        tensors = load_file(str(weights_path), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise StageInputError(f"{weights_path}: unreadable safetensors file ({exc})") from None
    model = Transformer(config)
    _check_tensors(weights_path, model, tensors)
    model.load_state_dict(tensors, strict=False)  # strictness checked above, minus the tied head
    return model.to(map_location)


def _check_tensors(path: Path, model: Transformer, tensors: dict[str, torch.Tensor]) -> None:
    expected = {name: tuple(t.shape) for name, t in _stored_state(model).items()}
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:3])}{' ...' if len(unexpected) > 3 else ''}")
        raise StageInputError(f"{path}: tensors do not match config.json ({'; '.join(parts)})")
    for name, shape in expected.items():
        if tuple(tensors[name].shape) != shape:
            raise StageInputError(
                f"{path}: tensor {name} has shape {tuple(tensors[name].shape)}, config.json implies {shape}"
            )
