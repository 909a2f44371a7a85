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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stages.chat.template import ChatTemplate
from stages.common.errors import StageInputError
from stages.common.hashsplit import TRAIN, VALIDATION, hash_fraction
from stages.common.row_files import DETECT_ROWS, RowError, RowLedger, first_signature, input_files, read_rows
from stages.sft.examples import Example
from stages.sft.params import UserDataParams
from stages.sft.user_formats import FORMATS, SKIP_REASONS, detect, to_conversation


@dataclass
class UserData(RowLedger):
    reasons: tuple[str, ...] = SKIP_REASONS
    examples: list[Example] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return super().summary(kept=len(self.examples))


def detect_format(path: Path) -> str:
    fmt = first_signature(path, detect)
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
