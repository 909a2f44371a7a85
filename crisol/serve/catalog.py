"""Which models a server offers, under which names, and how each is loaded.

By default every model the pipeline has made, read from params.yaml (the active profile's paths):

    base        pretrain.out    the pretrained model (plain text; chat works but it never learned turns)
    sft         sft.out         the fine-tuned chat model
    rlhf        ppo.out         the PPO policy
    production  the model registry's promoted version (models/registry, see flows/registry.py)

Only those that exist are offered. `--model` picks instead: a name above, a directory, or
`NAME=DIR`. A directory may be any of the pipeline's model forms:

    <stage out>/              data/sft: its model/ (our format) with the tokenizer of its hf/
    <stage out>/model/        our format (config.json "crisol-model" + model.safetensors)
    <stage out>/hf/ or any export_hf directory: a transformers Llama checkpoint + tokenizer.json
    <registry>/vNNNN/         a registered version (the one model directory it holds)

A model is a chat model when its export carries a chat template (SFT and PPO outputs do); the
chat page lists chat models first. Everything is read locally: nothing is downloaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from tokenizers import Tokenizer

from crisol.chat.template import ChatTemplate
from crisol.core.errors import ParamsError, StageInputError
from crisol.core.params import lookup, resolve_tree
from crisol.model.hf_import import is_hf_llama, load_hf_model
from crisol.model.transformer import Transformer
from crisol.model.weights import load_model

PIPELINE_MODELS = {"base": "pretrain.out", "sft": "sft.out", "rlhf": "ppo.out"}
PRODUCTION = "production"
DEFAULT_REGISTRY = Path("models/registry")


class CatalogError(ValueError):
    """A model the user named cannot be found or read (one line, no traceback)."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    path: Path


@dataclass
class ServedModel:
    name: str
    path: Path  # the directory the weights came from
    model: Transformer
    template: ChatTemplate
    chat: bool  # carries a chat template (SFT / PPO), or a base model
    created: int  # the weights' mtime, OpenAI's `created`

    @property
    def context(self) -> int:
        return self.model.config.max_seq_len

    @cached_property
    def transformers_tokenizer(self) -> Tokenizer:
        """The tokenizer as a transformers tokenizer (and so vLLM's /tokenize) applies it: special-token
        strings in the text are read as those tokens, where the template's reads them as text. lm-eval's
        remote tokenizer finds the eos id by tokenizing tokenizer_info's eos_token string."""
        tokenizer = Tokenizer.from_str(self.template.text_tokenizer.to_str())
        tokenizer.encode_special_tokens = False
        return tokenizer


def pipeline_specs(root: Path, params_file: Path, registry: Path | None = None) -> list[ModelSpec]:
    """The pipeline's models that exist under `root`, by their stable names."""
    try:
        tree = resolve_tree(params_file)
    except ParamsError as exc:
        raise CatalogError(str(exc)) from None
    specs = []
    for name, key in PIPELINE_MODELS.items():
        out = lookup(tree, key, None)
        if isinstance(out, str) and (root / out / "model" / "config.json").is_file():
            specs.append(ModelSpec(name, root / out))
    promoted = production_dir(root / (registry or DEFAULT_REGISTRY))
    if promoted is not None:
        specs.append(ModelSpec(PRODUCTION, promoted))
    return specs


def production_dir(registry: Path) -> Path | None:
    """The registry's promoted version directory, or None before any promotion."""
    pointer = registry / "production.json"
    try:
        version = json.loads(pointer.read_text())["version"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    path = registry / str(version)
    return path if path.is_dir() else None


def choose_specs(wanted: list[str], available: list[ModelSpec]) -> list[ModelSpec]:
    """`--model` values (NAME, DIR or NAME=DIR) as specs; none given: everything available."""
    if not wanted:
        if not available:
            raise CatalogError(
                "no model to serve: the pipeline has made none yet (run `make demo`), and no --model DIR was given"
            )
        return available
    by_name = {spec.name: spec for spec in available}
    chosen: list[ModelSpec] = []
    for value in wanted:
        name, sep, path = value.partition("=")
        if sep:
            spec = ModelSpec(name.strip(), Path(path))
        elif value in by_name:
            spec = by_name[value]
        elif Path(value).exists():
            spec = ModelSpec(value, Path(value))
        else:
            known = ", ".join(by_name) or "none made yet"
            raise CatalogError(f"--model {value!r}: neither a pipeline model ({known}) nor an existing directory")
        if not spec.name:
            raise CatalogError(f"--model {value!r}: empty name before '='")
        if any(c.name == spec.name for c in chosen):
            raise CatalogError(f"--model: the name {spec.name!r} is given twice")
        chosen.append(spec)
    return chosen


def _registry_model(version: Path) -> Path:
    """A registry version holds one copied model directory (e.g. ppo/)."""
    inside = sorted(p for p in version.iterdir() if (p / "model").is_dir() or is_hf_llama(p))
    if len(inside) != 1:
        raise CatalogError(f"{version}: expected one model directory in the registry version, found {len(inside)}")
    return inside[0]


def locate(path: Path) -> tuple[Path, str, Path]:
    """(weights directory, "crisol" | "hf", tokenizer file) for any model form the docstring lists."""
    if not path.is_dir():
        raise CatalogError(f"{path}: not a directory")
    if (path / "entry.json").is_file():
        path = _registry_model(path)
    if (path / "model" / "config.json").is_file():
        path = path / "model"
    if is_hf_llama(path):
        weights, form = path, "hf"
    elif (path / "config.json").is_file():
        weights, form = path, "crisol"
    else:
        raise CatalogError(f"{path}: no model here (expected config.json, or a model/ or hf/ directory)")
    for candidate in (weights / "tokenizer.json", weights.parent / "hf" / "tokenizer.json"):
        if candidate.is_file():
            return weights, form, candidate
    raise CatalogError(f"{weights}: no tokenizer.json beside it or in ../hf/")


def load(spec: ModelSpec) -> ServedModel:
    weights, form, tokenizer = locate(spec.path)
    try:
        model = load_hf_model(weights) if form == "hf" else load_model(weights)
        template = ChatTemplate.from_file(tokenizer)
    except (StageInputError, ValueError) as exc:
        raise CatalogError(f"model {spec.name!r}: {exc}") from None
    if template.text_tokenizer.get_vocab_size() > model.config.vocab_size:
        raise CatalogError(
            f"model {spec.name!r}: its tokenizer ({tokenizer}) has more tokens than the model's vocabulary"
        )
    model.eval().requires_grad_(False)
    config = tokenizer.parent / "tokenizer_config.json"
    chat = config.is_file() and "chat_template" in config.read_text()
    created = int((weights / "model.safetensors").stat().st_mtime)  # both forms have it, or loading failed
    return ServedModel(spec.name, weights, model, template, chat, created)
