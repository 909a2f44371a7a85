"""Turn rules for a user's conversations, shared by every reader of them (the reward stage's
preference pairs, PPO's prompts): a row's turns become {role, content} messages, or a RowError with
one reason (missing_field, wrong_type, unknown_role, empty_prompt, bad_order).

A prompt is the conversation before an answer: system (first only), user and assistant turns,
ending with a user turn.
"""

from __future__ import annotations

from crisol.chat.template import ROLES
from crisol.formats.row_files import RowError

Messages = list[dict[str, str]]


def text_field(row: dict, key: str, where: str = "") -> str:
    """row[key] as a string; absent or null is missing_field, another type wrong_type."""
    value = row.get(key)
    if value is None:
        raise RowError("missing_field", f"no {where}{key!r}")
    if not isinstance(value, str):
        raise RowError("wrong_type", f"{where}{key!r} is {type(value).__name__}, not a string")
    return value


def checked_messages(items: list, key: str) -> Messages:
    """A list of {role, content} objects as messages; the first bad item raises its reason."""
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise RowError("wrong_type", f"{key}[{i}] is {type(item).__name__}, not an object")
        role = text_field(item, "role", f"{key}[{i}].")
        if role not in ROLES:
            raise RowError("unknown_role", f"{key}[{i}].role is {role!r}")
        out.append({"role": role, "content": text_field(item, "content", f"{key}[{i}].")})
    return out


def check_prompt(prompt: Messages) -> Messages:
    """What every format's prompt must satisfy once it is a list of turns."""
    if not prompt:
        raise RowError("empty_prompt", "the prompt has no turn")
    for i, message in enumerate(prompt):
        if message["role"] == "system" and i > 0:
            raise RowError("bad_order", f"a system turn at position {i}")
        if message["role"] != "system" and not message["content"].strip():
            raise RowError("empty_prompt", f"{message['role']} turn {i} of the prompt is empty")
    if prompt[-1]["role"] != "user":
        raise RowError("bad_order", f"the prompt ends with a {prompt[-1]['role']} turn, not a user turn")
    return prompt


def pair_prompt(row: dict) -> Messages:
    """The `prompt` field of a row: a string (one user turn) or a list of messages."""
    value = row.get("prompt")
    if isinstance(value, list):
        return check_prompt(checked_messages(value, "prompt"))
    return check_prompt([{"role": "user", "content": text_field(row, "prompt")}])
