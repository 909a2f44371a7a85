"""Puts the chat template into a transformers tokenizer directory (the layout that
stages/tokenizer/hf_files.py writes), so that `AutoTokenizer.from_pretrained(dir)` followed by
`apply_chat_template` reproduces ChatTemplate's ids token for token."""

from __future__ import annotations

import json
from pathlib import Path

from stages.chat.template import ChatTokens, jinja_template
from stages.common.atomic import write_json
from stages.common.errors import StageInputError

CONFIG_FILE = "tokenizer_config.json"


def add_chat_template(directory: Path | str, tokens: ChatTokens = ChatTokens()) -> None:
    """Set `chat_template` in the directory's tokenizer_config.json (written atomically)."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise StageInputError(f"{path}: not found (write the tokenizer's transformers files first)")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise StageInputError(f"{path}: not valid JSON ({exc})") from None
    write_json(path, {**config, "chat_template": jinja_template(tokens)})
