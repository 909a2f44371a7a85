"""Stream rows into one Parquet artifact in batches, so a large shard never sits whole in memory.

Same file as `artifacts.write_parquet` makes (zstd, provenance metadata, atomic rename), written
row group by row group:

    with RowWriter(path, DOCUMENTS, params=ctx.params_dict()) as out:
        for row in rows:
            out.write(row)
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from crisol.core.atomic import atomic_file
from crisol.formats.artifacts import with_provenance
from crisol.formats.schemas import ArtifactSchema


class RowWriter:
    def __init__(
        self, target: Path | str, schema: ArtifactSchema, params: dict[str, Any] | None = None, batch_rows: int = 2000
    ):
        self.target = Path(target)
        self.schema = with_provenance(schema, params)
        self.batch_rows = batch_rows
        self.rows = 0
        self._buffer: list[dict] = []
        self._stack = ExitStack()
        self._writer: pq.ParquetWriter | None = None

    def __enter__(self) -> "RowWriter":
        tmp = self._stack.enter_context(atomic_file(self.target))
        self._writer = pq.ParquetWriter(tmp, self.schema, compression="zstd")
        return self

    def write(self, row: dict) -> None:
        self._buffer.append(row)
        self.rows += 1
        if len(self._buffer) >= self.batch_rows:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            self._writer.write_table(pa.Table.from_pylist(self._buffer, schema=self.schema))
            self._buffer = []

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if exc_type is None:
                self._flush()
        finally:
            self._writer.close()  # a complete file (footer written) before the rename, or none
        return self._stack.__exit__(exc_type, exc, tb)
