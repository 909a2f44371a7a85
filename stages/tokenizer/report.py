"""The tokenizer report: how well the vocabulary compresses held-out text, and how it is used.

- bytes, characters and words per token on the validation split (higher = fewer tokens for the
  same text; tokens per word is the usual "fertility");
- tokens per document (both splits);
- vocabulary use on the train split: learned tokens never emitted are wasted embedding rows;
- the longest tokens (by bytes), a quick look at what the merges learned.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tokenizers import Tokenizer

from crisol.formats.tokenizer_file import token_byte_lengths
from stages.tokenizer.encode import EncodeResult, SplitResult


def merge_splits(results: list[EncodeResult], split: str, vocab_size: int) -> SplitResult:
    total = SplitResult(id_counts=np.zeros(vocab_size, np.int64))
    parts = [r.splits[split] for r in results]
    for part in parts:
        total.documents += part.documents
        total.tokens += part.tokens
        total.utf8_bytes += part.utf8_bytes
        total.chars += part.chars
        total.words += part.words
        total.id_counts += part.id_counts
    total.lengths = np.concatenate([p.lengths for p in parts]) if parts else np.zeros(0, np.int32)
    return total


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def compression(split: SplitResult) -> dict[str, Any]:
    return {
        "documents": split.documents,
        "tokens": split.tokens,
        "utf8_bytes": split.utf8_bytes,
        "bytes_per_token": _ratio(split.utf8_bytes, split.tokens),
        "chars_per_token": _ratio(split.chars, split.tokens),
        "words_per_token": _ratio(split.words, split.tokens),
        "tokens_per_word": _ratio(split.tokens, split.words),
    }


def length_summary(lengths: np.ndarray) -> dict[str, Any]:
    if not len(lengths):
        return {"documents": 0}
    q = np.percentile(lengths, [50, 90, 99])
    return {
        "documents": int(len(lengths)),
        "mean": round(float(lengths.mean()), 1),
        "min": int(lengths.min()),
        "p50": float(q[0]),
        "p90": float(q[1]),
        "p99": float(q[2]),
        "max": int(lengths.max()),
    }


def vocabulary_use(counts: np.ndarray, n_special: int) -> dict[str, Any]:
    learned = counts[n_special:]  # specials take the first ids
    used = int((learned > 0).sum())
    return {
        "learned_tokens": int(len(learned)),
        "used_in_train": used,
        "unused_in_train": int(len(learned) - used),
        "used_fraction": _ratio(used, len(learned)),
    }


def longest_tokens(tokenizer: Tokenizer, n_special: int, top: int) -> list[dict[str, Any]]:
    """The `top` longest learned tokens by UTF-8 bytes, with their text (partial UTF-8 shown as �)."""
    lengths = token_byte_lengths(tokenizer)
    ids = sorted(range(n_special, len(lengths)), key=lambda i: (-lengths[i], i))[:top]
    return [{"id": i, "bytes": int(lengths[i]), "text": tokenizer.decode([i])} for i in ids]


def build_report(
    tokenizer: Tokenizer, train: SplitResult, validation: SplitResult, n_special: int, top: int
) -> dict[str, Any]:
    return {
        "vocab_size": tokenizer.get_vocab_size(),
        "special_tokens": n_special,
        "validation": compression(validation),
        "train": compression(train),
        "tokens_per_document": length_summary(np.concatenate([train.lengths, validation.lengths])),
        "vocabulary_use": vocabulary_use(train.id_counts, n_special),
        "longest_tokens": longest_tokens(tokenizer, n_special, top),
    }


def _cell(text: str) -> str:
    """A token shown in a Markdown table cell: quoted, with pipes escaped."""
    return repr(text).replace("|", "\\|")


def report_markdown(report: dict[str, Any]) -> str:
    val, use, per_doc = report["validation"], report["vocabulary_use"], report["tokens_per_document"]
    lines = [
        "# Tokenizer report",
        "",
        f"Vocabulary: {report['vocab_size']} ids ({report['special_tokens']} special).",
        "",
        "| validation split | value |",
        "|---|---|",
        f"| documents | {val['documents']} |",
        f"| tokens | {val['tokens']} |",
        f"| bytes per token | {val['bytes_per_token']} |",
        f"| characters per token | {val['chars_per_token']} |",
        f"| words per token | {val['words_per_token']} |",
        f"| tokens per word | {val['tokens_per_word']} |",
        "",
        f"Tokens per document: mean {per_doc.get('mean')}, median {per_doc.get('p50')}, "
        f"p90 {per_doc.get('p90')}, max {per_doc.get('max')}.",
        "",
        f"Vocabulary use (train): {use['used_in_train']} of {use['learned_tokens']} learned tokens "
        f"appear ({use['unused_in_train']} never do).",
        "",
        "| longest tokens | bytes |",
        "|---|---|",
    ]
    lines += [f"| {_cell(t['text'])} | {t['bytes']} |" for t in report["longest_tokens"]]
    return "\n".join(lines) + "\n"
