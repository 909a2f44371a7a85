"""The tokenizer stage's output as other packages read it: tokenizer.json, loaded with a clear
error, and its digest (token shards record it, so readers can tell which tokenizer made them)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tokenizers import Tokenizer

from stages.common.errors import StageInputError

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
