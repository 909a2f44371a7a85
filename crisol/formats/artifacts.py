"""Arrow/Parquet artifact IO: every artifact carries its schema name, version and the params
that made it, as Parquet key-value metadata (readable by any Arrow tool)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from crisol.core.atomic import atomic_file
from crisol.core.errors import StageInputError
from crisol.formats.schemas import ArtifactSchema

META_SCHEMA = b"crisol.schema"
META_VERSION = b"crisol.schema_version"
META_PARAMS = b"crisol.params"


def part_name(index: int) -> str:
    """File name of shard `index`'s part of a directory artifact. Named by shard index, so the
    output is the same whatever ran the shards, in whatever order."""
    return f"part-{index:05d}.parquet"


def with_provenance(schema: ArtifactSchema, params: dict[str, Any] | None) -> pa.Schema:
    meta = {
        META_SCHEMA: schema.name.encode(),
        META_VERSION: str(schema.version).encode(),
        META_PARAMS: json.dumps(params or {}, sort_keys=True, default=str).encode(),
    }
    return schema.arrow.with_metadata(meta)


def write_parquet(
    target: Path | str, schema: ArtifactSchema, rows: pa.Table | Iterable[dict], params: dict[str, Any] | None = None
) -> int:
    """Write rows (a Table or dicts) as zstd Parquet with provenance; atomically. Returns rows."""
    arrow_schema = with_provenance(schema, params)
    if isinstance(rows, pa.Table):
        table = rows.select(arrow_schema.names).cast(arrow_schema)
    else:
        table = pa.Table.from_pylist(list(rows), schema=arrow_schema)
    with atomic_file(target) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return table.num_rows


def not_an_artifact(path: Path | str, expected: str, found: str) -> str:
    """The one-line error for a file that is not the stage's artifact, with the way in for plain
    data (a user's Parquet of documents is an input of ingest, not of the stages after it)."""
    what = "a plain Parquet file" if found == "?" else f"a '{found}' artifact"
    hint = (
        ("; plain documents (a 'text' column) go in through ingest: own.root/text/ with source own, or ingest.inputs")
        if expected == "documents"
        else ""
    )
    return f"{path}: expected a '{expected}' artifact, found {what}{hint}"


def read_parquet(source: Path | str, schema: ArtifactSchema) -> pa.Table:
    """Read a file or a directory of parts, checking it is the artifact we expect."""
    source = Path(source)
    if not source.exists():
        raise StageInputError(f"input not found: {source}")
    files = sorted(source.glob("*.parquet")) if source.is_dir() else [source]
    if not files:
        return schema.arrow.empty_table()
    tables = []
    for path in files:
        meta = pq.read_schema(path).metadata or {}
        found = meta.get(META_SCHEMA, b"?").decode()
        if found != schema.name:
            raise StageInputError(not_an_artifact(path, schema.name, found))
        version = int(meta.get(META_VERSION, b"0"))
        if version > schema.version:
            raise StageInputError(f"{path}: schema version {version} is newer than this code's {schema.version}")
        tables.append(pq.read_table(path))
    return pa.concat_tables(tables, promote_options="default")
