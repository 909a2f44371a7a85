"""User preference data: JSONL, JSON (an array) or Parquet files of preference pairs (TRL's
explicit-prompt rows or Anthropic hh-rlhf transcripts), validated row by row into Preferences
(stages/reward/preference.py, the shape generated pairs share).

Files are read as SFT reads its user data (stages/common/row_files.py): the format is detected per
file from its first row with a known signature (or given); every row that cannot be used is skipped
and counted by reason (stages/reward/preference_formats.py SKIP_REASONS), with a few `file:row`
locations per reason for the report. Input with no usable row at all is an error: it is a wrong
file or a wrong format, not data to train on. A pair goes to validation when the hash of its
content (prompt and both answers) falls under `validation_fraction`: its content decides, so
duplicates stay together and reordering a file moves nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stages.chat.template import ChatTemplate
from stages.common.errors import StageInputError
from stages.common.hashsplit import content_split
from stages.common.row_files import DETECT_ROWS, RowError, RowLedger, convert_rows, first_signature
from stages.reward.params import UserPreferenceParams
from stages.reward.preference import Preference
from stages.reward.preference_formats import FORMATS, SKIP_REASONS, Pair, answered, detect, to_pair

LABEL = "user preferences"            # starts every error message about these inputs


@dataclass
class UserPreferences(RowLedger):
    reasons: tuple[str, ...] = SKIP_REASONS
    pairs: list[Preference] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {**super().summary(kept=len(self.pairs)), "splits": dict(Counter(p.split for p in self.pairs))}


def detect_format(path: Path) -> str:
    fmt = first_signature(path, detect, LABEL)
    if fmt is not None:
        return fmt
    raise StageInputError(f"{LABEL}: {path}: cannot tell the format from its first {DETECT_ROWS} rows "
                          f"(expected keys of {', '.join(FORMATS)}: prompt+chosen+rejected, or chosen+rejected "
                          "transcripts)")


def load_user_preferences(params: UserPreferenceParams, template: ChatTemplate, max_tokens: int) -> UserPreferences:
    """Every usable row of every input file as a preference pair (kind "user"); the rest counted."""

    def pair_of(row: Any, file_format: str) -> Pair:
        pair = to_pair(row, file_format)
        # The reward model reads prompt + one answer at a time: the longer answer sets the length.
        longest = max(len(template.render(answered(pair.prompt, answer))) for answer in (pair.chosen, pair.rejected))
        if longest > max_tokens:
            raise RowError("over_length", f"{longest} tokens, more than {max_tokens}")
        return pair

    data = UserPreferences()
    for path, number, pair in convert_rows(params.inputs, params.format, detect_format, pair_of, data,
                                           params.examples_per_reason, LABEL, noun="pair"):
        key = json.dumps([pair.prompt, pair.chosen, pair.rejected], sort_keys=True, ensure_ascii=False)
        split = content_split(key, params.split_salt, params.validation_fraction)
        data.pairs.append(Preference(f"user:{path.name}:{number}", split, pair.prompt, pair.chosen,
                                     pair.rejected, source=f"{path}:{number}", kind="user"))
    return data
