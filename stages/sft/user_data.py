"""User instruction data: JSONL, JSON (an array) or Parquet files in the common formats, validated
row by row into SFT examples.

The format is detected per file from its first row that has a known signature (or given). Every
row that cannot be used is skipped and counted by reason (stages/sft/user_formats.py
SKIP_REASONS), with a few `file:row` locations per reason for the report; rows are numbered from 1
(a JSONL file's line numbers, blank lines included). Input with no usable row at all is an error:
it is a wrong file or a wrong format, not data to train on. A row goes to validation when the hash
of its conversation falls under `validation_fraction`: its content decides, so duplicates stay
together and reordering a file moves nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pyarrow.parquet as pq

from stages.chat.template import ChatTemplate
from stages.common.errors import StageInputError
from stages.sft.examples import Example
from stages.sft.params import UserDataParams
from stages.sft.split import TRAIN, VALIDATION, hash_fraction
from stages.sft.user_formats import FORMATS, SKIP_REASONS, RowError, detect, to_conversation

SUFFIXES = (".jsonl", ".json", ".parquet")
DETECT_ROWS = 100                     # rows looked at to detect a file's format


@dataclass
class UserData:
    examples: list[Example] = field(default_factory=list)
    rows: int = 0
    skipped: Counter = field(default_factory=Counter)               # reason -> rows
    where: dict[str, list[str]] = field(default_factory=dict)       # reason -> a few "file:row"
    formats: dict[str, str] = field(default_factory=dict)           # file -> format used

    def skip(self, reason: str, location: str, keep: int) -> None:
        self.skipped[reason] += 1
        kept = self.where.setdefault(reason, [])
        if len(kept) < keep:
            kept.append(location)

    def summary(self) -> dict[str, Any]:
        return {"rows": self.rows, "kept": len(self.examples), "formats": self.formats,
                "skipped": {r: self.skipped[r] for r in SKIP_REASONS if self.skipped[r]},
                "skipped_at": {r: v for r, v in self.where.items() if v}}


def input_files(inputs: list[Path | str]) -> list[Path]:
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.suffix in SUFFIXES and p.is_file())
            if not found:
                raise StageInputError(f"user data: {item} holds no {', '.join(SUFFIXES)} files")
            files.extend(found)
        elif item.is_file():
            if item.suffix not in SUFFIXES:
                raise StageInputError(f"user data: {item}: unknown file type (expected {', '.join(SUFFIXES)})")
            files.append(item)
        else:
            raise StageInputError(f"user data: input not found: {item}")
    return files


def read_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(row number, row), where a row that cannot be parsed is a RowError instead."""
    if path.suffix == ".parquet":
        try:
            parquet = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
            raise StageInputError(f"user data: {path}: not a Parquet file ({exc})") from None
        number = 0
        for batch in parquet.iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                number += 1
                yield number, row
    elif path.suffix == ".json":
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StageInputError(f"user data: {path}: not valid JSON ({exc})") from None
        if not isinstance(rows, list):
            raise StageInputError(f"user data: {path}: a .json file must hold an array of rows")
        yield from enumerate(rows, start=1)
    else:
        with path.open("rb") as lines:
            for number, raw in enumerate(lines, start=1):
                if not raw.strip():
                    continue
                try:
                    yield number, json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    yield number, RowError("bad_json", "not UTF-8")
                except json.JSONDecodeError as exc:
                    yield number, RowError("bad_json", str(exc))


def detect_format(path: Path) -> str:
    for i, (_, row) in enumerate(read_rows(path)):
        if i >= DETECT_ROWS:
            break
        fmt = detect(row)
        if fmt is not None:
            return fmt
    raise StageInputError(f"user data: {path}: cannot tell the format from its first {DETECT_ROWS} rows "
                          f"(expected keys of {', '.join(FORMATS)}: instruction+output, instruction+response, "
                          "messages or conversations)")


def load_user_data(params: UserDataParams, template: ChatTemplate, max_tokens: int) -> UserData:
    """Every usable row of every input file as an example (kind "user"); the rest counted."""
    data = UserData()
    files = input_files(params.inputs)
    for path in files:
        file_format = detect_format(path) if params.format == "auto" else params.format
        data.formats[str(path)] = file_format
        for number, row in read_rows(path):
            data.rows += 1
            location = f"{path}:{number}"
            try:
                if isinstance(row, RowError):
                    raise row
                conversation = to_conversation(row, file_format)
                if len(template.render(conversation)) > max_tokens:
                    raise RowError("over_length", f"more than {max_tokens} tokens")
            except RowError as exc:
                data.skip(exc.reason, location, params.examples_per_reason)
                continue
            key = json.dumps(conversation, sort_keys=True, ensure_ascii=False)
            split = VALIDATION if hash_fraction(key, params.split_salt) < params.validation_fraction else TRAIN
            data.examples.append(Example(f"user:{path.name}:{number}", "user", split, conversation,
                                         conversation[-1]["content"], source=location))
    if files and not data.examples:
        reasons = ", ".join(f"{r} {n}" for r, n in data.skipped.most_common()) or "no rows"
        raise StageInputError(f"user data: no usable row in {data.rows} rows of {len(files)} file(s) ({reasons})")
    return data
