"""The common instruction-data formats, one row at a time, into conversations of {role, content}.

- alpaca:   {"instruction", "input" (optional), "output"}
- dolly:    {"instruction", "context" (optional), "response"}   (databricks-dolly-15k)
- openai:   {"messages": [{"role": system|user|assistant, "content"}]}
- sharegpt: {"conversations": [{"from": system|human|gpt, "value"}]}

Alpaca's input and Dolly's context follow the instruction after a blank line, as in the formats'
own prompts. Other keys (Dolly's category, ShareGPT's id) are ignored. A row that cannot become a
usable conversation raises RowError with one reason of SKIP_REASONS.
"""

from __future__ import annotations

from typing import Any, Callable

from crisol.chat.template import ROLES
from crisol.formats.row_files import READ_REASONS, RowError

FORMATS = ("alpaca", "dolly", "openai", "sharegpt")
SKIP_REASONS = (
    *READ_REASONS,  # bad_json, too_large, too_deep: crisol/formats/row_files.py
    "not_object",  # a row that is not a JSON object
    "missing_field",  # a required field is absent or null
    "wrong_type",  # a field of the wrong type (content not a string, messages not a list, ...)
    "unknown_role",  # a role outside system/user/assistant (or human/gpt/system for ShareGPT)
    "empty_prompt",  # an instruction or user turn that is empty or only whitespace
    "empty_assistant",  # an assistant turn that is empty or only whitespace
    "no_assistant",  # a conversation without an assistant turn
    "bad_order",  # a system turn after the start, or a conversation not ending with the assistant
    "over_length",  # longer than max_tokens after templating
)
SHAREGPT_ROLES = {"system": "system", "human": "user", "gpt": "assistant"}
# The keys that identify each format when it is detected from a row.
SIGNATURES = {
    "openai": ("messages",),
    "sharegpt": ("conversations",),
    "alpaca": ("instruction", "output"),
    "dolly": ("instruction", "response"),
}

Conversation = list[dict[str, str]]


def detect(row: Any) -> str | None:
    """The format whose identifying keys the row has, or None."""
    if not isinstance(row, dict):
        return None
    for fmt, keys in SIGNATURES.items():
        if all(k in row for k in keys):
            return fmt
    return None


def _text(row: dict, key: str, required: bool = True) -> str:
    value = row.get(key)
    if value is None:
        if required:
            raise RowError("missing_field", f"no {key!r}")
        return ""
    if not isinstance(value, str):
        raise RowError("wrong_type", f"{key!r} is {type(value).__name__}, not a string")
    return value


def _instruction_pair(row: dict, extra_key: str, answer_key: str) -> Conversation:
    instruction = _text(row, "instruction")
    extra = _text(row, extra_key, required=False)
    answer = _text(row, answer_key)
    if not instruction.strip():
        raise RowError("empty_prompt", "the instruction is empty")
    prompt = f"{instruction}\n\n{extra}" if extra.strip() else instruction
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]


def _turns(row: dict, list_key: str, role_key: str, content_key: str, roles: dict[str, str]) -> Conversation:
    items = row.get(list_key)
    if items is None:
        raise RowError("missing_field", f"no {list_key!r}")
    if not isinstance(items, list):
        raise RowError("wrong_type", f"{list_key!r} is {type(items).__name__}, not a list")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise RowError("wrong_type", f"{list_key}[{i}] is {type(item).__name__}, not an object")
        role = _text(item, role_key)
        if role not in roles:
            raise RowError("unknown_role", f"{list_key}[{i}].{role_key} is {role!r}")
        out.append({"role": roles[role], "content": _text(item, content_key)})
    return out


def check_conversation(conversation: Conversation) -> Conversation:
    """What every format must satisfy once it is a list of turns."""
    if not any(m["role"] == "assistant" for m in conversation):
        raise RowError("no_assistant", "no assistant turn")
    for i, message in enumerate(conversation):
        if message["role"] == "system" and i > 0:
            raise RowError("bad_order", f"a system turn at position {i}")
        if not message["content"].strip():
            if message["role"] == "assistant":
                raise RowError("empty_assistant", f"assistant turn {i} is empty")
            if message["role"] == "user":
                raise RowError("empty_prompt", f"user turn {i} is empty")
    if conversation[-1]["role"] != "assistant":
        raise RowError("bad_order", "the conversation does not end with an assistant turn")
    return conversation


CONVERTERS: dict[str, Callable[[dict], Conversation]] = {
    "alpaca": lambda row: _instruction_pair(row, "input", "output"),
    "dolly": lambda row: _instruction_pair(row, "context", "response"),
    "openai": lambda row: _turns(row, "messages", "role", "content", {r: r for r in ROLES}),
    "sharegpt": lambda row: _turns(row, "conversations", "from", "value", SHAREGPT_ROLES),
}


def to_conversation(row: Any, fmt: str) -> Conversation:
    """The row as a checked conversation, or RowError."""
    if not isinstance(row, dict):
        raise RowError("not_object", f"a {type(row).__name__}, not an object")
    return check_conversation(CONVERTERS[fmt](row))
