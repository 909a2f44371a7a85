"""The `reward` section of params.yaml, so far what the reward stage reads from the user: preference
pairs in files (UserPreferenceParams). Defaults are the `tiny` profile.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from stages.common.params import Section

PreferenceFormat = Literal["auto", "pairs", "hh"]


class UserPreferenceParams(Section):
    """Preference pairs given by the user: JSONL, JSON (an array) or Parquet files or directories of them."""

    inputs: list[Path] = []
    format: PreferenceFormat = "auto"                 # auto: detected per file from its rows
    # A pair is in validation when xxh64(salt, its prompt and answers) falls below this fraction.
    validation_fraction: float = Field(0.05, ge=0.0, lt=1.0)
    split_salt: str = "crisol-reward-user-1"
    examples_per_reason: int = Field(3, ge=0)         # row numbers kept per skip reason
