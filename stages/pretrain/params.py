"""The `pretrain` section of params.yaml. Defaults are the `tiny` profile, PROFILES holds the other
profiles' values.

Budgets are optimiser steps (and the tokens they imply: steps x global batch x seq_len), never
minutes, so that a run means the same on every machine. `max_seconds` adds a time budget for the
runs that are about time (a benchmark's "S seconds of training"): null by default.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from crisol.core.errors import ParamsError
from crisol.core.params import Section
from crisol.core.path_roles import InputPath, OutputDir, OutputFile, WorkDir
from crisol.core.switch import Switch
from crisol.model.config import ModelConfig
from crisol.training.optim import OptimizerName


class ModelShape(Section):
    """The network, through ModelConfig.from_depth; null keeps the derived value."""

    depth: int = Field(4, ge=1)
    d_model: int | None = Field(128, ge=1)
    n_heads: int | None = Field(None, ge=1)
    n_kv_heads: int | None = Field(None, ge=1)
    ffn_hidden: int | None = Field(None, ge=1)
    tie_embeddings: bool = True

    def overrides(self) -> dict[str, object]:
        fields = {
            "d_model": self.d_model,
            "n_heads": self.n_heads,
            "n_kv_heads": self.n_kv_heads,
            "ffn_hidden": self.ffn_hidden,
        }
        return {**{k: v for k, v in fields.items() if v is not None}, "tie_embeddings": self.tie_embeddings}


class PretrainParams(Section):
    """GPT-style pretraining from the token shards (stages/pretrain). Budgets are steps, not minutes.
    Token shards in; a trained model, its HF export, metrics and plots out."""

    # inputs
    train: InputPath = Path("data/tokens/train")  # = tokenizer.tokens / train
    validation: InputPath = Path("data/tokens/validation")
    tokenizer: InputPath = Path("data/tokenizer")  # = tokenizer.out (tokenizer.json + HF files)
    facts: InputPath = Path("data/web/facts.parquet")  # = web.facts
    pages: InputPath = Path("data/web/pages.parquet")  # = web.pages
    documents: InputPath = Path("data/dedup/documents")  # = dedup.documents (id -> url of seen pages)
    # outputs
    out: OutputDir = Path("data/pretrain")  # model/, hf/, facts.json (the DVC out)
    plots: OutputDir = Path("data/plots/pretrain")  # step-indexed CSVs for `dvc plots` (not cached)
    metrics: OutputFile = Path("data/metrics/pretrain.json")
    # Resumable checkpoints live outside the DVC out (DVC deletes outs before it runs a stage);
    # the run uses <checkpoint_dir>/<profile>, so switching profile never meets a foreign run.
    checkpoint_dir: WorkDir = Path("data/pretrain-work")
    checkpoint_every: int = Field(250, ge=1)  # steps
    keep_checkpoints: int = Field(2, ge=1)
    # What a checkpoint of another run (other model, tokenizer, data or optimisation params) does:
    # `error` stops with a message naming the difference; `restart` logs it, deletes it, starts over.
    on_incompatible_checkpoint: Literal["error", "restart"] = "error"

    # The network, through ModelConfig.from_depth (crisol/model/config.py); null keeps the derived value.
    model: ModelShape = ModelShape()
    seq_len: int = Field(128, ge=8)  # 2x the tokens/s of 256 on 2 cores; facts are sentences
    # The size from a scaling sweep: a recommendation.json (stages/scaling) whose `size` sets the
    # model's shape, max_steps and warmup_steps for its compute budget, over the values here.
    size_from: InputPath | None = None

    # optimisation: global batch = batch_size x grad_accum x world size sequences of seq_len
    # 4.1M tokens, ~20 epochs of the tiny train split (with its fact sheets). 2,000 steps held more
    # facts (89% vs 83% of the probes) and less of them extractable: held-out exact match after SFT
    # 0.55 vs 0.70, and twice the time (docs/results.md, 2026-12-06).
    max_steps: int = Field(1000, ge=1)
    # A time budget: stop at the first step boundary after this many seconds of training (evaluation
    # and checkpoints not counted; summed over resumed runs), whichever of it and max_steps comes
    # first. The decay then follows the clock too, reaching min_lr when the seconds run out.
    # Null: steps only, and a run means the same on every machine.
    max_seconds: float | None = Field(None, gt=0)
    batch_size: int = Field(32, ge=1)  # sequences per micro-batch per process
    grad_accum: int = Field(1, ge=1)
    # adamw: AdamW for every parameter; muon: Muon for the blocks' matrices, AdamW for the embedding,
    # the lm head and the norms (crisol/training/optim.py).
    optimizer: OptimizerName = "adamw"
    lr: float = Field(5e-3, gt=0)
    # Muon's peak rate as a multiple of lr (its updates already match AdamW's RMS; this retunes it).
    muon_lr_scale: float = Field(1.0, gt=0)
    min_lr_ratio: float = Field(0.2, ge=0, le=1)  # decay floor, as a fraction of lr
    warmup_steps: int = Field(100, ge=0)
    decay: Literal["cosine", "linear"] = "cosine"
    # On matrices only. 0 on tiny, which is about memorising facts: decay at this lr erases them.
    weight_decay: float = Field(0.0, ge=0)
    beta1: float = Field(0.9, ge=0, lt=1)
    beta2: float = Field(0.95, ge=0, lt=1)
    grad_clip: float = Field(1.0, ge=0)  # max global grad norm; 0 turns clipping off
    # An exponential moving average of the weights (crisol/training/weight_average.py), updated after
    # every step with this decay: evaluations score it and the stage writes it (the live weights'
    # validation figures are logged beside). 0: off, the live weights are the model.
    ema: float = Field(0.0, ge=0, lt=1)
    seed: int = 1337

    # device and speed switches: `auto` = on with CUDA, off on CPU, except bf16 on a CPU with bf16 hardware
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: CUDA when present
    bf16: Switch = "auto"  # bf16 autocast; auto: CUDA, or AMX / AVX512-BF16 (crisol/training/device.py)
    compile: Switch = "auto"  # torch.compile (slower than eager on CPU)
    fsdp: bool = False  # shard params/grads/optimiser (torchrun, big models)
    threads: int | None = Field(None, ge=1)  # torch CPU threads; null: torch's default

    # evaluation
    eval_every: int = Field(250, ge=1)  # steps; also at step 0 and at the end
    eval_tokens: int = Field(200_000, ge=1)  # validation tokens per evaluation (at most)
    fact_probes: int = Field(300, ge=0)  # probes scored per evaluation; 0: none
    fact_seed: int = 0
    log_every: int = Field(50, ge=1)

    # accounting
    cpu_watts_per_core: float = Field(10.0, gt=0)  # assumed, for the energy estimate on CPU

    @model_validator(mode="before")
    @classmethod
    def _sized(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data.get("size_from"):
            return data
        return {**data, **sized_by(Path(data["size_from"]), data.get("model") or {})}

    @model_validator(mode="after")
    def _consistent(self) -> "PretrainParams":
        if self.ema and self.fsdp:
            raise ValueError("ema (a weight average) is not supported with fsdp (sharded weights); set one of them off")
        if self.warmup_steps > self.max_steps:
            raise ValueError(f"warmup_steps ({self.warmup_steps}) exceeds max_steps ({self.max_steps})")
        try:  # the shape is checked now, before any work; the vocabulary comes from the shards later
            ModelConfig.from_depth(self.model.depth, 1, self.seq_len, **self.model.overrides())
        except ParamsError as exc:
            raise ValueError(f"bad model shape: {exc}") from None
        return self


# The profiles' values (the defaults are tiny's; crisol/core/params.py: PROFILE_NOTES).
PROFILES = {
    "micro": {
        "model": {"depth": 2, "d_model": 64},
        "seq_len": 64,
        "max_steps": 40,
        "batch_size": 8,
        "warmup_steps": 5,
        "checkpoint_every": 20,
        "eval_every": 20,
        "log_every": 10,
        "eval_tokens": 4096,
        "fact_probes": 32,
    },
    "small": {
        "model": {"depth": 12, "d_model": 768},
        "seq_len": 1024,
        "batch_size": 32,
        "grad_accum": 8,  # 262,144 tokens per step
        "max_steps": 5000,
        "lr": 0.0006,
        "weight_decay": 0.1,
        "warmup_steps": 200,
        "checkpoint_every": 500,
        "eval_every": 500,
        "eval_tokens": 1_000_000,
        "fact_probes": 1000,
        "log_every": 20,
    },
    "large": {
        "model": {
            "depth": 24,
            "d_model": 1536,
            "n_kv_heads": 6,  # grouped-query attention: 24 query heads share 6 key/value heads
        },
        "seq_len": 2048,
        "batch_size": 16,
        "grad_accum": 4,
        "max_steps": 20000,
        "lr": 0.0003,
        "weight_decay": 0.1,
        "warmup_steps": 1000,
        "checkpoint_every": 1000,
        "eval_every": 1000,
        "eval_tokens": 2_000_000,
        "fact_probes": 1000,
        "log_every": 20,
        "fsdp": True,
    },
}


SIZE_KEYS = {"model", "max_steps", "warmup_steps"}


def sized_by(path: Path, model: dict[str, Any]) -> dict[str, Any]:
    """The pretrain values a scaling recommendation sets: its model shape (over `model`'s other
    keys, e.g. tie_embeddings), max_steps and warmup_steps."""
    try:
        size = json.loads(path.read_text())["size"]
        if not (isinstance(size, dict) and set(size) == SIZE_KEYS and isinstance(size["model"], dict)):
            raise KeyError("size")
    except FileNotFoundError:
        raise ValueError(
            f"size_from: {path} does not exist (run the scaling stage first: python -m stages.scaling)"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"size_from: {path} is not a scaling recommendation ({exc!r})") from None
    return {"model": {**model, **size["model"]}, "max_steps": size["max_steps"], "warmup_steps": size["warmup_steps"]}
