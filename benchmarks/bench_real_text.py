"""Our pretraining on real text, by the clock: tinyshakespeare at the character level, held-out bits
per byte after S seconds of training on 2 threads (issue 22's "time to a good model" on real text).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_real_text.py --seconds 240
                 [--recipe ours|nanogpt] [--text PATH] [--threads 2] [--set pretrain.KEY=VALUE ...]

Data, made here from the text file alone (no download): the first 90% of its characters train, the
last 10% are held out (nanoGPT's shakespeare_char split). The vocabulary is the file's characters
(65 for tinyshakespeare), ids in sorted order as nanoGPT's, plus an eos token that ends each split
as the token-shard format wants (it stands for no text and is not scored). The tokenizer is a
byte-level BPE without merges, so the stage's own checks and byte accounting read it as they read
ours; the text must be ASCII, so that one character is one byte and bits per character are bits per
byte.

Training: the pretrain stage itself (its command line, in this process) on those shards, with
pretrain.max_seconds = S (the decay's horizon is the clock: the learning rate reaches its floor when
the seconds run out). The network is nanoGPT's "baby GPT" on CPU (its README: 4 layers, 4 heads,
128 wide) in our architecture (RoPE, RMSNorm, SwiGLU, tied embeddings). The training recipe is ours
by default (OURS below: Muon, 16 x 128-character windows, a weight average as the model);
`--recipe nanogpt` trains with nanoGPT's own (64-character context, batch 12, AdamW at lr 1e-3
decayed to 1e-4, beta2 0.99, 100 warm-up steps, weight decay 0.1, no dropout). `--set` changes any
key after either.

Evaluation: the stage's own, on every held-out character (nanoGPT's estimate samples 20 batches).
Prints characters/s of training and, as its last line, `held-out bits per byte: X.XXX`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

from crisol.core.cli import main
from crisol.formats.tokenizer_file import TOKENIZER_FILE, file_sha256
from crisol.formats.tokens import SplitManifest, write_shard
from stages.pretrain.params import PretrainParams
from stages.pretrain.stage import run

TEXT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "text" / "tinyshakespeare.txt"
TRAIN_FRACTION = 0.9
EOS = "<|endoftext|>"
NEVER = 10**9  # steps: evaluate and checkpoint only at the start and at the end

# nanoGPT's baby GPT on CPU (its README's shakespeare_char settings), in our architecture: the same
# network for both recipes. 2 heads of 64 (our head width; pretrain's params have no head_dim): the
# same attention matrices as nanoGPT's 4 heads of 32. SwiGLU 384 wide: the parameters of its 4x GELU MLP.
MODEL: dict[str, Any] = {"depth": 4, "d_model": 128, "n_heads": None, "tie_embeddings": True}

# nanoGPT's own training settings (the measured starting point: 2.411 at 240 s).
NANOGPT: dict[str, Any] = {
    "seq_len": 64,
    "batch_size": 12,
    "optimizer": "adamw",
    "lr": 1e-3,
    "min_lr_ratio": 0.1,
    "warmup_steps": 100,
    "weight_decay": 0.1,
    "beta2": 0.99,
    "grad_clip": 1.0,
    "ema": 0.0,
}

# Ours, each change measured on this benchmark (docs/results.md, 2026-12-06 and -07): Muon for the
# blocks' matrices at 4x the rate, 16 windows of 128 characters (longer context was the one shape
# that lowered the plateau), and the weights' average with decay 0.998 as the model.
OURS: dict[str, Any] = {**NANOGPT, "seq_len": 128, "batch_size": 16, "optimizer": "muon", "lr": 4e-3, "ema": 0.998}

RECIPES = {"ours": OURS, "nanogpt": NANOGPT}


@dataclass(frozen=True)
class Prepared:
    vocabulary: list[str]  # id -> character; eos is id len(vocabulary)
    train_chars: int
    validation_chars: int
    train: Path
    validation: Path
    tokenizer: Path  # a directory holding tokenizer.json


def char_vocabulary(text: str) -> list[str]:
    return sorted(set(text))


def char_tokenizer(vocabulary: list[str]) -> Tokenizer:
    """A byte-level BPE with no merges whose tokens are exactly `vocabulary`'s characters (ids in its
    order), and eos after them."""
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    # each ASCII character's byte-level spelling (a space is "Ġ", a newline "Ċ"), from the pre-tokenizer itself
    vocab = {byte_level.pre_tokenize_str(c)[0][0]: i for i, c in enumerate(vocabulary)}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = byte_level
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([EOS])
    return tokenizer


def _write_split(directory: Path, name: str, ids: np.ndarray, eos: int, sha: str) -> Path:
    directory.mkdir(parents=True)
    tokens = np.append(ids, eos).astype(np.uint16)
    write_shard(directory, 0, tokens, [name], np.array([0]), np.array([len(ids)]))
    SplitManifest(
        dtype="uint16",
        vocab_size=eos + 1,
        eos_id=eos,
        tokenizer_sha256=sha,
        shards=({"index": 0, "tokens": len(tokens), "documents": 1},),
        params={"made_by": "benchmarks/bench_real_text.py", "split": name},
    ).write(directory)
    return directory


def prepare(text_path: Path, directory: Path) -> Prepared:
    """The tokenizer and the train/validation token shards of `text_path` under `directory`."""
    if not text_path.is_file():
        raise SystemExit(f"error: {text_path} not found (the shared data is cloned beside the repo as ../shared)")
    raw = text_path.read_bytes()
    if not raw.isascii():
        raise SystemExit(f"error: {text_path} is not ASCII: one character would not be one byte")
    text = raw.decode("ascii")
    vocabulary = char_vocabulary(text)
    tokenizer_dir = directory / "tokenizer"
    tokenizer_dir.mkdir(parents=True)
    char_tokenizer(vocabulary).save(str(tokenizer_dir / TOKENIZER_FILE))
    sha = file_sha256(tokenizer_dir)
    lookup = np.zeros(128, dtype=np.uint16)
    lookup[[ord(c) for c in vocabulary]] = np.arange(len(vocabulary))
    ids = lookup[np.frombuffer(raw, dtype=np.uint8)]
    cut = int(len(text) * TRAIN_FRACTION)
    eos = len(vocabulary)
    return Prepared(
        vocabulary=vocabulary,
        train_chars=cut,
        validation_chars=len(text) - cut,
        train=_write_split(directory / "tokens" / "train", "train", ids[:cut], eos, sha),
        validation=_write_split(directory / "tokens" / "validation", "validation", ids[cut:], eos, sha),
        tokenizer=tokenizer_dir,
    )


def write_params(work: Path, data: Prepared, seconds: float, threads: int, recipe: str = "ours") -> Path:
    """A params file for the pretrain stage on `data`, every output under `work`: the stage's
    defaults (so that `--set` reaches every key), then MODEL and the recipe, then the paths and
    budgets here."""
    defaults = PretrainParams().model_dump(mode="json")
    section = {
        **defaults,
        **RECIPES[recipe],
        "model": {**defaults["model"], **MODEL},
        "max_steps": NEVER,  # the clock decides
        "train": str(data.train),
        "validation": str(data.validation),
        "tokenizer": str(data.tokenizer),
        "out": str(work / "pretrain"),
        "plots": str(work / "plots"),
        "metrics": str(work / "metrics.json"),
        "checkpoint_dir": str(work / "checkpoints"),
        "max_seconds": seconds,
        "threads": threads,
        "device": "cpu",
        "eval_every": NEVER,
        "checkpoint_every": NEVER,
        "eval_tokens": data.validation_chars + 1,  # all of it (eos included, and not scored)
        "fact_probes": 0,  # a world's facts: none in Shakespeare
        "log_every": 100,
    }
    path = work / "params.yaml"
    path.write_text(yaml.safe_dump({"profile": "tiny", "pretrain": section}))
    return path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=240.0, help="seconds of training (pretrain.max_seconds)")
    parser.add_argument("--text", type=Path, default=TEXT)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--recipe",
        choices=sorted(RECIPES),
        default="ours",
        help="training settings: ours (the default), or nanoGPT's own for the like-for-like run",
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="pretrain.KEY=VALUE")
    return parser.parse_args(argv)


def bench(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-real-text-") as tmp:
        work = Path(tmp)
        data = prepare(args.text, work / "data")
        print(
            f"{args.text.name}: {data.train_chars:,} train / {data.validation_chars:,} held-out characters, "
            f"vocabulary {len(data.vocabulary)}",
            flush=True,
        )
        argv = ["--params", str(write_params(work, data, args.seconds, args.threads, args.recipe))]
        for assignment in args.overrides:
            argv += ["--set", assignment]
        code = main("pretrain", PretrainParams, run, argv)
        if code:
            raise SystemExit(code)
        return json.loads((work / "metrics.json").read_text())


def precision(metrics: dict[str, Any]) -> str:
    """How the matmuls ran: the figure moves with it (bf16 autocast is on by default on bf16 hardware)."""
    return "bf16 autocast" if metrics["bf16"] else "float32"


def report(metrics: dict[str, Any]) -> None:
    print(
        f"{metrics['steps']:,} steps in {metrics['train_seconds']:.1f} s of training "
        f"({metrics['run_seconds']:.1f} s in all, {metrics['device']}, {precision(metrics)}), "
        f"stopped by {metrics['stopped_by']}"
    )
    print(f"characters/s: {metrics['tokens_per_s']:,.0f} (training)")
    bits = metrics["validation"]["bits_per_byte"]
    if "live_bits_per_byte" in metrics["validation"]:  # pretrain.ema: the figures are the average's
        live = metrics["validation"]["live_bits_per_byte"]
        print(f"weight average (decay {metrics['ema']:g}): {bits:.3f}; the live weights: {live:.3f} bits per byte")
    print(f"held-out loss: {bits * math.log(2):.4f} nats per character (nanoGPT's `val loss`)")
    print(f"held-out bits per byte: {bits:.3f}")


if __name__ == "__main__":
    report(bench(parse_args()))
    sys.exit(0)
