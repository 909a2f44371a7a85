"""A user's evaluation files (own.root/eval/, source: own), sorted by what they hold.

    *.txt                              held-out text: ONE DOCUMENT PER FILE (the whole file)
    *.jsonl, *.jsonl.gz, *.json, *.parquet, by the fields of the file's first recognisable row:
        ctx + endings + label          multiple choice, HellaSwag format (or activity_label + ctx_a
                                       + ctx_b + endings + label, the original layout): hellaswag.py
        question + answers [+ context] question answering (open book when a row has a context): qa_files.py
        text                           held-out text, one document per row

A .txt file is one document (an article, a chapter): its blank lines are paragraph breaks inside
it, not document ends. Bits per byte is corpus-level (summed over documents), so where documents
are cut only changes which tokens are predicted right after an eos; one per file keeps the rule
simple and lets a user split text into files where it really has breaks.

A file of another type is skipped with its reason (reported); a data file whose rows match none of
the layouts is a one-line error naming it and the layouts expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crisol.core.errors import StageInputError
from crisol.core.source import KINDS, DataSource
from crisol.formats.row_files import (
    DETECT_ROWS,
    READ_REASONS,
    SUFFIXES,
    RowError,
    RowLedger,
    convert_rows,
    file_type,
    first_signature,
)
from stages.evaluate.heldout import Document
from stages.evaluate.hellaswag import detect as hellaswag_layout

MULTIPLE_CHOICE, QA, TEXT = "multiple_choice", "qa", "text"
TEXT_SUFFIX = ".txt"
TEXT_SKIP_REASONS = (*READ_REASONS, "not_an_object", "empty_text", "not_utf8")


def row_kind(row: Any) -> str | None:
    """Which of the three kinds a row is, by its fields (None: none of them)."""
    if hellaswag_layout(row) is not None:
        return MULTIPLE_CHOICE
    if not isinstance(row, dict):
        return None
    if "question" in row and "answers" in row:
        return QA
    if "text" in row:
        return TEXT
    return None


@dataclass
class EvalFiles:
    """own.root/eval's files by kind, in sorted order, and those skipped with why."""

    multiple_choice: list[Path] = field(default_factory=list)
    qa: list[Path] = field(default_factory=list)
    text: list[Path] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # file -> why


def _is_text(path: Path) -> bool:
    return path.name.endswith(TEXT_SUFFIX)


def sort_eval_files(source: DataSource) -> EvalFiles:
    out = EvalFiles()
    for path in source.files("eval"):
        if _is_text(path):
            out.text.append(path)
            continue
        if file_type(path) is None:
            out.skipped[str(path)] = f"unknown file type (expected {TEXT_SUFFIX}, {', '.join(SUFFIXES)})"
            continue
        found = first_signature(path, row_kind, label="evaluate")
        if found is None:
            raise StageInputError(
                f"evaluate: {path}: none of its first {DETECT_ROWS} rows is a known layout (expected {KINDS['eval']})"
            )
        getattr(out, found).append(path)
    return out


@dataclass
class HeldOutText(RowLedger):
    """The held-out documents read from the eval files, and the rows skipped by reason."""

    reasons: tuple[str, ...] = TEXT_SKIP_REASONS
    documents: list[Document] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return super().summary(kept=len(self.documents))


def _text_of(row: Any, _: str) -> str:
    if not isinstance(row, dict):
        raise RowError("not_an_object", f"a row is a JSON object, got {type(row).__name__}")
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        raise RowError("empty_text", "text is absent, not a string or blank")
    return text


def read_heldout_text(paths: list[Path], keep: int = 5) -> HeldOutText:
    """Every usable document of the given text files (.txt whole, JSONL/Parquet rows' `text`).
    A file with no usable document at all is a StageInputError (convert_rows')."""
    data = HeldOutText()
    row_files = [p for p in paths if not _is_text(p)]
    for path in filter(_is_text, paths):
        data.rows += 1
        data.formats[str(path)] = "txt"
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            data.skip("not_utf8", str(path), keep)
            continue
        if not text.strip():
            data.skip("empty_text", str(path), keep)
            continue
        data.documents.append(Document(f"eval:{path.name}", text))
    for path, number, text in convert_rows(
        row_files, TEXT, lambda p: TEXT, _text_of, data, keep, label="evaluate: held-out text", noun="document"
    ):
        data.documents.append(Document(f"eval:{path.name}:{number}", text))
    return data
