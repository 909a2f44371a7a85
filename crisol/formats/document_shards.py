"""Input documents as shards for sharded stages (dedup, tokenizer): runs of Parquet row groups of at
most `docs_per_shard` rows.

Only metadata is read here; each shard's worker reads its own rows. A shard knows its global
offset, so every document has a global index (its position in file order, then row order) and
the output is the same whatever ran the shards.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from crisol.core.errors import StageInputError
from crisol.formats.artifacts import META_SCHEMA, META_VERSION, not_an_artifact
from crisol.formats.schemas import DOCUMENTS


@dataclass(frozen=True)
class Shard:
    index: int
    path: str  # absolute path of the Parquet file
    row_groups: tuple[int, ...]
    offset: int  # global index of the shard's first document
    rows: int


def _parquet_files(source: Path) -> list[Path]:
    if not source.exists():
        raise StageInputError(f"input not found: {source}")
    return sorted(source.glob("*.parquet")) if source.is_dir() else [source]


def _check_documents(path: Path, parquet: pq.ParquetFile) -> None:
    meta = parquet.schema_arrow.metadata or {}
    found = meta.get(META_SCHEMA, b"?").decode()
    if found != DOCUMENTS.name:
        raise StageInputError(not_an_artifact(path, DOCUMENTS.name, found))
    if int(meta.get(META_VERSION, b"0")) > DOCUMENTS.version:
        raise StageInputError(f"{path}: documents schema version is newer than this code's {DOCUMENTS.version}")


def list_shards(source: Path, docs_per_shard: int) -> list[Shard]:
    shards: list[Shard] = []
    offset = 0
    for path in _parquet_files(Path(source)):
        try:
            parquet = pq.ParquetFile(path)
        except Exception as exc:  # truncated or not Parquet at all
            raise StageInputError(f"{path}: unreadable Parquet ({type(exc).__name__}: {exc})") from None
        _check_documents(path, parquet)
        group: list[int] = []
        rows = 0
        for i in range(parquet.metadata.num_row_groups):
            n = parquet.metadata.row_group(i).num_rows
            if group and rows + n > docs_per_shard:
                shards.append(Shard(len(shards), str(path.resolve()), tuple(group), offset, rows))
                offset += rows
                group, rows = [], 0
            group.append(i)
            rows += n
        if rows:
            shards.append(Shard(len(shards), str(path.resolve()), tuple(group), offset, rows))
            offset += rows
    return shards


def read_shard(shard: Shard, columns: list[str] | None = None):
    """The shard's rows as an Arrow table (all DOCUMENTS columns unless `columns` is given)."""
    return pq.ParquetFile(shard.path).read_row_groups(list(shard.row_groups), columns=columns)
