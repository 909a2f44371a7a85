"""Resumable training checkpoints: safetensors for every tensor, JSON for the rest, never pickle.

    <dir>/step-000250/tensors.safetensors   model/<name>, optim/<param>/<key>, rng/<name>,
                                            average/<name> (the weight average, when on)
    <dir>/step-000250/state.json            step, fingerprint, optimiser param groups and scalar
                                            state, loader generator state, history, counters

A checkpoint is a directory written under a temporary name and renamed into place, so a run killed
mid-write leaves no complete-looking one; `latest` returns the highest complete step. The model and
optimiser states are gathered with torch.distributed.checkpoint's full state dicts (keyed by
parameter name), so one format serves a single process, DDP and FSDP alike.

The fingerprint says which run a checkpoint belongs to (model config, tokenizer hash, data and
optimisation params): resuming is only allowed into the same run, so that a resumed run ends
where an uninterrupted one does.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict, set_state_dict

from crisol.core.atomic import atomic_dir, write_json
from crisol.core.errors import StageInputError
from crisol.model.safetensors_file import save_tensors

FORMAT = "crisol-pretrain-checkpoint"
FORMAT_VERSION = 1
TENSORS = "tensors.safetensors"
STATE = "state.json"
STEP_DIR = re.compile(r"^step-(\d{6,})$")
TIED_HEAD = "lm_head.weight"
AVERAGE = "average/"


def step_dir(directory: Path, step: int) -> Path:
    return directory / f"step-{step:06d}"


def complete_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """(step, path) of every complete checkpoint in `directory`, lowest step first."""
    if not directory.is_dir():
        return []
    found = []
    for child in directory.iterdir():
        match = STEP_DIR.match(child.name)
        if match and (child / STATE).is_file() and (child / TENSORS).is_file():
            found.append((int(match.group(1)), child))
    return sorted(found)


@dataclass
class Loaded:
    step: int
    state: dict[str, Any]  # state.json's content
    path: Path


def fingerprint_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Keys whose values differ, as `key: saved -> current`."""
    keys = sorted(set(saved) | set(current))
    return [f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in keys if saved.get(k) != current.get(k)]


def _flatten_optimizer(optim_state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for param, entries in optim_state["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim/{param}/{key}"] = value
            else:
                scalars.setdefault(param, {})[key] = value
    return tensors, {"param_groups": optim_state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, dict[str, Any]] = {param: dict(values) for param, values in meta["scalars"].items()}
    for name, tensor in tensors.items():
        if name.startswith("optim/"):
            param, key = name[len("optim/") :].rsplit("/", 1)
            state.setdefault(param, {})[key] = tensor
    groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


def gather(model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Full (unsharded) model and optimiser states on the CPU; every rank must call it (FSDP)."""
    model_state, optim_state = get_state_dict(
        model, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
    )
    return model_state, optim_state


def save(
    directory: Path,
    step: int,
    model_state: dict[str, torch.Tensor],
    optim_state: dict[str, Any],
    state: dict[str, Any],
    keep: int,
    average: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write step `step`'s checkpoint (rank 0 only), then delete all but the newest `keep`."""
    tensors = {f"model/{k}": v for k, v in model_state.items() if k != TIED_HEAD or not state["tied"]}
    optim_tensors, optim_meta = _flatten_optimizer(optim_state)
    tensors.update(optim_tensors)
    tensors.update({f"{AVERAGE}{k}": v for k, v in (average or {}).items()})
    tensors["rng/torch_cpu"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng/torch_cuda"] = torch.cuda.get_rng_state()
    target = step_dir(directory, step)
    with atomic_dir(target) as tmp:
        save_tensors(tensors, tmp / TENSORS, metadata={"format": FORMAT})
        write_json(
            tmp / STATE,
            {"format": FORMAT, "format_version": FORMAT_VERSION, "step": step, "optimizer": optim_meta, **state},
        )
    for _, old in complete_checkpoints(directory)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def read_state(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads((path / STATE).read_text())
    except (OSError, ValueError) as exc:
        raise StageInputError(f"{path / STATE}: unreadable checkpoint state ({exc})") from None
    if raw.get("format") != FORMAT or raw.get("format_version") != FORMAT_VERSION:
        raise StageInputError(
            f"{path / STATE}: not a {FORMAT} v{FORMAT_VERSION} checkpoint "
            f"(format {raw.get('format')!r} v{raw.get('format_version')!r})"
        )
    return raw


def latest(directory: Path) -> Loaded | None:
    found = complete_checkpoints(directory)
    if not found:
        return None
    step, path = found[-1]
    return Loaded(step=step, state=read_state(path), path=path)


def restore(loaded: Loaded, model: nn.Module, optimizer: torch.optim.Optimizer, tied: bool) -> dict[str, torch.Tensor]:
    """Load a checkpoint's model, optimiser and torch RNG states (every rank calls it); returns its
    weight average by parameter name (empty when the run keeps none)."""
    path = loaded.path / TENSORS
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise StageInputError(f"{path}: unreadable checkpoint tensors ({exc})") from None
    model_state = {k[len("model/") :]: v for k, v in tensors.items() if k.startswith("model/")}
    if tied and TIED_HEAD not in model_state and "embed_tokens.weight" in model_state:
        model_state[TIED_HEAD] = model_state["embed_tokens.weight"]
    optim_state = _unflatten_optimizer(tensors, loaded.state["optimizer"])
    try:
        set_state_dict(
            model,
            optimizer,
            model_state_dict=model_state,
            optim_state_dict=optim_state,
            options=StateDictOptions(full_state_dict=True),
        )
    except (RuntimeError, KeyError, ValueError) as exc:
        raise StageInputError(f"{loaded.path}: checkpoint does not fit this model/optimiser ({exc})") from None
    torch.set_rng_state(tensors["rng/torch_cpu"])
    if "rng/torch_cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng/torch_cuda"])
    return {k[len(AVERAGE) :]: v for k, v in tensors.items() if k.startswith(AVERAGE)}


def clear(directory: Path) -> None:
    """Delete every checkpoint in `directory` (a restart after an incompatible one)."""
    for _, path in complete_checkpoints(directory):
        shutil.rmtree(path, ignore_errors=True)
