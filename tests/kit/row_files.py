"""Shared by the tests of the two loaders of a user's row files (crisol/formats/row_files.py), SFT's
user data and reward's user preferences: the unusable inputs both must refuse, the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from pydantic import ValidationError

from crisol.core.errors import StageInputError


def check_unusable_inputs_are_errors(
    load: Callable[..., object], folder: Path, *, a_format: str, not_a_format: str, named: str = ""
) -> None:
    """`load(inputs, format=...)` refuses a missing input, a file type no format reads and a damaged
    Parquet file (read as `a_format`) with a StageInputError, the first one's message starting with
    `named`; and a format name that is none of its formats (`not_a_format`) with a ValidationError."""
    with pytest.raises(StageInputError, match=f"{named}input not found"):
        load([folder / "missing.jsonl"])
    (folder / "data.csv").write_text("a,b\n")
    with pytest.raises(StageInputError, match="unknown file type"):
        load([folder / "data.csv"])
    (folder / "broken.parquet").write_text("not parquet")
    with pytest.raises(StageInputError, match="not a Parquet file"):
        load([folder / "broken.parquet"], format=a_format)
    with pytest.raises(ValidationError, match="format"):
        load([folder / "data.csv"], format=not_a_format)
