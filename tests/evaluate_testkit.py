"""Shared by the evaluation tests: a tiny random model with weights perturbed away from their
initialisation (so its predictions are far from uniform and ties cannot hide a wrong sum), the
small chat tokenizer written as a transformers-loadable directory, and HellaSwag rows."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from chat_testkit import PARAMS, small_tokenizer
from stages.model import ModelConfig, Transformer
from stages.tokenizer.hf_files import write_hf_files

HELLASWAG = ("hellaswag", "val_500.jsonl")


def tiny_model(vocab_size: int, max_seq_len: int, *, seed: int = 2, depth: int = 1, d_model: int = 64,
               tie: bool = True) -> Transformer:
    torch.manual_seed(seed)
    model = Transformer(ModelConfig.from_depth(depth, vocab_size, max_seq_len, d_model=d_model,
                                               tie_embeddings=tie))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


def tokenizer_dir(directory: Path) -> Path:
    """tokenizer.json + transformers' files for the small chat tokenizer."""
    directory.mkdir(parents=True, exist_ok=True)
    small_tokenizer().save(str(directory / "tokenizer.json"))
    write_hf_files(directory, PARAMS.special_tokens)
    return directory


def hellaswag_rows(shared_data: Path, n: int) -> list[dict]:
    """The first n rows of the shared HellaSwag file, as JSON objects (skips the test when absent)."""
    import pytest

    path = shared_data.joinpath(*HELLASWAG)
    if not path.is_file():
        pytest.skip(f"HellaSwag sample not found at {path}")
    rows = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            rows.append(json.loads(line))
            if len(rows) == n:
                break
    return rows
