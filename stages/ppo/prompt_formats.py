"""A user's PPO prompt rows, one at a time, into a prompt (messages ending with a user turn), and the
prompt cut to fit the context.

- prompt:   {"prompt": "..."} (one user turn), or {"prompt": [{role, content}, ...]} (TRL's
            conversational prompt), read as the reward stage reads a pair's prompt;
- messages: {"messages": [{role, content}, ...]} (OpenAI style): the prompt is every turn up to and
            including the last user turn (an assistant reply after it is the row's answer, unused).

The format is detected per file from its first row with either key. Other keys are ignored. A row
that cannot become a usable prompt raises RowError with one reason of SKIP_REASONS.

A prompt longer than the context leaves (the model's positions minus max_new_tokens) loses its
earliest turns, whole, until it fits, keeping the last user turn: the request is what the policy
answers and what the reward model judges, the turns before it are context. Only a prompt whose
last user turn alone does not fit is skipped (over_length). Many hh-rlhf conversations exceed a
small model's 64 positions with their earlier turns, and fit without them.
"""

from __future__ import annotations

from typing import Any

from crisol.chat.template import ChatTemplate
from crisol.chat.turns import Messages, check_prompt, checked_messages, pair_prompt  # same turn rules as pairs
from crisol.formats.row_files import READ_REASONS, RowError

FORMATS = ("prompt", "messages")
SKIP_REASONS = (
    *READ_REASONS,  # bad_json, too_large, too_deep: crisol/formats/row_files.py
    "not_object",  # a row that is not a JSON object
    "missing_field",  # no 'prompt' / 'messages', or a turn without role or content
    "wrong_type",  # a field of the wrong type (prompt not a string or list, content not a string, ...)
    "unknown_role",  # a role outside system/user/assistant
    "empty_prompt",  # a user turn that is empty or only whitespace, or no turn at all
    "bad_order",  # a system turn after the start
    "no_user",  # a messages list without any user turn
    "over_length",  # the last user turn alone does not fit the context
    "duplicate",  # the same prompt again (the first one is kept)
)


def detect(row: Any) -> str | None:
    """The format whose key the row has, or None ('messages' first: a chat row may carry both)."""
    if not isinstance(row, dict):
        return None
    return next((fmt for fmt in ("messages", "prompt") if fmt in row), None)


def up_to_last_user(messages: Messages) -> Messages:
    """The conversation up to and including its last user turn: what the policy is asked."""
    last = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=None)
    if last is None:
        raise RowError("no_user", "no user turn")
    return messages[: last + 1]


def to_prompt(row: Any, fmt: str) -> Messages:
    """The row as a checked prompt, or RowError."""
    if not isinstance(row, dict):
        raise RowError("not_object", f"a {type(row).__name__}, not an object")
    if fmt == "prompt":
        return pair_prompt(row)
    items = row.get("messages")
    if items is None:
        raise RowError("missing_field", "no 'messages'")
    if not isinstance(items, list):
        raise RowError("wrong_type", f"'messages' is {type(items).__name__}, not a list")
    return check_prompt(up_to_last_user(checked_messages(items, "messages")))


def fit(prompt: Messages, template: ChatTemplate, budget: int) -> tuple[Messages, list[int], bool]:
    """(the prompt as it fits in `budget` tokens, its generation prompt's token ids, whether turns were
    dropped): whole, or from a later user turn on; RowError over_length when the last user turn
    alone does not fit."""
    starts = [0] + [i for i, m in enumerate(prompt) if i > 0 and m["role"] == "user"]
    for start in starts:
        kept = prompt[start:]
        if template.surely_longer(kept, budget):  # a huge turn: not worth tokenising to know
            continue
        tokens = template.generation_prompt(kept)
        if len(tokens) <= budget:
            return kept, tokens, start > 0
    raise RowError("over_length", f"its last user turn alone is over {budget} tokens")
