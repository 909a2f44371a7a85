"""Shared by the pretrain tests: a small tokenized corpus (the real tokenizer stage, run in-process
on written documents) and a params file for the pretrain stage on it, with a model small enough
that a run takes seconds on 2 cores."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from safetensors.torch import load_file

from kit.paths import REPO_ROOT
from kit.stages import stage_defaults, write_stage_params
from kit.tokenizer import corpus_text, tokenize

SMALL_RUN = {
    "model": {
        "depth": 2,
        "d_model": 32,
        "n_heads": None,
        "n_kv_heads": None,
        "ffn_hidden": None,
        "tie_embeddings": True,
    },
    "seq_len": 16,
    "batch_size": 4,
    "grad_accum": 1,
    "max_steps": 12,
    "warmup_steps": 2,
    "checkpoint_every": 4,
    "eval_every": 6,
    "log_every": 4,
    "eval_tokens": 256,
    "fact_probes": 0,
    "threads": 1,
}


def make_corpus(root: Path) -> dict:
    """Tokenizer + train/validation shards of 200 short documents (vocabulary 400)."""
    return tokenize(root, corpus_text(200), row_group=50, vocab_size=400, docs_per_shard=50, validation_fraction=0.1)


def write_params(root: Path, corpus: dict, **pretrain) -> Path:
    """A params file whose pretrain section reads `corpus` and writes under `root`."""
    section = {
        **stage_defaults("pretrain"),
        **SMALL_RUN,
        "train": str(corpus["tokens"] / "train"),
        "validation": str(corpus["tokens"] / "validation"),
        "tokenizer": str(corpus["tokenizer"]),
        "out": str(root / "pretrain"),
        "plots": str(root / "plots"),
        "metrics": str(root / "metrics.json"),
        "checkpoint_dir": str(root / "work"),
        **pretrain,
    }
    return write_stage_params(
        root / "params.yaml", "pretrain", section, profile="tiny", executor={"workers": 1, "dask_address": None}
    )


def run_subprocess(
    command: list[str], timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run `command` from the checkout with it importable; `env` adds to (or overrides) this process's."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def final_weights(root: Path) -> dict:
    return load_file(str(root / "pretrain" / "model" / "model.safetensors"))


def metrics(root: Path) -> dict:
    return json.loads((root / "metrics.json").read_text())
