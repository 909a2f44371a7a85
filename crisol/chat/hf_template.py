"""Puts the chat template into a transformers tokenizer directory (the layout that
stages/tokenizer/hf_files.py writes), so that `AutoTokenizer.from_pretrained(dir)` followed by
`apply_chat_template` reproduces ChatTemplate's ids token for token; and exports a chat model (SFT,
PPO) with that tokenizer directory."""

from __future__ import annotations

import json
from pathlib import Path

from crisol.chat.template import ChatTemplate, ChatTokens, jinja_template
from crisol.core.atomic import write_json
from crisol.core.errors import StageInputError
from crisol.model.hf_export import export_hf
from crisol.model.transformer import Transformer

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


def export_chat_model(
    model: Transformer, directory: Path | str, tokenizer_dir: Path | str, template: ChatTemplate
) -> Path:
    """A chat model in transformers' layout: export_hf with the end of turn as a stop token beside
    eos (generation_config), and the chat template in tokenizer_config.json."""
    export_hf(model, directory, tokenizer_dir=tokenizer_dir, eos_id=template.eos_id, stop_ids=[template.end_id])
    add_chat_template(directory, template.tokens)
    return Path(directory)
