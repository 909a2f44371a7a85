"""Token splits of real English text for the training benchmarks: a byte-level BPE (the tokenizer
stage's own, at tiny's 4096 tokens) fitted on the train text, which is WikiText-2 validation and the
first 90% of tiny Shakespeare; held out: WikiText-2 test and Shakespeare's last 10%.

Random tokens have nothing to learn, so a loss target means something only on text like this.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crisol.formats.tokens import SplitManifest, TokenSplit, token_dtype, write_shard
from stages.tokenizer.bpe import fit, for_documents
from stages.tokenizer.params import TokenizerParams

TEXT_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "text"
CHUNK_CHARS = 20_000  # documents of this size: a shard holds many, as the stage writes them


def texts(text_dir: Path = TEXT_DIR) -> tuple[list[str], list[str]]:
    """(train, held-out) texts, cut into documents of about CHUNK_CHARS characters."""
    shakespeare = (text_dir / "tinyshakespeare.txt").read_text()
    cut = int(len(shakespeare) * 0.9)
    train = [(text_dir / "wikitext2_valid.txt").read_text(), shakespeare[:cut]]
    held_out = [(text_dir / "wikitext2_test.txt").read_text(), shakespeare[cut:]]
    return _chunks(train), _chunks(held_out)


def _chunks(sources: list[str]) -> list[str]:
    return [text[i : i + CHUNK_CHARS] for text in sources for i in range(0, len(text), CHUNK_CHARS)]


def write_splits(directory: Path, vocab_size: int = 4096) -> tuple[TokenSplit, TokenSplit]:
    """Fit the BPE on the train text and write both splits as one-shard token splits (eos between
    documents, as the tokenizer stage packs them)."""
    train_texts, held_out_texts = texts()
    params = TokenizerParams(vocab_size=vocab_size)
    tokenizer = for_documents(fit(train_texts, params))
    eos = tokenizer.token_to_id(params.special_tokens.eos)
    return (
        _write(directory / "train", tokenizer, train_texts, eos, vocab_size),
        _write(directory / "validation", tokenizer, held_out_texts, eos, vocab_size),
    )


def _write(directory: Path, tokenizer, documents: list[str], eos: int, vocab_size: int) -> TokenSplit:
    directory.mkdir(parents=True)
    ids = [encoding.ids + [eos] for encoding in tokenizer.encode_batch(documents)]
    lengths = np.array([len(i) for i in ids], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    array = np.concatenate([np.asarray(i) for i in ids]).astype(token_dtype(vocab_size))
    names = [f"doc-{n}" for n in range(len(ids))]
    write_shard(directory, 0, array, names, starts, lengths)
    SplitManifest(
        dtype=str(array.dtype),
        vocab_size=vocab_size,
        eos_id=eos,
        tokenizer_sha256="bench",
        shards=({"index": 0, "tokens": int(len(array)), "documents": len(ids)},),
        params={},
    ).write(directory)
    return TokenSplit(directory)
