"""Held-out prompts for RLHF vs SFT (source: own): the very prompts PPO held out and never trained
on, as it wrote them (<ppo.out>/heldout_prompts.jsonl: id, kind, messages, answer, source; already
cut to the policy's context). Reading PPO's own list, rather than splitting the user's prompts a
second time here, is what guarantees that no prompt scored here was trained on.
"""

from __future__ import annotations

import json
from pathlib import Path

from crisol.core.errors import StageInputError
from crisol.core.hashsplit import VALIDATION
from crisol.formats.conversations import Example

HELDOUT_PROMPTS = "heldout_prompts.jsonl"


def read_heldout_prompts(rlhf: Path) -> list[Example] | None:
    """PPO's held-out prompts as examples whose last (empty) assistant turn is the reply to
    generate, or None when the PPO output has no such file."""
    path = Path(rlhf) / HELDOUT_PROMPTS
    if not path.is_file():
        return None
    prompts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            row = json.loads(line)
            messages = [{"role": str(m["role"]), "content": str(m["content"])} for m in row["messages"]]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise StageInputError(f"evaluate: {path}:{number}: not a held-out prompt row ({exc})") from None
        if not messages or messages[-1]["role"] != "user":
            raise StageInputError(f"evaluate: {path}:{number}: the prompt does not end with a user turn")
        prompts.append(
            Example(
                str(row.get("id", f"prompt:{number}")),
                str(row.get("kind", "user")),
                VALIDATION,
                [*messages, {"role": "assistant", "content": ""}],
                "",
                source=row.get("source"),
            )
        )
    return prompts
