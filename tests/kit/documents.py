"""Documents Parquet written directly, as ingest and dedup write it, for the tests of the stages
that read documents (dedup, tokenizer)."""

from __future__ import annotations

from pathlib import Path

from crisol.formats.artifacts import part_name
from crisol.formats.row_writer import RowWriter
from crisol.formats.schemas import DOCUMENTS


def document(doc_id: str, text: str, url: str | None = None) -> dict:
    return {
        "id": doc_id,
        "url": url or f"http://example.test/{doc_id}",
        "text": text,
        "n_words": len(text.split()),
        "lang": "en",
    }


def write_documents(directory: Path, documents: list[dict], files: int = 1, row_group: int = 2000) -> Path:
    """DOCUMENTS parts, like ingest writes them: the rows spread over `files` files, in row groups
    of `row_group` rows (the unit the stage shards by)."""
    directory.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        with RowWriter(directory / part_name(f), DOCUMENTS, batch_rows=row_group) as out:
            for row in documents[f::files]:
                out.write(row)
    return directory
