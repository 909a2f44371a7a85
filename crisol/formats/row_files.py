"""Rows of user-given files (JSONL, a JSON array, Parquet), numbered, with bad rows as values.

Every stage that reads user data (SFT instructions, reward preferences) takes the same files the
same way, so a user learns one set of rules: a path is a file or a directory of such files; rows
are numbered from 1 (a JSONL file's line numbers, blank lines included, so `file:row` points at
the line in an editor); a JSONL line that does not parse is a RowError("bad_json") in the row's
place, to be skipped and counted like any other bad row, and so are a row (a JSONL line, an
element of a JSON array) over MAX_ROW_BYTES, "too_large", and one nested deeper than MAX_DEPTH,
"too_deep": both are found before json parses the row, so a JSON bomb costs neither a
RecursionError nor seconds and gigabytes. A file that is unusable as a whole (missing, unknown
type, not Parquet, not a JSON array, not valid JSON, broken gzip) is a StageInputError. JSONL
and JSON files may be gzip-compressed (`.jsonl.gz`, `.json.gz`: how datasets are shipped). What a
row means is the caller's business: each stage has its formats and its own skip reasons.
"""

from __future__ import annotations

import gzip
import json
import re
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
# A row is a conversation, a preference pair, a prompt or an evaluation document: an hh-rlhf
# transcript is a few KB, a novel as one held-out document 1-3 MB, and 4 MiB is about a million
# tokens, beyond any context trained here. A longer JSONL line is read past in chunks, never whole.
MAX_ROW_BYTES = 4 << 20
# Real rows nest a handful of levels (a row, its message list, a message); json's parser recurses
# once per level and raises RecursionError near 1,000.
MAX_DEPTH = 64
READ_REASONS = (  # the reader's skip reasons: every caller's SKIP_REASONS starts with them
    "bad_json",  # a JSONL line that does not parse
    "too_large",  # a row of more than MAX_ROW_BYTES, skipped unparsed
    "too_deep",  # a row nested deeper than MAX_DEPTH, skipped unparsed
)
# What a scan for nesting looks at: a whole JSON string (so that brackets in text do not count) or
# a run of opening or of closing brackets (a run of a million "[" is one step).
_NESTING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[{]+|[\]}]+', re.DOTALL)
_SPACE = re.compile(r"[ \t\n\r]*")  # JSON's whitespace
_DECODER = json.JSONDecoder()


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
    """(row number, row), where a row that cannot be parsed is a RowError of READ_REASONS instead."""
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
            yield from enumerate(_array_rows(data.decode("utf-8"), path, label), start=1)
        except (ValueError, UnicodeDecodeError) as exc:  # ValueError: json's, or an int of over 4,300 digits
            raise StageInputError(f"{label}: {path}: not valid JSON ({exc})") from None
    else:
        with _open(path) as lines:
            yield from jsonl_rows(lines)


def jsonl_rows(
    stream: IO[bytes], max_bytes: int = MAX_ROW_BYTES, not_utf8: str = "bad_json"
) -> Iterator[tuple[int, Any]]:
    """(line number, row) of a JSONL stream, a row that cannot be used a RowError in its place: a
    line over `max_bytes` ("too_large", read past in chunks), one nested deeper than MAX_DEPTH
    ("too_deep"), one that is not UTF-8 (`not_utf8`: the caller's reason) or not JSON ("bad_json").
    Blank lines are no rows but keep their number, so `#<row>` is the line an editor shows."""
    for number, raw in enumerate(_bounded_lines(stream, max_bytes), start=1):
        if raw is None:
            yield number, _too_large(max_bytes)
        elif raw.strip():
            yield number, _line_row(raw, not_utf8)


def _too_large(limit: int = MAX_ROW_BYTES) -> RowError:
    return RowError("too_large", f"a row of more than {limit} bytes")


def _too_deep() -> RowError:
    return RowError("too_deep", f"nested deeper than {MAX_DEPTH}")


def _bounded_lines(stream: IO[bytes], limit: int) -> Iterator[bytes | None]:
    """Each line of the stream, or None in place of a line over `limit` bytes (read past in chunks)."""
    while line := stream.readline(limit + 1):
        if len(line) <= limit or line.endswith(b"\n"):  # `limit` bytes and the newline fit
            yield line
            continue
        while line and not line.endswith(b"\n"):
            line = stream.readline(1 << 20)
        yield None


def _line_row(raw: bytes, not_utf8: str) -> Any:
    """One JSONL line's row, or a RowError in its place."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return RowError(not_utf8, "not UTF-8")
    # Counting brackets settles almost every line: one with few of them cannot nest deep.
    if text.count("[") + text.count("{") > MAX_DEPTH and _nesting(text, 0, MAX_DEPTH)[1] > MAX_DEPTH:
        return _too_deep()
    try:
        return json.loads(text)
    except ValueError as exc:  # json's JSONDecodeError, or an int of over 4,300 digits
        return RowError("bad_json", str(exc))


def _nesting(text: str, start: int, stop_past: int | None = None) -> tuple[int, int]:
    """(where the array or object from text[start] on ends, how deep it nests), found without
    parsing it (json's parser recurses once per level): the brackets outside strings are counted
    until the first one is closed, or to the end of the text. With `stop_past`, the scan stops as
    soon as the depth exceeds it, the end then unknown (-1): all a JSONL line needs to know."""
    depth = deepest = 0
    for match in _NESTING.finditer(text, start):
        token = match.group()
        if token[0] == '"':
            continue
        depth += len(token) if token[0] in "[{" else -len(token)
        deepest = max(deepest, depth)
        if stop_past is not None and deepest > stop_past:
            return -1, deepest
        if depth <= 0:
            return match.end(), deepest
    return len(text), deepest


def _oversized(text: str, start: int, end: int) -> bool:
    # A character is at most 4 UTF-8 bytes: only a long slice is worth encoding to measure.
    return end - start > MAX_ROW_BYTES // 4 and len(text[start:end].encode("utf-8")) > MAX_ROW_BYTES


def _element(text: str, pos: int) -> tuple[Any, int]:
    """(the JSON value at text[pos], or a RowError in its place; where it ends). An array or object
    is measured before json reads it; a string, number or literal json reads without recursing."""
    if text.startswith(("[", "{"), pos):
        end, depth = _nesting(text, pos)
        if depth > MAX_DEPTH:
            return _too_deep(), end
        if _oversized(text, pos, end):
            return _too_large(), end
    row, end = _DECODER.raw_decode(text, pos)
    return (_too_large() if _oversized(text, pos, end) else row), end


def _array_rows(text: str, path: Path, label: str) -> Iterator[Any]:
    """The elements of a .json file's array, one at a time, each bounded as `_element` does.
    Invalid JSON raises json's own error, at its position in the file."""
    pos = _SPACE.match(text).end()
    if not text.startswith("[", pos):
        _, end = _element(text, pos)  # json's error when it is not JSON at all
        _check_end(text, end)
        raise StageInputError(f"{label}: {path}: a .json file must hold an array of rows")
    pos = _SPACE.match(text, pos + 1).end()
    while not text.startswith("]", pos):
        row, end = _element(text, pos)
        yield row
        pos = _SPACE.match(text, end).end()
        if text.startswith(",", pos):
            pos = _SPACE.match(text, pos + 1).end()
            if text.startswith("]", pos):  # what json says of a trailing comma
                raise json.JSONDecodeError("Expecting value", text, pos)
        elif not text.startswith("]", pos):
            raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
    _check_end(text, pos + 1)


def _check_end(text: str, end: int) -> None:
    """Only whitespace may follow a .json file's value."""
    end = _SPACE.match(text, end).end()
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)


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
