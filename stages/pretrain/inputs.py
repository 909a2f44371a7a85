"""The stage's inputs, checked before any training: token splits, the tokenizer that made them,
and the URLs of the training documents (which facts the model could have read).

Every mismatch is a one-line StageInputError: a missing or corrupt shard (length or dtype against
the manifest, token ids outside the vocabulary), a tokenizer file whose hash is not the one the
shards were made with, or a vocabulary size that differs between tokenizer and shards.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from tokenizers import Tokenizer

from crisol.core.errors import StageInputError
from crisol.formats.token_checks import check_made_by, check_shards
from crisol.formats.tokenizer_file import file_sha256, load_tokenizer, tokenizer_path
from crisol.formats.tokens import TokenSplit


@dataclass
class Inputs:
    train: TokenSplit
    validation: TokenSplit
    tokenizer: Tokenizer
    tokenizer_sha256: str
    vocab_size: int
    eos_id: int


def load_inputs(train_dir: Path, validation_dir: Path, tokenizer_dir: Path) -> Inputs:
    train, validation = TokenSplit(train_dir), TokenSplit(validation_dir)
    path = tokenizer_path(tokenizer_dir)
    tokenizer = load_tokenizer(path)
    sha = file_sha256(path)
    for split in (train, validation):
        check_made_by(split, tokenizer, path, sha)
    if validation.manifest.eos_id != train.manifest.eos_id:
        raise StageInputError(
            f"{validation_dir}: eos id {validation.manifest.eos_id} differs from the train "
            f"split's {train.manifest.eos_id}"
        )
    vocab = train.manifest.vocab_size
    for split in (train, validation):
        check_shards(split, vocab)
    return Inputs(
        train=train,
        validation=validation,
        tokenizer=tokenizer,
        tokenizer_sha256=sha,
        vocab_size=vocab,
        eos_id=train.manifest.eos_id,
    )


def train_urls(train: TokenSplit, documents: Path) -> set[str]:
    """URLs of the documents in the train split (ids from its document index, urls from dedup's output)."""
    ids: set[str] = set()
    for index in train.shard_indices:
        ids.update(train.documents(index).column("doc_id").to_pylist())
    if not Path(documents).exists():
        raise StageInputError(f"documents not found: {documents} (needed to know which pages were trained on)")
    table = pq.read_table(str(documents), columns=["id", "url"])
    urls = {
        url for doc_id, url in zip(table.column("id").to_pylist(), table.column("url").to_pylist()) if doc_id in ids
    }
    if not urls:
        raise StageInputError(f"{documents}: none of the train split's {len(ids)} document ids is there")
    return urls
