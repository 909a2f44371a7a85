"""Encoding one input shard into token shards (runs on the stage's executor, one call per shard).

Each worker loads the fitted tokenizer from its file, encodes its documents with encode_batch_fast
(Rust, no offsets), and writes the shard's train and validation parts: documents back to back,
each followed by eos, plus the document index (see crisol/formats/tokens.py).
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crisol.formats.document_shards import Shard, read_shard
from crisol.formats.tokenizer_file import load_tokenizer
from crisol.formats.tokens import token_dtype, write_shard
from stages.tokenizer.bpe import for_documents
from stages.tokenizer.selection import is_validation, skip_reason

SPLITS = ("train", "validation")


@dataclass(frozen=True)
class EncodeTask:
    shard: Shard
    tokenizer_path: str
    out_dirs: dict[str, str]  # split name -> directory
    specials: tuple[str, ...]
    eos_id: int
    validation_fraction: float
    split_salt: str
    batch_docs: int
    # With several worker processes each encodes single-threaded: tokenizers' own thread pool in
    # every process would oversubscribe the cores.
    single_threaded: bool


@dataclass
class SplitResult:
    documents: int = 0
    tokens: int = 0  # document tokens; the eos after each is not counted
    utf8_bytes: int = 0
    chars: int = 0
    words: int = 0
    lengths: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    id_counts: np.ndarray | None = None  # occurrences of every token id

    @property
    def stored_tokens(self) -> int:
        """Tokens in the shard file: the documents' tokens plus one eos each."""
        return self.tokens + self.documents


@dataclass
class EncodeResult:
    index: int
    splits: dict[str, SplitResult]
    skipped: Counter


def encode_texts(tokenizer, texts: list[str], batch_docs: int) -> list[list[int]]:
    ids: list[list[int]] = []
    for start in range(0, len(texts), batch_docs):
        ids.extend(e.ids for e in tokenizer.encode_batch_fast(texts[start : start + batch_docs]))
    return ids


def pack(ids: list[list[int]], eos_id: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Documents back to back, each followed by eos: (tokens, starts, lengths)."""
    lengths = np.fromiter((len(x) for x in ids), np.int64, count=len(ids))
    starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]).astype(np.int64) if len(ids) else lengths
    out = np.empty(int(lengths.sum()) + len(ids), dtype=dtype)
    is_text = np.ones(len(out), dtype=bool)
    is_text[starts + lengths] = False
    out[is_text] = np.fromiter(itertools.chain.from_iterable(ids), dtype=dtype, count=int(lengths.sum()))
    out[~is_text] = eos_id
    return out, starts, lengths


def encode_shard(task: EncodeTask) -> EncodeResult:
    if task.single_threaded:
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
    tokenizer = for_documents(load_tokenizer(task.tokenizer_path))
    vocab = tokenizer.get_vocab_size()
    dtype = token_dtype(vocab)
    table = read_shard(task.shard, columns=["id", "text"])
    chosen: dict[str, tuple[list[str], list[str]]] = {split: ([], []) for split in SPLITS}
    skipped: Counter = Counter()
    for doc_id, text in zip(table.column("id").to_pylist(), table.column("text").to_pylist()):
        reason = skip_reason(text, task.specials)
        if reason:
            skipped[reason] += 1
            continue
        split = "validation" if is_validation(doc_id, task.validation_fraction, task.split_salt) else "train"
        chosen[split][0].append(doc_id)
        chosen[split][1].append(text)

    results = {}
    for split, (doc_ids, texts) in chosen.items():
        ids = encode_texts(tokenizer, texts, task.batch_docs)
        tokens, starts, lengths = pack(ids, task.eos_id, dtype)
        write_shard(Path(task.out_dirs[split]), task.shard.index, tokens, doc_ids, starts, lengths)
        results[split] = SplitResult(
            documents=len(doc_ids),
            tokens=int(lengths.sum()),
            utf8_bytes=sum(len(t.encode("utf-8", "surrogatepass")) for t in texts),
            chars=sum(len(t) for t in texts),
            words=sum(len(t.split()) for t in texts),
            lengths=lengths.astype(np.int32),
            id_counts=np.bincount(tokens, minlength=vocab).astype(np.int64),
        )
    return EncodeResult(task.shard.index, results, skipped)
