"""The tokenizer stage's output as other packages read it: tokenizer.json, loaded with a clear
error, its digest (token shards record it, so readers can tell which tokenizer made them), and the
bytes of text each token stands for (bits per byte, the tokenizer report).

A byte-level BPE writes every byte as one of 256 printable characters, so a token's byte count is
the length of its string; special (added) tokens stand for no text and count 0 bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, pre_tokenizers

from crisol.core.errors import StageInputError

TOKENIZER_FILE = "tokenizer.json"


def tokenizer_path(path: Path | str) -> Path:
    """A tokenizers JSON file, or a directory holding tokenizer.json."""
    path = Path(path)
    return path / TOKENIZER_FILE if path.is_dir() else path


def load_tokenizer(path: Path | str) -> Tokenizer:
    """A fitted tokenizer from its JSON file (a directory means its tokenizer.json)."""
    path = tokenizer_path(path)
    if not path.is_file():
        raise StageInputError(f"tokenizer not found: {path} (run the tokenizer stage)")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on malformed JSON
        raise StageInputError(f"{path}: not a tokenizers JSON file ({exc})") from None


def file_sha256(path: Path | str) -> str:
    return hashlib.sha256(tokenizer_path(path).read_bytes()).hexdigest()


def token_byte_lengths(tokenizer: Tokenizer) -> np.ndarray:
    """int64 array [vocab]: the bytes of text each token decodes to (0 for special tokens)."""
    alphabet = set(pre_tokenizers.ByteLevel.alphabet())
    special = set(tokenizer.get_added_tokens_decoder())
    vocab = tokenizer.get_vocab_size()
    lengths = np.zeros(vocab, dtype=np.int64)
    for token_id in range(vocab):
        if token_id in special:
            continue
        text = tokenizer.id_to_token(token_id)
        if text is None or not set(text) <= alphabet:
            raise StageInputError(
                f"tokenizer: token {token_id} ({text!r}) is not byte-level BPE; "
                "bits per byte need a byte-level tokenizer"
            )
        lengths[token_id] = len(text)
    return lengths
