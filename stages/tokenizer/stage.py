"""The tokenizer stage:

deduplicated documents ─(main)──────> BPE fitted on train-split text -> tokenizer.json (+ HF files)
                       ─(sharded)───> train/ and validation/ token shards, one part per input shard
                       ─(main)──────> manifests, report.json / report.md, metrics
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from tokenizers import Tokenizer

from crisol.core.atomic import atomic_dir, write_json, write_text
from crisol.core.cli import StageContext
from crisol.core.errors import StageInputError
from crisol.core.executor import map_shards
from crisol.formats.document_shards import Shard, list_shards, read_shard
from crisol.formats.tokenizer_file import TOKENIZER_FILE, file_sha256
from crisol.formats.tokens import SplitManifest, token_dtype
from stages.tokenizer.bpe import fit
from stages.tokenizer.encode import SPLITS, EncodeResult, EncodeTask, SplitResult, encode_shard
from stages.tokenizer.hf_files import write_hf_files
from stages.tokenizer.params import TokenizerParams
from stages.tokenizer.report import build_report, merge_splits, report_markdown
from stages.tokenizer.selection import is_validation, skip_reason


class FitCorpus:
    """Train-split texts for fitting, streamed shard by shard, up to `fit_max_chars`."""

    def __init__(self, shards: list[Shard], params: TokenizerParams):
        self.shards, self.params = shards, params
        self.documents = 0
        self.chars = 0
        self.skipped: Counter = Counter()

    def __iter__(self) -> Iterator[str]:
        specials = self.params.special_tokens.tokens()
        for shard in self.shards:
            table = read_shard(shard, columns=["id", "text"])
            for doc_id, text in zip(table.column("id").to_pylist(), table.column("text").to_pylist()):
                reason = skip_reason(text, specials)
                if reason:
                    self.skipped[reason] += 1
                    continue
                if is_validation(doc_id, self.params.validation_fraction, self.params.split_salt):
                    continue
                if self.chars + len(text) > self.params.fit_max_chars and self.documents:
                    return
                self.documents += 1
                self.chars += len(text)
                yield text


def run(ctx: StageContext) -> None:
    """Fit a byte-level BPE, encode train and validation token shards, write a report."""
    params: TokenizerParams = ctx.params
    start = time.perf_counter()
    shards, total_docs = _read_shards(params, ctx.log)
    corpus = FitCorpus(shards, params)
    tokenizer = _fit(corpus, params, total_docs)
    fit_seconds = time.perf_counter() - start
    vocab = tokenizer.get_vocab_size()
    if vocab < params.vocab_size:
        ctx.log.warning("tokenizer: the corpus supports only %d of the %d requested tokens", vocab, params.vocab_size)
    ctx.log.info(
        "tokenizer: fitted %d tokens on %d documents (%.1f M chars) in %.1f s",
        vocab,
        corpus.documents,
        corpus.chars / 1e6,
        fit_seconds,
    )

    with atomic_dir(params.out) as out_dir, atomic_dir(params.tokens) as tokens_dir:
        tokenizer_path = Path(out_dir).resolve() / TOKENIZER_FILE
        tokenizer.save(str(tokenizer_path))
        write_hf_files(out_dir, params.special_tokens)
        encoded = encode(
            ctx,
            shards,
            tokenizer_path,
            Path(tokens_dir).resolve(),
            tokenizer.token_to_id(params.special_tokens.eos),
            vocab,
        )
        report = build_report(
            tokenizer,
            encoded.merged["train"],
            encoded.merged["validation"],
            len(params.special_tokens.tokens()),
            params.longest_tokens,
        )
        write_json(Path(out_dir) / "report.json", report)
        write_text(Path(out_dir) / "report.md", report_markdown(report))

    ctx.metrics.update(_metrics(params, total_docs, corpus, fit_seconds, encoded, vocab, report))
    merged, skipped = encoded.merged, encoded.skipped()
    ctx.log.info(
        "tokenizer: %d train / %d validation tokens; %s bytes per validation token; encode %.1f MB/s; %d skipped",
        merged["train"].tokens,
        merged["validation"].tokens,
        report["validation"]["bytes_per_token"],
        ctx.metrics["encode"]["mb_per_s"] or 0,
        sum(skipped.values()),
    )


def _read_shards(params: TokenizerParams, log: logging.Logger) -> tuple[list[Shard], int]:
    """(the deduplicated documents' shards, how many documents they hold): at least one."""
    shards = list_shards(params.input, params.docs_per_shard)
    total_docs = sum(s.rows for s in shards)
    if total_docs == 0:
        raise StageInputError(f"tokenizer: no documents in {params.input}: nothing to fit a tokenizer on")
    log.info("tokenizer: %d documents in %d shards", total_docs, len(shards))
    return shards, total_docs


def _fit(corpus: FitCorpus, params: TokenizerParams, total_docs: int) -> Tokenizer:
    """The BPE fitted on the corpus; an error when no document of it was usable."""
    tokenizer = fit(corpus, params, length=total_docs)
    if corpus.documents == 0:
        reasons = ", ".join(f"{n} {why}" for why, n in corpus.skipped.items()) or "all in the validation split"
        raise StageInputError(
            f"tokenizer: no usable training text in {params.input} ({total_docs} documents: {reasons})"
        )
    return tokenizer


@dataclass
class Encoded:
    results: list[EncodeResult]  # per input shard, in order
    merged: dict[str, SplitResult]  # per split, over every shard
    seconds: float

    def skipped(self) -> Counter:
        skipped: Counter = Counter()
        for r in self.results:
            skipped.update(r.skipped)
        return skipped


def encode(
    ctx: StageContext, shards: list[Shard], tokenizer_path: Path, tokens_dir: Path, eos_id: int, vocab: int
) -> Encoded:
    """Every shard's documents as tokens, one part per shard in each split's directory (on the
    executor), and each split's manifest."""
    params: TokenizerParams = ctx.params
    split_dirs = {split: tokens_dir / split for split in SPLITS}
    for directory in split_dirs.values():
        directory.mkdir()
    tasks = [
        EncodeTask(
            shard=s,
            tokenizer_path=str(tokenizer_path),
            out_dirs={k: str(v) for k, v in split_dirs.items()},
            specials=tuple(params.special_tokens.tokens()),
            eos_id=eos_id,
            validation_fraction=params.validation_fraction,
            split_salt=params.split_salt,
            batch_docs=params.encode_batch_docs,
            single_threaded=ctx.executor.workers > 1 or bool(ctx.executor.dask_address),
        )
        for s in shards
    ]
    mark = time.perf_counter()
    results = map_shards(encode_shard, tasks, ctx.executor, "tokenizer encode")
    encode_seconds = time.perf_counter() - mark

    sha = file_sha256(tokenizer_path)
    for split, directory in split_dirs.items():
        SplitManifest(
            dtype=token_dtype(vocab).name,
            vocab_size=vocab,
            eos_id=eos_id,
            tokenizer_sha256=sha,
            shards=tuple(
                {"index": r.index, "tokens": r.splits[split].stored_tokens, "documents": r.splits[split].documents}
                for r in results
            ),
            params=ctx.params_dict(),
        ).write(directory)
    return Encoded(results, {split: merge_splits(results, split, vocab) for split in SPLITS}, encode_seconds)


def _metrics(
    params: TokenizerParams,
    total_docs: int,
    corpus: FitCorpus,
    fit_seconds: float,
    encoded: Encoded,
    vocab: int,
    report: dict[str, Any],
) -> dict[str, Any]:
    merged, encode_seconds = encoded.merged, encoded.seconds
    encoded_bytes = sum(merged[s].utf8_bytes for s in SPLITS)
    encoded_tokens = sum(merged[s].tokens for s in SPLITS)
    return {
        "documents_in": total_docs,
        "documents_out": {s: merged[s].documents for s in SPLITS},
        "tokens": {s: merged[s].tokens for s in SPLITS},
        "skipped": dict(sorted(encoded.skipped().items())),
        "vocab_size_requested": params.vocab_size,
        "vocab_size": vocab,
        "dtype": token_dtype(vocab).name,
        "fit": {"documents": corpus.documents, "chars": corpus.chars, "seconds": round(fit_seconds, 3)},
        "encode": {
            "seconds": round(encode_seconds, 3),
            "mb_per_s": round(encoded_bytes / 1e6 / encode_seconds, 3) if encode_seconds else None,
            "tokens_per_s": round(encoded_tokens / encode_seconds) if encode_seconds else None,
        },
        "validation": report["validation"],
        "vocabulary_use": report["vocabulary_use"],
    }
