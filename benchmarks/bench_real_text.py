"""Our pretraining on real text, by the clock: tinyshakespeare, held-out bits per byte after S
seconds of training on 2 threads (issue 22's "time to a good model" on real text).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_real_text.py --seconds 240
                 [--recipe ours|nanogpt] [--tokenizer bpe|chars] [--vocab N] [--text PATH]
                 [--threads 2] [--set pretrain.KEY=VALUE ...]

Data, made here from the text file alone (no download): the first 90% of its characters train, the
last 10% are held out (nanoGPT's shakespeare_char split). Two tokenizers, each written as the
tokenizer stage writes its own (tokenizer.json, token shards ending in eos), so the pretrain stage
checks and counts bytes as it does ours:
- bpe (our recipe's): the tokenizer stage's byte-level BPE (stages/tokenizer/bpe.py, its default
  split pattern and special tokens) fitted on the train split only, `--vocab` tokens in all (512:
  256 bytes, 11 specials, 245 merges; about 2 characters a token on tinyshakespeare);
- chars (nanoGPT's): the file's characters (65 for tinyshakespeare), ids in sorted order as
  nanoGPT's, then eos; a byte-level BPE without merges, so the text must be ASCII (one character,
  one byte).
Held-out bits per byte do not depend on the tokenizer: the loss of every held-out token in bits,
over the bytes of text they stand for (eos stands for none and is not scored).

Training: the pretrain stage itself (its command line, in this process) on those shards, with
pretrain.max_seconds = S (the decay's horizon is the clock: the learning rate reaches its floor when
the seconds run out). The network is nanoGPT's "baby GPT" on CPU (its README: 4 layers, 4 heads,
128 wide) in our architecture (RoPE, RMSNorm, SwiGLU, tied embeddings). The training recipe is ours
by default (OURS below: our BPE, Muon, 16 windows of 128 tokens, a weight average as the model);
`--recipe nanogpt` trains with nanoGPT's own (characters, 64-character context, batch 12, AdamW at
lr 1e-3 decayed to 1e-4, beta2 0.99, 100 warm-up steps, weight decay 0.1, no dropout). `--set`
changes any pretrain key after either, `--tokenizer` and `--vocab` the tokenizer.

Evaluation: the stage's own, on every held-out token (nanoGPT's estimate samples 20 batches).
Prints tokens and characters per second of training and, as its last line, `held-out bits per
byte: X.XXX`.
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
from stages.tokenizer.bpe import fit, for_documents
from stages.tokenizer.params import BYTE_ALPHABET, SpecialTokens, TokenizerParams

TEXT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "text" / "tinyshakespeare.txt"
TRAIN_FRACTION = 0.9
CHARS_EOS = "<|endoftext|>"
SHARD_VOCAB = 1 << 16  # ids are stored as uint16
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
# blocks' matrices at 4x the rate, 16 windows of 128 tokens (longer context was the one shape that
# lowered the plateau), the weights' average with decay 0.998 as the model, and our BPE (below),
# which sees the train split 8 times in 240 s where characters saw it 5: weight decay 0.5 holds the
# overfitting back (0.1 suited characters).
OURS: dict[str, Any] = {
    **NANOGPT,
    "seq_len": 128,
    "batch_size": 16,
    "optimizer": "muon",
    "lr": 4e-3,
    "ema": 0.998,
    "weight_decay": 0.5,
}

RECIPES = {"ours": OURS, "nanogpt": NANOGPT}
# Each recipe's tokenizer: ours the tokenizer stage's BPE at 512 tokens (about 260 characters of
# context in a 128-token window, and as many more characters a second), nanoGPT's its characters.
TOKENIZERS = {"ours": ("bpe", 512), "nanogpt": ("chars", None)}


@dataclass(frozen=True)
class Prepared:
    tokenizer_kind: str  # bpe or chars
    vocab_size: int
    eos_id: int
    train_chars: int
    validation_chars: int
    train_tokens: int
    validation_tokens: int
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
    tokenizer.add_special_tokens([CHARS_EOS])
    return tokenizer


def bpe_tokenizer(train_text: str, vocab_size: int) -> tuple[Tokenizer, int]:
    """The tokenizer stage's BPE fitted on `train_text`, and its eos id."""
    params = TokenizerParams(vocab_size=vocab_size)
    tokenizer = for_documents(fit([train_text], params))
    return tokenizer, tokenizer.token_to_id(params.special_tokens.eos)


def _write_split(directory: Path, name: str, ids: list[int], eos: int, vocab_size: int, sha: str) -> Path:
    directory.mkdir(parents=True)
    tokens = np.append(np.asarray(ids, dtype=np.int64), eos).astype(np.uint16)
    write_shard(directory, 0, tokens, [name], np.array([0]), np.array([len(ids)]))
    SplitManifest(
        dtype="uint16",
        vocab_size=vocab_size,
        eos_id=eos,
        tokenizer_sha256=sha,
        shards=({"index": 0, "tokens": len(tokens), "documents": 1},),
        params={"made_by": "benchmarks/bench_real_text.py", "split": name},
    ).write(directory)
    return directory


def prepare(text_path: Path, directory: Path, tokenizer_kind: str = "bpe", vocab_size: int = 512) -> Prepared:
    """The tokenizer and the train/validation token shards of `text_path` under `directory`."""
    if not text_path.is_file():
        raise SystemExit(f"error: {text_path} not found (the shared data is cloned beside the repo as ../shared)")
    raw = text_path.read_bytes()
    if tokenizer_kind == "chars" and not raw.isascii():
        raise SystemExit(f"error: {text_path} is not ASCII: one character would not be one byte (use --tokenizer bpe)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SystemExit(f"error: {text_path} is not UTF-8 text: {exc}") from None
    cut = int(len(text) * TRAIN_FRACTION)
    if tokenizer_kind == "chars":
        tokenizer = char_tokenizer(char_vocabulary(text))
        eos = tokenizer.get_vocab_size() - 1
    else:
        tokenizer, eos = bpe_tokenizer(text[:cut], vocab_size)
    tokenizer_dir = directory / "tokenizer"
    tokenizer_dir.mkdir(parents=True)
    tokenizer.save(str(tokenizer_dir / TOKENIZER_FILE))
    sha = file_sha256(tokenizer_dir)
    train_ids, validation_ids = (tokenizer.encode(part).ids for part in (text[:cut], text[cut:]))
    size = tokenizer.get_vocab_size()
    return Prepared(
        tokenizer_kind=tokenizer_kind,
        vocab_size=size,
        eos_id=eos,
        train_chars=cut,
        validation_chars=len(text) - cut,
        train_tokens=len(train_ids),
        validation_tokens=len(validation_ids),
        train=_write_split(directory / "tokens" / "train", "train", train_ids, eos, size, sha),
        validation=_write_split(directory / "tokens" / "validation", "validation", validation_ids, eos, size, sha),
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
        "eval_tokens": data.validation_tokens + 1,  # all of it (eos included, and not scored)
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
        help="training settings and tokenizer: ours (the default), or nanoGPT's own for the like-for-like run",
    )
    parser.add_argument("--tokenizer", choices=["bpe", "chars"], help="default: the recipe's (ours bpe, nanogpt chars)")
    parser.add_argument("--vocab", type=int, help="the BPE's vocabulary, bytes and specials included (default 512)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="pretrain.KEY=VALUE")
    args = parser.parse_args(argv)
    kind, vocab = TOKENIZERS[args.recipe]
    args.tokenizer = args.tokenizer or kind
    if args.vocab is not None and args.tokenizer != "bpe":
        parser.error("--vocab sizes the BPE; characters have the text's own vocabulary")
    if args.vocab is None:
        args.vocab = vocab or TOKENIZERS["ours"][1]
    smallest = BYTE_ALPHABET + len(SpecialTokens().tokens())
    if not smallest <= args.vocab <= SHARD_VOCAB:
        parser.error(f"--vocab must be from {smallest} (every byte and the special tokens) to {SHARD_VOCAB}")
    return args


def bench(args: argparse.Namespace) -> tuple[dict[str, Any], Prepared]:
    with tempfile.TemporaryDirectory(prefix="bench-real-text-") as tmp:
        work = Path(tmp)
        data = prepare(args.text, work / "data", args.tokenizer, args.vocab)
        print(
            f"{args.text.name}: {data.train_chars:,} train / {data.validation_chars:,} held-out characters; "
            f"{describe(data)}",
            flush=True,
        )
        argv = ["--params", str(write_params(work, data, args.seconds, args.threads, args.recipe))]
        for assignment in args.overrides:
            argv += ["--set", assignment]
        code = main("pretrain", PretrainParams, run, argv)
        if code:
            raise SystemExit(code)
        return json.loads((work / "metrics.json").read_text()), data


def describe(data: Prepared) -> str:
    kind = "BPE" if data.tokenizer_kind == "bpe" else "characters"
    return (
        f"{kind}, vocabulary {data.vocab_size}: {data.train_tokens:,} train tokens "
        f"({data.train_chars / data.train_tokens:.2f} characters a token)"
    )


def precision(metrics: dict[str, Any]) -> str:
    """How the matmuls ran: the figure moves with it (bf16 autocast is on by default on bf16 hardware)."""
    return "bf16 autocast" if metrics["bf16"] else "float32"


def report(metrics: dict[str, Any], characters_per_token: float = 1.0) -> None:
    print(
        f"{metrics['steps']:,} steps in {metrics['train_seconds']:.1f} s of training "
        f"({metrics['run_seconds']:.1f} s in all, {metrics['device']}, {precision(metrics)}), "
        f"stopped by {metrics['stopped_by']}"
    )
    tokens = metrics["tokens_per_s"]
    print(f"tokens/s: {tokens:,.0f}, characters/s: {tokens * characters_per_token:,.0f} (training)")
    bits = metrics["validation"]["bits_per_byte"]
    if "live_bits_per_byte" in metrics["validation"]:  # pretrain.ema: the figures are the average's
        live = metrics["validation"]["live_bits_per_byte"]
        print(f"weight average (decay {metrics['ema']:g}): {bits:.3f}; the live weights: {live:.3f} bits per byte")
    print(f"held-out loss: {bits * math.log(2):.4f} nats per byte (nanoGPT's `val loss` with characters)")
    print(f"held-out bits per byte: {bits:.3f}")


if __name__ == "__main__":
    metrics, data = bench(parse_args())
    report(metrics, data.train_chars / data.train_tokens)
    sys.exit(0)
