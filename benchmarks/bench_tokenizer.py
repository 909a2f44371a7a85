"""Tokenizer encoding throughput and compression, on real text from ../shared/data/text.

    .venv/bin/python benchmarks/bench_tokenizer.py [--copies 6] [--workers 2] [--repeats 3]

(a) Encoding throughput, one run, same documents, same fitted 16k tokenizer:
    baseline: `Tokenizer.encode_batch` on every text already in memory, one call, tokenizers' own
              thread pool over all cores (its fastest documented batch path; the ids are not even
              read back), and `encode_batch_fast` (no offsets) beside it;
    stage:    the tokenizer stage's encoding pass (stages.tokenizer.encode on the stage executor):
              read Parquet shards, split by id hash, encode, pack with eos, write Arrow IPC token
              shards and document indexes. Ratio = stage MB/s / baseline MB/s (target >= 0.8).
(b) Characters per token of tokenizers fitted at 4k, 16k and 32k on WikiText-2 validation plus the
    first 90% of tiny Shakespeare, measured on held-out text (WikiText-2 test, Shakespeare's last 10%).
Each timing is the best of --repeats; the machine and its load are printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from crisol.core.executor import map_shards  # noqa: E402
from crisol.core.params import ExecutorParams  # noqa: E402
from crisol.formats.artifacts import part_name  # noqa: E402
from crisol.formats.document_shards import list_shards  # noqa: E402
from crisol.formats.row_writer import RowWriter  # noqa: E402
from crisol.formats.schemas import DOCUMENTS  # noqa: E402
from crisol.formats.tokenizer_file import TOKENIZER_FILE  # noqa: E402
from stages.tokenizer.bpe import fit, for_documents  # noqa: E402
from stages.tokenizer.encode import SPLITS, EncodeTask, encode_shard  # noqa: E402
from stages.tokenizer.params import TokenizerParams  # noqa: E402

TEXT_DIR = ROOT.parent / "shared" / "data" / "text"
DOC_CHARS = 3000  # paragraphs are grouped into documents of about this size


def documents(text: str) -> list[str]:
    docs, current = [], []
    size = 0
    for para in text.split("\n\n"):
        current.append(para)
        size += len(para)
        if size >= DOC_CHARS:
            docs.append("\n\n".join(current))
            current, size = [], 0
    if current:
        docs.append("\n\n".join(current))
    return docs


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def throughput(texts: list[str], work: Path, workers: int, repeats: int) -> None:
    params = TokenizerParams(vocab_size=16384)
    tokenizer = fit(texts, params)
    tokenizer_path = work / TOKENIZER_FILE
    tokenizer.save(str(tokenizer_path))
    in_dir = work / "in"
    in_dir.mkdir()
    with RowWriter(in_dir / part_name(0), DOCUMENTS, batch_rows=params.docs_per_shard) as out:
        for i, text in enumerate(texts):
            out.write({"id": f"doc-{i:07d}", "text": text})
    mb = sum(len(t.encode()) for t in texts) / 1e6
    raw = for_documents(tokenizer)
    tokens = sum(len(e.ids) for e in raw.encode_batch(texts))
    base = best_of(repeats, lambda: raw.encode_batch(texts))
    fast = best_of(repeats, lambda: raw.encode_batch_fast(texts))

    shards = list_shards(in_dir, params.docs_per_shard)
    executor = ExecutorParams(workers=workers)

    def stage_pass() -> None:
        out = work / "tokens"
        shutil.rmtree(out, ignore_errors=True)
        dirs = {split: out / split for split in SPLITS}
        for d in dirs.values():
            d.mkdir(parents=True)
        tasks = [
            EncodeTask(
                shard=s,
                tokenizer_path=str(tokenizer_path),
                out_dirs={k: str(v) for k, v in dirs.items()},
                specials=tuple(params.special_tokens.tokens()),
                eos_id=1,
                validation_fraction=params.validation_fraction,
                split_salt=params.split_salt,
                batch_docs=params.encode_batch_docs,
                single_threaded=workers > 1,
            )
            for s in shards
        ]
        map_shards(encode_shard, tasks, executor, "encode")

    stage = best_of(repeats, stage_pass)
    print(f"(a) encoding {len(texts):,} documents, {mb:.1f} MB, {tokens:,} tokens (16k vocabulary):")
    print(f"    baseline encode_batch      {mb / base:6.2f} MB/s  {tokens / base:12,.0f} tokens/s")
    print(f"    baseline encode_batch_fast {mb / fast:6.2f} MB/s  {tokens / fast:12,.0f} tokens/s")
    print(
        f"    stage ({workers} workers, {len(shards)} shards, Parquet in, Arrow shards out) "
        f"{mb / stage:6.2f} MB/s  {tokens / stage:12,.0f} tokens/s"
    )
    print(
        f"    ratio stage / encode_batch = {base / stage:.2f} (target >= 0.8); "
        f"stage / encode_batch_fast = {fast / stage:.2f}"
    )


def compression() -> None:
    shakespeare = (TEXT_DIR / "tinyshakespeare.txt").read_text()
    cut = int(len(shakespeare) * 0.9)
    train = documents((TEXT_DIR / "wikitext2_valid.txt").read_text()) + documents(shakespeare[:cut])
    held_out = {
        "wikitext2_test": (TEXT_DIR / "wikitext2_test.txt").read_text(),
        "shakespeare_last10%": shakespeare[cut:],
    }
    print("(b) characters per token on held-out text (fitted on WikiText-2 valid + 90% of Shakespeare):")
    print(f"    {'vocabulary':>10}  " + "  ".join(f"{name:>20}" for name in held_out) + "   fit s")
    for vocab in (4096, 16384, 32768):
        start = time.perf_counter()
        tokenizer = for_documents(fit(train, TokenizerParams(vocab_size=vocab)))
        seconds = time.perf_counter() - start
        ratios = [len(text) / len(tokenizer.encode(text).ids) for text in held_out.values()]
        print(f"    {vocab:>10}  " + "  ".join(f"{r:>20.3f}" for r in ratios) + f"   {seconds:5.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=6, help="times the shared text is repeated for (a)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not TEXT_DIR.is_dir():
        sys.exit(f"needs {TEXT_DIR} (../shared/data/text beside the repository)")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}"
    )
    texts = [doc for path in sorted(TEXT_DIR.glob("*.txt")) for doc in documents(path.read_text())] * args.copies
    work = Path(tempfile.mkdtemp(prefix="bench-tokenizer."))
    try:
        throughput(texts, work, args.workers, args.repeats)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    compression()


if __name__ == "__main__":
    main()
