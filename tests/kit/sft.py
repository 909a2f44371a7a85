"""Shared by the SFT, reward and PPO stage tests: the micro synthetic world, a small tokenizer with
the chat tokens, a random base model, a pretraining token split (what SFT mixes in), and the sft stage
run on them with small settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import torch

from crisol.formats.tokenizer_file import file_sha256, tokenizer_path
from crisol.formats.tokens import SplitManifest, write_shard
from crisol.model.config import ModelConfig
from crisol.model.transformer import Transformer
from crisol.model.weights import save_model
from kit.chat import PARAMS as TOKENIZER_PARAMS
from kit.chat import small_tokenizer
from kit.stages import run_stage, stage_defaults, write_stage_params
from kit.web import generate as generate_web
from stages.tokenizer.hf_files import write_hf_files

CONTEXT = 96
SMALL = {
    "max_tokens": CONTEXT,
    "epochs": 2,
    "batch_size": 16,
    "lr": 3e-3,
    "warmup_steps": 2,
    "eval_every": 10,
    "eval_examples": 12,
    "max_new_tokens": 8,
    "few_shot": 1,
    "samples": 3,
    "log_every": 5,
    "threads": 1,
    "generated": {
        "heldout_fraction": 0.15,
        "validation_fraction": 0.1,
        "idk_examples": 30,
        "idk_validation_examples": 8,
        "idk_rl_examples": 12,
        "idk_eval_examples": 10,
        "reading_examples": 20,
        "passage_max_chars": 120,
        "list_examples": 10,
        "count_examples": 10,
        "compare_examples": 20,
        "questions_per_fact": 1,
    },
}


# Pretraining text for the SFT stage's mixed-in windows (sft.text) where no world's pages are at hand.
PLAIN_TEXT = (
    "The river runs past the old mill and the market square, where traders sell bread, fish and cloth. "
    "In the evening the square is quiet, and the lamps along the bridge are lit one by one."
)


def write_token_split(directory: Path, tokenizer_dir: Path, texts: list[str], sha: str | None = None) -> Path:
    """`texts` tokenized by the kit's tokenizer, eos after each, as a one-shard token split made by
    the tokenizer file in `tokenizer_dir` (or, given `sha`, claiming that tokenizer hash)."""
    tokenizer = small_tokenizer()
    eos = tokenizer.get_vocab_size() - 1
    ids = [i for text in texts for i in tokenizer.encode(text).ids + [eos]]
    directory.mkdir(parents=True)
    write_shard(directory, 0, np.array(ids, dtype=np.uint16), ["texts"], np.array([0]), np.array([len(ids)]))
    SplitManifest(
        dtype="uint16",
        vocab_size=tokenizer.get_vocab_size(),
        eos_id=eos,
        tokenizer_sha256=sha or file_sha256(tokenizer_path(tokenizer_dir)),
        shards=({"index": 0, "tokens": len(ids), "documents": 1},),
        params={"made_by": "tests/kit/sft.py"},
    ).write(directory)
    return directory


def make_model_inputs(root: Path, context: int = CONTEXT, texts: list[str] | None = None) -> dict[str, Path]:
    """A small tokenizer with the chat tokens, a random base model of `context` positions, and the
    pretraining token split of `texts` (PLAIN_TEXT repeated when None) that SFT mixes in."""
    tokenizer_dir = root / "tokenizer"
    tokenizer_dir.mkdir()
    tokenizer = small_tokenizer()
    tokenizer.save(str(tokenizer_dir / "tokenizer.json"))
    write_hf_files(tokenizer_dir, TOKENIZER_PARAMS.special_tokens)
    torch.manual_seed(0)
    base = Transformer(ModelConfig.from_depth(2, tokenizer.get_vocab_size(), context, d_model=32))
    save_model(base, root / "base")
    text = write_token_split(root / "tokens" / "train", tokenizer_dir, texts or [PLAIN_TEXT] * 20)
    return {"tokenizer": tokenizer_dir, "base": root / "base", "text": text}


def make_inputs(root: Path) -> dict[str, Path]:
    """A micro world, a small tokenizer with the chat tokens, a random base model of CONTEXT
    positions, and the world's English pages as the pretraining token split."""
    web = generate_web(root / "web")
    pages = pl.read_parquet(web / "pages.parquet").filter(pl.col("lang") == "en")["main_text"].to_list()
    model_inputs = make_model_inputs(root, texts=pages[:60])
    return {"facts": web / "facts.parquet", "pages": web / "pages.parquet", **model_inputs}


def run_sft(root: Path, inputs: dict[str, Path], top: dict | None = None, **overrides) -> tuple[int, Path]:
    """The stage through its command line; `top`: top-level params (source, own) besides the sft section."""
    root.mkdir(parents=True, exist_ok=True)
    section = {
        **stage_defaults("sft"),
        **SMALL,
        **{k: str(v) for k, v in inputs.items()},
        "out": str(root / "sft"),
        "plots": str(root / "plots"),
        "metrics": str(root / "metrics.json"),
        **overrides,
    }
    params = write_stage_params(
        root / "params.yaml", "sft", section, profile="micro", executor={"workers": 1}, **(top or {})
    )
    return run_stage("sft", params), root
