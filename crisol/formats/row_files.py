"""Rows of user-given files (JSONL, a JSON array, Parquet), numbered, with bad rows as values.

Every stage that reads user data (SFT instructions, reward preferences) takes the same files the
same way, so a user learns one set of rules: a path is a file or a directory of such files; rows
are numbered from 1 (a JSONL file's line numbers, blank lines included, so `file:row` points at
the line in an editor); a JSONL line that does not parse is a RowError("bad_json") in the row's
place, to be skipped and counted like any other bad row, while a file that is unusable as a whole
(missing, unknown type, not Parquet, not a JSON array, broken gzip) is a StageInputError. JSONL
and JSON files may be gzip-compressed (`.jsonl.gz`, `.json.gz`: how datasets are shipped). What a
row means is the caller's business: each stage has its formats and its own skip reasons.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterator

import pyarrow.parquet as pq

from crisol.core.errors import StageInputError

SUFFIXES = (".jsonl", ".json", ".parquet", ".jsonl.gz", ".json.gz")
DETECT_ROWS = 100  # rows looked at to detect a file's format
GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)  # not gzip, truncated, corrupt


def file_type(path: Path) -> str | None:
    """How a file is read: ".jsonl", ".json" or ".parquet" (a gzip-compressed file by what it holds), or None."""
    name = path.name
    return next((s.removesuffix(".gz") for s in SUFFIXES if name.endswith(s)), None)


def _open(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")


class RowError(ValueError):
    """One row that cannot be used, with the reason it is counted under (the caller's skip reasons)."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def input_files(inputs: list[Path | str], label: str = "user data") -> list[Path]:
    """The files to read: each input as given, or a directory's files of the known types, sorted.
    `label` starts every error message, so the user knows which params entry is wrong."""
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if file_type(p) and p.is_file())
            if not found:
                raise StageInputError(f"{label}: {item} holds no {', '.join(SUFFIXES)} files")
            files.extend(found)
        elif item.is_file():
            if file_type(item) is None:
                raise StageInputError(f"{label}: {item}: unknown file type (expected {', '.join(SUFFIXES)})")
            files.append(item)
        else:
            raise StageInputError(f"{label}: input not found: {item}")
    return files


def read_rows(path: Path, label: str = "user data") -> Iterator[tuple[int, Any]]:
    """(row number, row), where a row that cannot be parsed is a RowError("bad_json") instead."""
    try:
        yield from _rows(path, label)
    except GZIP_ERRORS as exc:
        raise StageInputError(f"{label}: {path}: not a readable gzip file ({exc})") from None


def _rows(path: Path, label: str) -> Iterator[tuple[int, Any]]:
    kind = file_type(path)
    if kind == ".parquet":
        try:
            parquet = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
            raise StageInputError(f"{label}: {path}: not a Parquet file ({exc})") from None
        number = 0
        for batch in parquet.iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                number += 1
                yield number, row
    elif kind == ".json":
        with _open(path) as raw:
            data = raw.read()
        try:
            rows = json.loads(data.decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StageInputError(f"{label}: {path}: not valid JSON ({exc})") from None
        if not isinstance(rows, list):
            raise StageInputError(f"{label}: {path}: a .json file must hold an array of rows")
        yield from enumerate(rows, start=1)
    else:
        with _open(path) as lines:
            for number, raw in enumerate(lines, start=1):
                if not raw.strip():
                    continue
                try:
                    yield number, json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    yield number, RowError("bad_json", "not UTF-8")
                except json.JSONDecodeError as exc:
                    yield number, RowError("bad_json", str(exc))


def first_signature(
    path: Path, detect: Callable[[Any], str | None], label: str = "user data", rows: int = DETECT_ROWS
) -> str | None:
    """The first format `detect` recognises among the file's first `rows` rows, or None (the
    caller raises its own error, naming the keys its formats expect)."""
    for i, (_, row) in enumerate(read_rows(path, label)):
        if i >= rows:
            break
        fmt = detect(row)
        if fmt is not None:
            return fmt
    return None


def detected_format(path: Path, detect: Callable[[Any], str | None], label: str, expected: str) -> str:
    """`first_signature`, or a one-line error naming the keys the caller's formats expect."""
    fmt = first_signature(path, detect, label)
    if fmt is None:
        raise StageInputError(
            f"{label}: {path}: cannot tell the format from its first {DETECT_ROWS} rows (expected {expected})"
        )
    return fmt


@dataclass
class RowLedger:
    """What reading user rows came to: rows seen, formats used, and rows skipped by reason with a
    few `file:row` locations each. `reasons` is the reader's closed list: a reason outside it is
    a bug (a typo would vanish from the summary), so it raises."""

    reasons: tuple[str, ...]
    rows: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> rows
    where: dict[str, list[str]] = field(default_factory=dict)  # reason -> a few "file:row"
    formats: dict[str, str] = field(default_factory=dict)  # file -> format used

    def skip(self, reason: str, location: str, keep: int) -> None:
        if reason not in self.reasons:
            raise ValueError(f"unknown skip reason {reason!r}")
        self.skipped[reason] += 1
        kept = self.where.setdefault(reason, [])
        if len(kept) < keep:
            kept.append(location)

    def summary(self, kept: int) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "kept": kept,
            "formats": self.formats,
            "skipped": {r: self.skipped[r] for r in self.reasons if self.skipped[r]},
            "skipped_at": {r: v for r, v in self.where.items() if v},
        }


def convert_rows(
    inputs: list[Path | str],
    file_format: str,
    detect_format: Callable[[Path], str],
    convert: Callable[[Any, str], Any],
    ledger: RowLedger,
    keep: int,
    label: str = "user data",
    noun: str = "row",
) -> Iterator[tuple[Path, int, Any]]:
    """Every row of every input file through `convert(row, format)`, as (path, row number, result).

    The format of each file is `file_format`, or `detect_format(path)` when it is "auto". A row
    that is a RowError, or whose conversion raises one, is counted in `ledger` (with up to `keep`
    locations per reason) and skipped. When files were given and nothing converted, the input is
    wrong as a whole: a StageInputError names the counts ("no usable <noun> in N rows ...").
    """
    files = input_files(inputs, label)
    converted = 0
    for path in files:
        fmt = detect_format(path) if file_format == "auto" else file_format
        ledger.formats[str(path)] = fmt
        for number, row in read_rows(path, label):
            ledger.rows += 1
            try:
                if isinstance(row, RowError):
                    raise row
                result = convert(row, fmt)
            except RowError as exc:
                ledger.skip(exc.reason, f"{path}:{number}", keep)
                continue
            converted += 1
            yield path, number, result
    if files and not converted:
        reasons = ", ".join(f"{r} {n}" for r, n in ledger.skipped.most_common()) or "no rows"
        raise StageInputError(f"{label}: no usable {noun} in {ledger.rows} rows of {len(files)} file(s) ({reasons})")
