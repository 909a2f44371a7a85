"""User instruction data: JSONL, JSON (an array) or Parquet files in the common formats, validated
row by row into SFT examples.

The format is detected per file from its first row that has a known signature (or given). Every
row that cannot be used is skipped and counted by reason (stages/sft/user_formats.py
SKIP_REASONS), with a few `file:row` locations per reason for the report; rows are numbered from 1
(a JSONL file's line numbers, blank lines included). Input with no usable row at all is an error:
it is a wrong file or a wrong format, not data to train on. A row's split (train, validation or
test) comes from the hash of its conversation (crisol/core/hashsplit.py content_split): its
content decides, so duplicates stay together and reordering a file moves nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from crisol.chat.template import ChatTemplate
from crisol.core.hashsplit import content_split
from crisol.formats.conversations import Example
from crisol.formats.row_files import RowError, RowLedger, convert_rows, detected_format, input_files
from stages.sft.params import UserDataParams
from stages.sft.user_formats import FORMATS, SKIP_REASONS, detect, to_conversation

USER_KIND = "user"  # Example.kind of every user row (examples.parquet)


@dataclass
class UserData(RowLedger):
    reasons: tuple[str, ...] = SKIP_REASONS
    examples: list[Example] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return super().summary(kept=len(self.examples))


def detect_format(path: Path) -> str:
    return detected_format(
        path,
        detect,
        "user data",
        f"keys of {', '.join(FORMATS)}: instruction+output, instruction+response, messages or conversations",
    )


def load_user_data(
    params: UserDataParams, template: ChatTemplate, max_tokens: int, inputs: Sequence[Path] | None = None
) -> UserData:
    """Every usable row of every input file (`inputs`, params.inputs by default) as an example
    (kind "user"); the rest counted."""

    def conversation_of(row: Any, file_format: str) -> list[dict[str, str]]:
        conversation = to_conversation(row, file_format)
        if not template.fits(conversation, max_tokens):
            raise RowError("over_length", f"more than {max_tokens} tokens")
        return conversation

    data = UserData()
    # Each file once (a file both in own.root and in sft.user.inputs is one file); an id names a
    # file by its name alone unless two files (in different folders) share it: ids are unique.
    files = list(dict.fromkeys(input_files(list(params.inputs if inputs is None else inputs))))
    names = Counter(path.name for path in files)
    for path, number, conversation in convert_rows(
        files, params.format, detect_format, conversation_of, data, params.examples_per_reason
    ):
        key = json.dumps(conversation, sort_keys=True, ensure_ascii=False)
        split = content_split(key, params.split_salt, params.validation_fraction, params.test_fraction)
        name = path.name if names[path.name] == 1 else str(path)
        data.examples.append(
            Example(
                f"user:{name}:{number}",
                USER_KIND,
                split,
                conversation,
                conversation[-1]["content"],
                source=f"{path}:{number}",
            )
        )
    return data
