"""Token shards: the tokenizer stage writes them, pretraining and evaluation read them.

A split (train or validation) is a directory:

    manifest.json          dtype, vocab size, eos id, tokenizer sha256, shard list, totals
    part-00000.arrow       Arrow IPC file, one record batch, one column `tokens` (uint16/uint32):
                           documents back to back, each followed by eos
    part-00000.docs.arrow  Arrow IPC file: `doc_id`, `start` (offset of the document's first token
                           in the shard), `length` (its tokens, eos not counted)

Both files are uncompressed IPC, so `memory_map` + `open_file` hands back arrays that point into
the mapped file: `TokenSplit.tokens(i)` is a numpy view of the page cache, no copy, whatever the
shard's size. A loader slices windows out of it and copies only the batch it trains on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from crisol.core.atomic import atomic_file, write_json
from crisol.core.errors import StageInputError

SCHEMA_NAME = "tokens"
SCHEMA_VERSION = 1
MANIFEST = "manifest.json"


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits (vocab_size <= 65,536), else uint32."""
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.uint32)


def tokens_file(index: int) -> str:
    return f"part-{index:05d}.arrow"


def docs_file(index: int) -> str:
    return f"part-{index:05d}.docs.arrow"


def _write_ipc(path: Path, table: pa.Table) -> None:
    with atomic_file(path) as tmp:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            # One record batch: a chunked column could not be handed out as one zero-copy array.
            writer.write_table(table, max_chunksize=max(table.num_rows, 1))


def write_shard(
    directory: Path | str, index: int, tokens: np.ndarray, doc_ids: list[str], starts: np.ndarray, lengths: np.ndarray
) -> None:
    """Write shard `index` of a split: the flat token array and its document index."""
    directory = Path(directory)
    _write_ipc(directory / tokens_file(index), pa.table({"tokens": pa.array(tokens)}))
    _write_ipc(
        directory / docs_file(index),
        pa.table(
            {
                "doc_id": pa.array(doc_ids, pa.string()),
                "start": pa.array(np.asarray(starts, np.int64)),
                "length": pa.array(np.asarray(lengths, np.int32)),
            }
        ),
    )


@dataclass(frozen=True)
class SplitManifest:
    dtype: str  # "uint16" or "uint32"
    vocab_size: int
    eos_id: int
    tokenizer_sha256: str
    shards: tuple[dict[str, int], ...]  # per shard: index, tokens, documents
    params: dict[str, Any]

    @property
    def tokens(self) -> int:
        return sum(s["tokens"] for s in self.shards)

    @property
    def documents(self) -> int:
        return sum(s["documents"] for s in self.shards)

    def write(self, directory: Path | str) -> None:
        write_json(
            Path(directory) / MANIFEST,
            {
                "schema": SCHEMA_NAME,
                "schema_version": SCHEMA_VERSION,
                "dtype": self.dtype,
                "vocab_size": self.vocab_size,
                "eos_id": self.eos_id,
                "tokenizer_sha256": self.tokenizer_sha256,
                "tokens": self.tokens,
                "documents": self.documents,
                "shards": list(self.shards),
                "params": self.params,
            },
        )


class TokenSplit:
    """A split's token shards, memory-mapped. Raises StageInputError on a missing or foreign one.

    split = TokenSplit("data/tokens/train")
    arr = split.tokens(0)          # numpy view into the mapped file (zero copy)
    docs = split.documents(0)      # pyarrow Table: doc_id, start, length
    """

    def __init__(self, directory: Path | str):
        self.directory = Path(directory)
        path = self.directory / MANIFEST
        if not path.is_file():
            raise StageInputError(f"token split not found: {path} is missing (run the tokenizer stage)")
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise StageInputError(f"{path}: unreadable manifest ({exc})") from None
        if raw.get("schema") != SCHEMA_NAME:
            raise StageInputError(f"{path}: expected a '{SCHEMA_NAME}' manifest, found '{raw.get('schema')}'")
        if int(raw.get("schema_version", 0)) > SCHEMA_VERSION:
            raise StageInputError(
                f"{path}: token schema version {raw['schema_version']} is newer than this code's {SCHEMA_VERSION}"
            )
        self.manifest = SplitManifest(
            dtype=raw["dtype"],
            vocab_size=int(raw["vocab_size"]),
            eos_id=int(raw["eos_id"]),
            tokenizer_sha256=raw["tokenizer_sha256"],
            shards=tuple(raw["shards"]),
            params=raw.get("params", {}),
        )
        self.dtype = np.dtype(self.manifest.dtype)
        self._arrays: dict[int, np.ndarray] = {}

    @property
    def shard_indices(self) -> list[int]:
        return [s["index"] for s in self.manifest.shards]

    def _open(self, name: str) -> pa.RecordBatch:
        path = self.directory / name
        try:
            reader = pa.ipc.open_file(pa.memory_map(str(path), "r"))
            if reader.num_record_batches == 0:  # an empty shard
                return pa.RecordBatch.from_pylist([], schema=reader.schema)
            return reader.get_batch(0)
        except (OSError, pa.ArrowInvalid) as exc:
            raise StageInputError(f"{path}: missing or corrupt token shard ({exc})") from None

    def tokens(self, index: int) -> np.ndarray:
        """Shard `index`'s tokens: a read-only numpy view of the memory-mapped file."""
        if index not in self._arrays:
            column = self._open(tokens_file(index)).column(0)
            expected = next((s["tokens"] for s in self.manifest.shards if s["index"] == index), None)
            if expected is None:
                raise StageInputError(f"{self.directory}: no shard {index} in the manifest")
            if column.type.to_pandas_dtype() != self.dtype or len(column) != expected:
                raise StageInputError(
                    f"{self.directory / tokens_file(index)}: {len(column)} {column.type} tokens, "
                    f"manifest says {expected} {self.dtype}"
                )
            self._arrays[index] = column.to_numpy(zero_copy_only=True)
        return self._arrays[index]

    def documents(self, index: int) -> pa.Table:
        """Shard `index`'s document index: doc_id, start, length."""
        return pa.Table.from_batches([self._open(docs_file(index))])
