"""Checks of a token split against the tokenizer a stage reads it with, before any training: every
mismatch is a one-line StageInputError (pretraining's inputs, SFT's mixed-in pretraining text)."""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer

from crisol.core.errors import StageInputError
from crisol.formats.tokens import TokenSplit


def check_made_by(split: TokenSplit, tokenizer: Tokenizer, path: Path, sha: str) -> None:
    """The split was made by this tokenizer file (`path`, whose hash is `sha`), with its vocabulary."""
    m = split.manifest
    if m.vocab_size != tokenizer.get_vocab_size():
        raise StageInputError(
            f"{split.directory}: vocabulary size {m.vocab_size} differs from the "
            f"tokenizer's {tokenizer.get_vocab_size()} ({path})"
        )
    if m.tokenizer_sha256 != sha:
        raise StageInputError(
            f"{split.directory}: shards were made by tokenizer {m.tokenizer_sha256[:12]}, "
            f"but {path} is {sha[:12]} (re-run the tokenizer stage)"
        )


def check_shards(split: TokenSplit, vocab_size: int) -> None:
    """Open every shard (length and dtype against the manifest) and bound its token ids."""
    if not split.shard_indices or split.manifest.tokens == 0:
        raise StageInputError(f"{split.directory}: the split holds no tokens")
    for index in split.shard_indices:
        tokens = split.tokens(index)
        if len(tokens) and int(tokens.max()) >= vocab_size:
            raise StageInputError(
                f"{split.directory}: shard {index} holds token id {int(tokens.max())} >= vocabulary size {vocab_size}"
            )
