"""Held-out prompts for RLHF vs SFT (source: own): where the alignment figures' prompts come from
when there is no synthetic world.

1. own.root/prompts/: JSONL (or .jsonl.gz, .json, Parquet) rows {"prompt": "..."} or {"messages":
   [...]} (OpenAI layout; a trailing assistant turn is dropped, the rest must end with a user
   turn). Their held-out part: the rows whose content hash (hashsplit.content_split, salt and
   fraction `evaluate.prompts_split_salt` / `prompts_heldout_fraction`) falls in validation. PPO
   must hold out the same rows (same salt and fraction), so that none of them was trained on.
2. Else SFT's examples (examples.parquet): the user rows (kind "user") of the validation and test
   splits, the conversation before their last assistant turn.

Bad rows are skipped and counted by reason (SFT's reasons for user rows, user_formats.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from stages.common.conversations import Example
from stages.common.errors import StageInputError
from stages.common.hashsplit import TEST, VALIDATION, content_split
from stages.common.row_files import RowError, RowLedger, convert_rows, first_signature
from stages.sft.user_formats import CONVERTERS, SKIP_REASONS

USER_KIND = "user"                 # stages/sft/user_data.py: every user row's kind
PROMPT_KIND = "prompt"
HELD_OUT_SPLITS = (VALIDATION, TEST)


def to_prompt(row: Any, _: str) -> list[dict[str, str]]:
    """A row's prompt as messages ending with a user turn, or RowError. The layout is the row's own
    (a file may mix `prompt` and `messages` rows)."""
    if not isinstance(row, dict):
        raise RowError("not_object", f"a {type(row).__name__}, not an object")
    if _layout(row) == "prompt" or "messages" not in row:
        text = row.get("prompt")
        if not isinstance(text, str):
            raise RowError("wrong_type" if text is not None else "missing_field", "'prompt' is not a string")
        messages = [{"role": "user", "content": text}]
    else:
        messages = CONVERTERS["openai"](row)
        while messages and messages[-1]["role"] == "assistant":
            messages = messages[:-1]
    if not messages or messages[-1]["role"] != "user":
        raise RowError("bad_order", "no user turn to answer")
    if not messages[-1]["content"].strip():
        raise RowError("empty_prompt", "the last user turn is empty")
    return messages


def _layout(row: Any) -> str | None:
    if not isinstance(row, dict):
        return None
    return "prompt" if "prompt" in row else "messages" if "messages" in row else None


def detect(path: Path) -> str:
    found = first_signature(path, _layout, label="evaluate")
    if found is None:
        raise StageInputError(f"evaluate: {path}: no row with 'prompt' or 'messages' (a prompts file's layout)")
    return found


@dataclass
class Prompts(RowLedger):
    reasons: tuple[str, ...] = SKIP_REASONS
    held_out: list[Example] = field(default_factory=list)
    trained: int = 0                      # rows in the train part (PPO's)

    def summary(self) -> dict[str, Any]:
        return {**super().summary(kept=len(self.held_out)), "train_part": self.trained}


def read_prompt_files(paths: Sequence[Path], fraction: float, salt: str, keep: int = 5) -> Prompts:
    """The held-out part of the prompts files, as examples whose last (empty) assistant turn is
    the reply to generate."""
    data = Prompts()
    for path, number, messages in convert_rows(list(paths), "auto", detect, to_prompt, data, keep,
                                               label="evaluate: prompts", noun="prompt"):
        key = json.dumps(messages, sort_keys=True, ensure_ascii=False)
        if content_split(key, salt, fraction) != VALIDATION:
            data.trained += 1
            continue
        data.held_out.append(Example(f"prompt:{path.name}:{number}", PROMPT_KIND, VALIDATION,
                                     [*messages, {"role": "assistant", "content": ""}], "",
                                     source=f"{path}:{number}"))
    return data


def sft_heldout_user_rows(examples: Sequence[Example]) -> list[Example]:
    return [e for e in examples if e.kind == USER_KIND and e.split in HELD_OUT_SPLITS]
